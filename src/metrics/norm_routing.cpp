// A9/A10: expert output norms vs router scores (paper section 5.2, Fig. 4, App. G Fig. 10).
// Per token t of the probe: n_{t,e} = ||E_e(x_t)|| (unweighted output) and p_{t,e} = the full
// softmax over all experts (the paper's "gate score" for every model). The rank-count matrix
// C[s, r] counts the (token, expert) pairs with score rank s and norm rank r (0-based ascending;
// ties to the lower expert index), in every metric's detail for results.json.
//
// Llama-4's router score scales the expert's input (weight_on_input): the layer adds E_e(s x),
// not s E_e(x). The norms here stay ||E_e(x_t)|| on the unscaled input, so for such a family the
// comparison asks whether the router favours the experts that respond most strongly to the
// token, not whether it gives the largest weights to the largest contributions; every affected
// metric says so in its detail (weight_on_input_note).
//
// Beyond the paper, "super experts" (arXiv 2507.23279): an expert whose norm on some token
// exceeds super_factor x the layer's median norm. A few such tokens can decide a largest-norm
// count, so the norm-rank metrics take exclude_super_tokens: leave out the tokens where any
// expert is super.
#include <algorithm>
#include <cmath>
#include <memory>

#include "metrics/dynamic_metric.h"
#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"
#include "metrics/token_statistics.h"
#include "util/error.h"

namespace moeprobe {

namespace {

struct NormParams : DynamicParams {
  bool exclude_super_tokens = false;
  double super_factor = 10.0;
  int ranks = 5;  // top_norm_ranks_scored_high only
};

NormParams parse_norm_params(const nlohmann::json& p, const std::string& where,
                             bool with_ranks = false) {
  std::set<std::string> keys{"exclude_super_tokens", "super_factor"};
  if (with_ranks) keys.insert("ranks");
  check_param_keys(p, where, dynamic_param_keys(keys));
  NormParams out;
  parse_dynamic_params(p, where, out);
  out.exclude_super_tokens = bool_param(p, "exclude_super_tokens", false, where);
  out.super_factor = number_param(p, "super_factor", 10.0, 1.0, where);
  if (with_ranks && p.is_object() && p.contains("ranks")) {
    if (!p["ranks"].is_number_integer() || p["ranks"].get<long long>() < 1 ||
        p["ranks"].get<long long>() > 1024)
      throw InputError(where, "params.ranks", "expected an integer in [1, 1024]");
    out.ranks = p["ranks"].get<int>();
  }
  return out;
}

// The routed experts' norms [T, E] (the all-experts entities also hold the shared block and F).
std::vector<double> expert_norms(const AllExpertsStats& s) {
  std::vector<double> n(static_cast<std::size_t>(s.tokens * s.num_experts));
  for (int64_t t = 0; t < s.tokens; ++t)
    for (int e = 0; e < s.num_experts; ++e)
      n[static_cast<std::size_t>(t * s.num_experts + e)] = s.norm(t, e);
  return n;
}

// The detail note for a layer whose router scales the expert input (see the header comment).
void note_weight_on_input(const LayerStatistics& ls, nlohmann::json& detail) {
  if (!ls.routing || !ls.routing->weight_on_input) return;
  detail["weight_on_input_note"] =
      "this family's router score scales the expert input (the layer adds E_e(s x), not "
      "s E_e(x)); norms are ||E_e(x)|| on the unscaled input, so the comparison is with how "
      "strongly each expert responds to the token, not with the size of what the layer adds";
}

// What the norm-rank metrics share: the layer's norms and scores, the tokens used, the super
// experts, and the rank-count matrix over those tokens.
struct NormData {
  int experts = 0, top_k = 0, ranks = 5;
  std::shared_ptr<const std::vector<double>> norms, scores;
  std::shared_ptr<const std::vector<int>> chosen;
  std::vector<int64_t> tokens;
  nlohmann::json detail;
};

NormData norm_data(const LayerStatistics& ls, const NormParams& p, const std::string& metric) {
  const AllExpertsStats& out = expert_outputs(ls);
  const RoutingData& r = routing(ls);
  NormData d;
  d.experts = out.num_experts;
  d.top_k = r.top_k;
  d.ranks = p.ranks;
  d.norms = std::make_shared<const std::vector<double>>(expert_norms(out));
  d.scores = std::make_shared<const std::vector<double>>(r.probabilities.data);
  d.chosen = std::make_shared<const std::vector<int>>(r.selected);
  std::vector<int64_t> tokens = metric_tokens(ls, p, metric);
  const SuperExperts super = find_super_experts(*d.norms, d.experts, tokens, p.super_factor);
  d.detail["super_experts"] = super.experts;
  d.detail["super_expert_ratio"] = super.max_ratio;
  d.detail["super_tokens"] = static_cast<int64_t>(super.tokens.size());
  d.detail["median_norm"] = super.median_norm;
  if (p.exclude_super_tokens) tokens = tokens_without(tokens, super.tokens);
  d.detail["excluded_super_tokens"] = p.exclude_super_tokens;
  const Matrix c = rank_count_matrix(*d.scores, *d.norms, d.experts, tokens);
  d.detail["rank_count"] = matrix_json(c, d.experts);
  d.detail["rank_count_axes"] = "rows: score rank, columns: norm rank (0 = smallest)";
  d.tokens = std::move(tokens);
  note_weight_on_input(ls, d.detail);
  return d;
}

std::vector<Need> dynamic_needs() {
  return {{Intermediate::Routing}, {Intermediate::ExpertOutputs}};
}

// A norm-rank metric: a statistic over the tokens, from the layer's NormData. Either the mean of a
// per-token value (times E with times_experts: a lift over chance) or a function of the rank-count
// matrix.
// What the bootstrap resampler keeps is reduced first (T per-token values, or the T x E rank
// pairs), never the [T, E] norms and scores: the resamplers of every layer live until the end of
// the run, and each resample then costs T additions or E per token, not two sorts per token.
class NormRankMetric : public TypedMetric<NormParams> {
 public:
  using PerToken = std::function<double(const NormData&, int64_t token)>;
  using OfRankCounts = std::function<double(const Matrix& counts, int ranks)>;
  NormRankMetric(std::string name, std::string description, PerToken per_token,
                 bool times_experts = false, std::string analysis = "A10")
      : TypedMetric(std::move(name), std::move(analysis), std::move(description)),
        per_token_(std::move(per_token)),
        times_experts_(times_experts) {}
  NormRankMetric(std::string name, std::string description, OfRankCounts of_counts, bool with_ranks)
      : TypedMetric(std::move(name), "A10", std::move(description)),
        of_counts_(std::move(of_counts)),
        with_ranks_(with_ranks) {}
  NormParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_norm_params(p, where, with_ranks_);
  }
  std::vector<Need> needs_of(const NormParams&) const override { return dynamic_needs(); }
  LayerMeasurement measure_with(const LayerStatistics& ls, const NormParams& p) const override {
    const NormData d = norm_data(ls, p, name());
    nlohmann::json detail = d.detail;
    if (d.tokens.empty()) {  // every token dominated by a super expert
      LayerMeasurement out;
      out.layer = ls.layer;
      out.value = nan_value();
      detail["probe"] = probe_detail(ls, p, 0);
      out.detail = detail;
      return out;
    }
    if (per_token_) {
      const std::size_t rows = d.norms->size() / static_cast<std::size_t>(d.experts);
      auto values = std::make_shared<std::vector<double>>(rows, nan_value());
      for (int64_t t : d.tokens) (*values)[static_cast<std::size_t>(t)] = per_token_(d, t);
      const double scale = times_experts_ ? static_cast<double>(d.experts) : 1.0;
      return token_measurement(
          ls, p, d.tokens,
          [values, scale](const std::vector<int64_t>& t) { return scale * mean_over(*values, t); },
          std::move(detail));
    }
    auto pairs = std::make_shared<const TokenRankPairs>(
        token_rank_pairs(*d.scores, *d.norms, d.experts, d.tokens));
    const OfRankCounts f = of_counts_;
    const int ranks = d.ranks;
    return token_measurement(
        ls, p, d.tokens,
        [pairs, f, ranks](const std::vector<int64_t>& t) {
          return f(rank_count_matrix(*pairs, t), ranks);
        },
        std::move(detail));
  }

 private:
  PerToken per_token_;
  bool times_experts_ = false;
  OfRankCounts of_counts_;
  bool with_ranks_ = false;
};

const double* at(const std::vector<double>& m, int64_t t, int e) {
  return m.data() + t * e;
}

class GateConfidence : public TypedMetric<DynamicParams> {
 public:
  GateConfidence()
      : TypedMetric("gate_confidence", "A9",
                    "Median over the probe's tokens of p1/p2, the ratio of the largest to the "
                    "second-largest full-softmax router probability (spec H9c). params: "
                    "exclude_bos, units.") {}
  DynamicParams parse(const nlohmann::json& p, const std::string& where) const override {
    return plain_dynamic_params(p, where);
  }
  std::vector<Need> needs_of(const DynamicParams&) const override {
    return {{Intermediate::Routing}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const DynamicParams& p) const override {
    const RoutingData& r = routing(ls);
    auto ratio = std::make_shared<std::vector<double>>(static_cast<std::size_t>(r.tokens));
    for (int64_t t = 0; t < r.tokens; ++t)
      (*ratio)[static_cast<std::size_t>(t)] =
          gate_confidence(at(r.probabilities.data, t, r.experts), r.experts);
    return token_measurement(
        ls, p, metric_tokens(ls, p, name()),
        [ratio](const std::vector<int64_t>& t) {
          std::vector<double> v;
          for (int64_t i : t) v.push_back((*ratio)[static_cast<std::size_t>(i)]);
          return median(v);
        },
        nlohmann::json::object());
  }
};

class OutputNormMean : public TypedMetric<DynamicParams> {
 public:
  OutputNormMean()
      : TypedMetric("output_norm_mean", "A9",
                    "Mean over the probe's tokens and the routed experts of the output norm "
                    "||E_e(x_t)|| (its depth trend, spearman_vs_depth, is spec H9b). params: "
                    "exclude_bos, units.") {}
  DynamicParams parse(const nlohmann::json& p, const std::string& where) const override {
    return plain_dynamic_params(p, where);
  }
  std::vector<Need> needs_of(const DynamicParams&) const override {
    return {{Intermediate::ExpertOutputs}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const DynamicParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    std::vector<double> per_token(static_cast<std::size_t>(s.tokens), 0.0);
    for (int64_t t = 0; t < s.tokens; ++t) {
      for (int e = 0; e < s.num_experts; ++e)
        per_token[static_cast<std::size_t>(t)] += s.norm(t, e);
      per_token[static_cast<std::size_t>(t)] /= std::max(1, s.num_experts);
    }
    nlohmann::json detail = nlohmann::json::object();
    note_weight_on_input(ls, detail);
    return token_mean_measurement(ls, p, metric_tokens(ls, p, name()), std::move(per_token),
                                  std::move(detail));
  }
};

class SuperExpertCount : public TypedMetric<NormParams> {
 public:
  SuperExpertCount()
      : TypedMetric("super_experts", "A10",
                    "Number of super experts of the layer: experts whose output norm on some "
                    "probe token exceeds super_factor x the median of the layer's norms "
                    "(arXiv 2507.23279); detail lists them, their max norm / median and how many "
                    "tokens they dominate. params: super_factor (default 10), exclude_bos.") {}
  NormParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, dynamic_param_keys({"super_factor"}));
    return parse_norm_params(p, where);
  }
  std::vector<Need> needs_of(const NormParams&) const override {
    return {{Intermediate::ExpertOutputs}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const NormParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const std::vector<int64_t> tokens = metric_tokens(ls, p, name());
    const SuperExperts super =
        find_super_experts(expert_norms(s), s.num_experts, tokens, p.super_factor);
    LayerMeasurement out;
    out.layer = ls.layer;
    out.value = static_cast<double>(super.experts.size());
    out.detail["super_experts"] = super.experts;
    out.detail["super_expert_ratio"] = super.max_ratio;
    out.detail["super_tokens"] = static_cast<int64_t>(super.tokens.size());
    out.detail["median_norm"] = super.median_norm;
    out.detail["probe"] = probe_detail(ls, p, static_cast<int64_t>(tokens.size()));
    return out;
  }
};

const char* kNormParamsDoc =
    " params: exclude_bos, units (tokens | sequences), exclude_super_tokens (leave out tokens "
    "where an expert's norm exceeds super_factor x the layer median; default false), "
    "super_factor (default 10). detail: the rank-count matrix C[score rank, norm rank].";

}  // namespace

void add_norm_routing_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<NormRankMetric>(
      "top1_norm_agreement",
      std::string("Fraction of tokens whose top-1 router probability expert is the expert with "
                  "the largest output norm (spec A10 A_top1; Mixtral about 0.69, chance 1/E).") +
          kNormParamsDoc,
      NormRankMetric::PerToken([](const NormData& d, int64_t i) {
        return top1_norm_agreement(at(*d.scores, i, d.experts), at(*d.norms, i, d.experts),
                                   d.experts);
      })));
  out.push_back(std::make_unique<NormRankMetric>(
      "top1_norm_lift",
      std::string("top1_norm_agreement divided by its chance level 1/E: how many times more "
                  "often than chance the top-1 score expert has the largest norm (spec H10b, "
                  "DeepSeek-like: >= 5).") +
          kNormParamsDoc,
      NormRankMetric::PerToken([](const NormData& d, int64_t i) {
        return top1_norm_agreement(at(*d.scores, i, d.experts), at(*d.norms, i, d.experts),
                                   d.experts);
      }),
      true));
  out.push_back(std::make_unique<NormRankMetric>(
      "topk_norm_set_agreement",
      std::string("Fraction of tokens whose k highest router probabilities and k largest output "
                  "norms belong to the same experts (k = the model's top-k; spec H9a).") +
          kNormParamsDoc,
      NormRankMetric::PerToken([](const NormData& d, int64_t i) {
        return topk_set_agreement(at(*d.scores, i, d.experts), at(*d.norms, i, d.experts),
                                  d.experts, d.top_k);
      }),
      false, "A9"));
  out.push_back(std::make_unique<NormRankMetric>(
      "top_norm_ranks_scored_high",
      std::string("Of the `ranks` largest output-norm ranks, the fraction whose most frequent "
                  "score rank is among the `ranks` largest (columns of the rank-count matrix; "
                  "spec H10b, DeepSeek-like: all of the top 5). params: ranks (default 5, "
                  "less than E; NaN otherwise).") +
          kNormParamsDoc,
      NormRankMetric::OfRankCounts(
          [](const Matrix& c, int ranks) { return top_norm_ranks_scored_high(c, ranks); }),
      true));
  out.push_back(std::make_unique<NormRankMetric>(
      "topk_norm_coverage",
      std::string("Fraction of tokens whose largest-norm expert is among the k experts the "
                  "router chose (spec A10 Cov_k; Mixtral about 0.84 for k = 2).") +
          kNormParamsDoc,
      NormRankMetric::PerToken([](const NormData& d, int64_t i) {
        return topk_norm_coverage(d.chosen->data() + i * d.top_k, d.top_k,
                                  at(*d.norms, i, d.experts), d.experts);
      })));
  out.push_back(std::make_unique<NormRankMetric>(
      "norm_score_spearman",
      std::string("Mean over tokens of the Spearman correlation between the experts' router "
                  "probabilities and output norms (spec A10 rho_tok).") +
          kNormParamsDoc,
      NormRankMetric::PerToken([](const NormData& d, int64_t i) {
        return norm_score_spearman(at(*d.scores, i, d.experts), at(*d.norms, i, d.experts),
                                   d.experts);
      })));
  out.push_back(std::make_unique<NormRankMetric>(
      "rank_diagonal_dominance",
      std::string("Fraction of norm ranks r whose most frequent score rank is r itself (strict "
                  "column maximum of the rank-count matrix on the diagonal; spec A10 DiagDom, "
                  "Mixtral 8/8).") +
          kNormParamsDoc,
      NormRankMetric::OfRankCounts([](const Matrix& c, int) { return rank_diagonal_dominance(c); }),
      false));
  out.push_back(std::make_unique<GateConfidence>());
  out.push_back(std::make_unique<OutputNormMean>());
  out.push_back(std::make_unique<SuperExpertCount>());
}

}  // namespace moeprobe
