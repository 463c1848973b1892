#include "metrics/layer_statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "metrics/linear_assignment.h"
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

namespace {

void require_context(const LayerContext& ctx) {
  if (!ctx.layer || !ctx.backend)
    throw std::logic_error("metric called without a layer or a backend in its LayerContext");
}

}  // namespace

LayerStatistics& layer_statistics(LayerContext& ctx) {
  require_context(ctx);
  if (!ctx.cache) {
    auto stats = std::make_shared<LayerStatistics>();
    stats->num_experts = ctx.layer->num_experts();
    if (ctx.reference_ffn && stats->num_experts > 0) {
      const ExpertWeights& f = *ctx.reference_ffn;
      const ExpertWeights& e = ctx.layer->experts[0];
      if (f.act.shape == e.act.shape && f.up.shape == e.up.shape && f.down.shape == e.down.shape)
        stats->has_reference = true;
      else
        stats->reference_problem = "the reference FFN's W_act has shape " + f.act.shape_string() +
                                   ", the experts' " + e.act.shape_string() +
                                   " (expected identical shapes)";
    }
    ctx.cache = stats;
  }
  return *ctx.cache;
}

const MatrixStatistics& matrix_statistics(LayerContext& ctx, MatrixKind m) {
  LayerStatistics& ls = layer_statistics(ctx);
  auto& slot = ls.matrices[static_cast<int>(m)];
  if (!slot) {
    std::vector<TensorView> mats;
    for (const auto& e : ctx.layer->experts) mats.push_back(matrix_of(e, m));
    if (ls.has_reference) mats.push_back(matrix_of(*ctx.reference_ffn, m));
    // Everything this layer's metrics need from these bytes, in one pass; the standardised Gram
    // (~35% of the pass) only where a metric reads it.
    MatrixSetRequest request;
    request.gram = true;
    request.standardized_gram = ctx.needs.standardized[static_cast<int>(m)];
    request.mean_neuron = true;
    MatrixStatistics s;
    s.stats = ctx.backend->matrix_set_stats(mats, neuron_axis(m), request);
    s.cosine = cosine_from_gram(s.stats.gram);
    s.mean_cosine = cosine_of_vectors(s.stats.mean_neuron);
    slot = std::move(s);
  }
  return *slot;
}

const MatrixStatistics& matrix_statistics_with_reference(LayerContext& ctx, MatrixKind m,
                                                         const std::string& metric) {
  LayerStatistics& ls = layer_statistics(ctx);
  if (!ls.has_reference) {
    if (!ctx.reference_ffn)
      throw InputError("", "--reference-model",
                       "metric " + metric + " needs a dense reference model (layer " +
                           std::to_string(ctx.layer->layer) + " has none)");
    throw InputError("", "--reference-model",
                     "metric " + metric + ", layer " + std::to_string(ctx.layer->layer) + ": " +
                         ls.reference_problem);
  }
  return matrix_statistics(ctx, m);
}

const Matrix& router_cosine(LayerContext& ctx) {
  LayerStatistics& ls = layer_statistics(ctx);
  if (!ls.router_cosine)
    ls.router_cosine = cosine_from_gram(ctx.backend->gram_rows(ctx.layer->router));
  return *ls.router_cosine;
}

const NeuronMatch& neuron_match(LayerContext& ctx, MatrixKind m, int a, int b) {
  LayerStatistics& ls = layer_statistics(ctx);
  auto& cache = ls.matches[static_cast<int>(m)];
  const auto key = std::make_pair(a, b);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;

  const TensorView& wa = matrix_of(ctx.layer->experts.at(a), m);
  const TensorView& wb = matrix_of(ctx.layer->experts.at(b), m);
  const NeuronAxis axis = neuron_axis(m);
  const Matrix c = ctx.backend->neuron_cosine(wa, wb, axis);
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
  const std::vector<double> na = ctx.backend->neuron_norms(wa, axis);
  const std::vector<double> nb = ctx.backend->neuron_norms(wb, axis);
  double dot = 0.0, sa = 0.0, sb = 0.0;
  for (int i = 0; i < n; ++i) {
    dot += c(i, match.perm[i]) * std::max(na[i] * nb[match.perm[i]], 1e-8);
    sa += na[i] * na[i];
    sb += nb[i] * nb[i];
  }
  match.reordered_similarity = dot / std::max(std::sqrt(sa * sb), 1e-8);
  match.similarity = matrix_statistics(ctx, m).cosine(a, b);
  return cache.emplace(key, std::move(match)).first->second;
}

}  // namespace moeprobe
