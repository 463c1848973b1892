#include "metrics/layer_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>

#include "metrics/linear_assignment.h"
#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"
#include "util/error.h"

namespace moeprobe {

const char* matrix_kind_name(MatrixKind m) {
  switch (m) {
    case MatrixKind::Act:
      return "act";
    case MatrixKind::Up:
      return "up";
    case MatrixKind::Down:
      return "down";
  }
  return "?";
}

NeuronAxis neuron_axis(MatrixKind m) {
  return m == MatrixKind::Down ? NeuronAxis::Cols : NeuronAxis::Rows;
}

const TensorView& matrix_of(const ExpertWeights& w, MatrixKind m) {
  return m == MatrixKind::Act ? w.act : m == MatrixKind::Up ? w.up : w.down;
}

Matrix cosine_from_gram(const Matrix& g) {
  Matrix c(g.rows, g.cols);
  for (int64_t a = 0; a < g.rows; ++a)
    for (int64_t b = 0; b < g.cols; ++b)
      c(a, b) =
          g(a, b) / std::max(std::sqrt(std::max(g(a, a), 0.0) * std::max(g(b, b), 0.0)), 1e-8);
  return c;
}

Matrix cosine_of_vectors(const std::vector<std::vector<double>>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  Matrix g(n, n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a; b < n; ++b) {
      double s = 0.0;
      for (std::size_t k = 0; k < v[a].size(); ++k) s += v[a][k] * v[b][k];
      g(a, b) = g(b, a) = s;
    }
  return cosine_from_gram(g);
}

void LayerPlan::add(const Need& n) {
  const int k = static_cast<int>(n.kind);
  switch (n.what) {
    case Intermediate::MatrixStats:
      matrix_stats[k] = true;
      break;
    case Intermediate::StandardizedGram:
      matrix_stats[k] = standardized[k] = true;
      break;
    case Intermediate::RouterCosine:
      router = true;
      break;
    case Intermediate::NeuronMatches:
      matrix_stats[k] = true;  // a match's plain similarity is the matrix-level cosine
      match_pair_limits[k].insert(n.max_pairs);
      break;
    case Intermediate::ReferenceFfn:
      reference = true;
      break;
    case Intermediate::NeuronPca:
      neuron_pca_limits[k].insert(n.max_neurons);
      break;
    case Intermediate::Routing:
      routing = true;
      break;
    case Intermediate::BaselineRouting:
      routing = baseline_routing = true;
      break;
    case Intermediate::ActiveNeurons:
      active_thresholds.insert(n.threshold);
      routing = expert_outputs = true;
      break;
    case Intermediate::ActCorrelation:
      act_correlation = true;
      routing = expert_outputs = true;
      break;
    case Intermediate::ExpertOutputs:
      // The chosen-pair similarities need the selection.
      routing = expert_outputs = true;
      break;
  }
}

bool is_dynamic(Intermediate what) {
  return what == Intermediate::Routing || what == Intermediate::ExpertOutputs ||
         what == Intermediate::ActiveNeurons || what == Intermediate::ActCorrelation ||
         what == Intermediate::BaselineRouting;
}

std::vector<std::pair<int, int>> selected_pairs(int n, long long max_pairs) {
  const auto all = expert_pairs(n);
  if (max_pairs <= 0 || static_cast<std::size_t>(max_pairs) >= all.size()) return all;
  std::vector<std::pair<int, int>> out;
  for (long long k = 0; k < max_pairs; ++k)
    out.push_back(
        all[static_cast<std::size_t>(k * static_cast<long long>(all.size()) / max_pairs)]);
  return out;
}

namespace {

[[noreturn]] void unplanned(const std::string& what) {
  throw std::logic_error("a metric read " + what +
                         ", which no metric's needs() declared for this layer");
}

MatrixStatistics compute_matrix_statistics(const LayerInputs& in, bool with_reference, MatrixKind m,
                                           bool standardized, Backend& backend) {
  std::vector<TensorView> mats;
  for (const auto& e : in.layer->experts) mats.push_back(matrix_of(e, m));
  if (with_reference) mats.push_back(matrix_of(*in.reference_ffn, m));
  // Everything this layer's metrics need from these bytes, in one pass; the standardised Gram
  // (~35% of the pass) only where a metric reads it.
  MatrixSetRequest request;
  request.gram = true;
  request.standardized_gram = standardized;
  request.mean_neuron = true;
  MatrixStatistics s;
  s.stats = backend.matrix_set_stats(mats, neuron_axis(m), request);
  s.cosine = cosine_from_gram(s.stats.gram);
  s.mean_cosine = cosine_of_vectors(s.stats.mean_neuron);
  return s;
}

// A2 for one pair, from the neuron cosines and both experts' neuron norms (computed once per
// expert and kept for the layer's other pairs).
NeuronMatch match_pair(const Matrix& c, const std::vector<double>& na,
                       const std::vector<double>& nb, double similarity) {
  NeuronMatch match;
  match.perm = maximize_assignment(c);
  const int n = static_cast<int>(match.perm.size());
  std::vector<double> ident(n), perm(n);
  for (int i = 0; i < n; ++i) {
    ident[i] = i;
    perm[i] = match.perm[i];
  }
  match.tau = kendall_tau_b(ident, perm);
  // <vec W_a, vec W_b permuted> = sum_i <r_i^a, r_perm(i)^b>, each dot recovered from its cosine
  // and the neuron norms; the permuted matrix has the same norm as W_b.
  double dot = 0.0, sa = 0.0, sb = 0.0;
  for (int i = 0; i < n; ++i) {
    dot += c(i, match.perm[i]) * std::max(na[i] * nb[match.perm[i]], 1e-8);
    sa += na[i] * na[i];
    sb += nb[i] * nb[i];
  }
  match.reordered_similarity = dot / std::max(std::sqrt(sa * sb), 1e-8);
  match.similarity = similarity;
  return match;
}

}  // namespace

namespace {

// Routing and the all-experts evaluation on the layer's probe activations.
void compute_dynamic_statistics(const LayerInputs& in, const LayerPlan& plan, Backend& backend,
                                LayerStatistics& ls) {
  if (!in.activations || !in.probe || !in.router_rule)
    throw std::logic_error("layer " + std::to_string(ls.layer) +
                           ": dynamic statistics planned without probe activations");
  const MoeLayer& layer = *in.layer;
  const TensorView& x = in.activations->x;
  if (x.rank() != 2 || x.dim(1) != layer.hidden())
    throw InputError(
        in.probe->source, x.name,
        "expected [tokens, " + std::to_string(layer.hidden()) + "], got " + x.shape_string());
  ls.probe = in.probe;
  if (plan.routing) ls.routing = route_layer(layer, *in.router_rule, x, backend);
  if (plan.baseline_routing) {
    if (!in.baseline_route)
      throw std::logic_error("baseline routing planned without --compare-model");
    ls.baseline_routing = in.baseline_route(ls.layer, x, backend);
  }
  if (!plan.expert_outputs) return;
  AllExpertsRequest req;
  req.tokens = x;
  for (const ExpertWeights& e : layer.experts)
    req.entities.push_back({{e}, layer.activation_spec, {}});
  req.num_experts = layer.num_experts();
  if (!layer.shared.empty()) {
    req.entities.push_back({layer.shared, layer.activation_spec, layer.shared_gate});
    req.num_shared = 1;
  }
  // F is evaluated on the same inputs; only its hidden size must match the experts'.
  if (in.reference_ffn && in.reference_ffn->hidden() == layer.hidden()) {
    req.entities.push_back({{*in.reference_ffn}, in.reference_activation, {}});
    req.has_reference = true;
  }
  if (ls.routing) {
    req.chosen = ls.routing->selected;
    req.top_k = ls.routing->top_k;
  }
  req.bos_mask = in.probe->bos_mask;
  req.activation_thresholds.assign(plan.active_thresholds.begin(), plan.active_thresholds.end());
  req.act_correlation = plan.act_correlation;
  req.block_bytes = in.all_experts_block_bytes;
  ls.active_thresholds = req.activation_thresholds;
  ls.expert_outputs = backend.all_experts(req);
}

}  // namespace

void compute_dynamic_layer_statistics(const LayerInputs& in, const LayerPlan& plan,
                                      Backend& backend, LayerStatistics& ls) {
  ls.probe = nullptr;
  ls.routing.reset();
  ls.baseline_routing.reset();
  ls.expert_outputs.reset();
  ls.active_thresholds.clear();
  if (plan.dynamic()) compute_dynamic_statistics(in, plan, backend, ls);
}

LayerStatistics compute_layer_statistics(const LayerInputs& in, const LayerPlan& plan,
                                         Backend& backend) {
  if (!in.layer) throw std::logic_error("compute_layer_statistics without a layer");
  LayerStatistics ls;
  ls.layer = in.layer->layer;
  ls.num_experts = in.layer->num_experts();
  if (in.reference_ffn && ls.num_experts > 0) {
    const ExpertWeights& f = *in.reference_ffn;
    const ExpertWeights& e = in.layer->experts[0];
    if (f.act.shape == e.act.shape && f.up.shape == e.up.shape && f.down.shape == e.down.shape)
      ls.has_reference = true;
    else
      ls.reference_problem = "the reference FFN's W_act has shape " + f.act.shape_string() +
                             ", the experts' " + e.act.shape_string() +
                             " (expected identical shapes)";
  }
  if (plan.reference && !ls.has_reference)
    throw InputError("", "--reference-model",
                     "layer " + std::to_string(ls.layer) + ": " +
                         (in.reference_ffn ? ls.reference_problem : "no dense reference FFN"));
  for (int k = 0; k < 3; ++k) {
    const MatrixKind m = static_cast<MatrixKind>(k);
    if (plan.matrix_stats[k])
      ls.matrices[k] =
          compute_matrix_statistics(in, ls.has_reference, m, plan.standardized[k], backend);
    for (long long limit : plan.neuron_pca_limits[k])
      ls.neuron_pca[k].emplace(limit, compute_neuron_pca(in.layer->experts, m, limit));
    std::set<std::pair<int, int>> pairs;
    for (long long limit : plan.match_pair_limits[k])
      for (const auto& p : selected_pairs(ls.num_experts, limit)) pairs.insert(p);
    std::map<int, std::vector<double>> norms;
    auto norms_of = [&](int e) -> const std::vector<double>& {
      auto it = norms.find(e);
      if (it == norms.end())
        it = norms
                 .emplace(
                     e, backend.neuron_norms(matrix_of(in.layer->experts.at(e), m), neuron_axis(m)))
                 .first;
      return it->second;
    };
    for (const auto& [a, b] : pairs) {
      const Matrix c = backend.neuron_cosine(matrix_of(in.layer->experts.at(a), m),
                                             matrix_of(in.layer->experts.at(b), m), neuron_axis(m));
      ls.matches[k].emplace(std::make_pair(a, b),
                            match_pair(c, norms_of(a), norms_of(b), ls.matrices[k]->cosine(a, b)));
    }
  }
  if (plan.router) ls.router_cosine = cosine_from_gram(backend.gram_rows(in.layer->router));
  if (plan.dynamic()) compute_dynamic_statistics(in, plan, backend, ls);
  return ls;
}

const MatrixStatistics& matrix_statistics(const LayerStatistics& ls, MatrixKind m) {
  const auto& slot = ls.matrices[static_cast<int>(m)];
  if (!slot) unplanned(std::string("the matrix statistics of ") + matrix_kind_name(m));
  return *slot;
}

const MatrixStatistics& matrix_statistics_with_reference(const LayerStatistics& ls, MatrixKind m,
                                                         const std::string& metric) {
  if (!ls.has_reference)
    throw InputError("", "--reference-model",
                     "metric " + metric + ", layer " + std::to_string(ls.layer) + ": " +
                         (ls.reference_problem.empty() ? "needs a dense reference model"
                                                       : ls.reference_problem));
  return matrix_statistics(ls, m);
}

const Matrix& router_cosine(const LayerStatistics& ls) {
  if (!ls.router_cosine) unplanned("the router cosines");
  return *ls.router_cosine;
}

const RoutingData& routing(const LayerStatistics& ls) {
  if (!ls.routing) unplanned("the routing data");
  return *ls.routing;
}

const RoutingData& baseline_routing(const LayerStatistics& ls) {
  if (!ls.baseline_routing) unplanned("the baseline's routing");
  return *ls.baseline_routing;
}

const AllExpertsStats& expert_outputs(const LayerStatistics& ls) {
  if (!ls.expert_outputs) unplanned("the all-experts outputs");
  return *ls.expert_outputs;
}

const std::vector<int32_t>& active_counts(const LayerStatistics& ls, double threshold) {
  const AllExpertsStats& s = expert_outputs(ls);
  for (std::size_t q = 0; q < ls.active_thresholds.size(); ++q)
    if (ls.active_thresholds[q] == threshold) return s.active_counts[q];
  unplanned("the active-neuron counts at threshold " + std::to_string(threshold));
}

const std::vector<double>& act_correlation(const LayerStatistics& ls) {
  const AllExpertsStats& s = expert_outputs(ls);
  if (s.act_correlation.empty()) unplanned("the act-vector correlations");
  return s.act_correlation;
}

const ProbeInfo& probe_info(const LayerStatistics& ls) {
  if (!ls.probe) unplanned("the probe");
  return *ls.probe;
}

std::vector<int64_t> probe_tokens(const LayerStatistics& ls, bool exclude_bos,
                                  const std::string& metric) {
  const ProbeInfo& p = probe_info(ls);
  std::vector<int64_t> t = p.token_indices(exclude_bos);
  if (t.empty())
    throw InputError(p.source, exclude_bos ? "bos_mask" : "tokens",
                     "metric " + metric + ": the probe \"" + p.name + "\" has no tokens" +
                         (exclude_bos ? " after excluding its " + std::to_string(p.bos_count()) +
                                            " BOS positions"
                                      : ""));
  return t;
}

namespace {

// rank[e] = position of expert e when sorted ascending by v (ties: lower index first).
void ascending_ranks(const double* v, int n, std::vector<int>& order, std::vector<int>& rank) {
  order.resize(static_cast<std::size_t>(n));
  rank.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [v](int a, int b) { return v[a] < v[b] || (v[a] == v[b] && a < b); });
  for (int i = 0; i < n; ++i) rank[static_cast<std::size_t>(order[i])] = i;
}

}  // namespace

Matrix rank_count_matrix(const LayerStatistics& ls, const std::vector<int64_t>& tokens) {
  const RoutingData& r = routing(ls);
  const AllExpertsStats& o = expert_outputs(ls);
  const int E = r.experts;
  Matrix c(E, E);
  std::vector<int> order, score_rank, norm_rank;
  std::vector<double> norms(static_cast<std::size_t>(E));
  for (int64_t t : tokens) {
    ascending_ranks(r.probabilities.data.data() + t * E, E, order, score_rank);
    for (int e = 0; e < E; ++e) norms[static_cast<std::size_t>(e)] = o.norm(t, e);
    ascending_ranks(norms.data(), E, order, norm_rank);
    for (int e = 0; e < E; ++e) c(score_rank[e], norm_rank[e]) += 1;
  }
  return c;
}

Matrix mean_output_similarity(const LayerStatistics& ls, bool angular, bool exclude_bos) {
  const AllExpertsStats& o = expert_outputs(ls);
  const SimilaritySums& s = exclude_bos ? o.non_bos : o.all;
  Matrix m = angular ? s.angular : s.cosine;
  for (double& v : m.data)
    v = s.tokens > 0 ? v / static_cast<double>(s.tokens) : std::numeric_limits<double>::quiet_NaN();
  return m;
}

const NeuronMatch& neuron_match(const LayerStatistics& ls, MatrixKind m, int a, int b) {
  const auto& matches = ls.matches[static_cast<int>(m)];
  auto it = matches.find(std::make_pair(a, b));
  if (it == matches.end())
    unplanned(std::string("the ") + matrix_kind_name(m) + " neuron matching of experts " +
              std::to_string(a) + ", " + std::to_string(b));
  return it->second;
}

}  // namespace moeprobe
