// A7/A8: similarity of the experts' outputs on the same token (paper section 5.1, Fig. 2/3), and
// S2 (section 6): weight similarity vs mean output similarity. Per token t the all-experts pass
// gives the mean over expert pairs of cos(E_a(x_t), E_b(x_t)) or of the angular similarity
// 1 - arccos(cos)/pi, the same over the token's chosen pair(s), and the experts' mean similarity
// to the shared block and to the dense FFN F. A layer's value is the mean over tokens; the
// depth trend and the last-layer outlier are aggregates of it (spearman_vs_depth,
// last_minus_band). detail: the mean output-similarity matrix (sum over tokens / T).
#include <cmath>
#include <memory>

#include "metrics/dynamic_metric.h"
#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"
#include "util/error.h"

namespace moeprobe {

namespace {

struct SimilarityParams : DynamicParams {
  bool angular = true;  // measure: angular (default) | cosine
  bool chosen = false;  // pairs: all (default) | chosen
};

SimilarityParams parse_similarity(const nlohmann::json& p, const std::string& where,
                                  bool with_pairs) {
  check_param_keys(p, where,
                   dynamic_param_keys(with_pairs ? std::set<std::string>{"measure", "pairs"}
                                                 : std::set<std::string>{"measure"}));
  SimilarityParams out;
  parse_dynamic_params(p, where, out);
  out.angular = choice_param(p, "measure", "angular", {"angular", "cosine"}, where) == "angular";
  if (with_pairs)
    out.chosen = choice_param(p, "pairs", "all", {"all", "chosen"}, where) == "chosen";
  return out;
}

const char* measure_name(const SimilarityParams& p) {
  return p.angular ? "angular" : "cosine";
}

// The entities' mean similarity matrix over the probe's tokens (all, or BOS excluded).
nlohmann::json mean_matrix_detail(const AllExpertsStats& s, const SimilarityParams& p) {
  const SimilaritySums& sums = p.exclude_bos ? s.non_bos : s.all;
  const Matrix& m = p.angular ? sums.angular : sums.cosine;
  Matrix mean(m.rows, m.cols);
  for (std::size_t k = 0; k < m.data.size(); ++k)
    mean.data[k] = sums.tokens > 0 ? m.data[k] / static_cast<double>(sums.tokens) : nan_value();
  nlohmann::json labels = nlohmann::json::array();
  for (int e = 0; e < s.num_experts; ++e) labels.push_back(std::to_string(e));
  if (s.num_shared) labels.push_back("SE");
  if (s.has_reference) labels.push_back("F");
  nlohmann::json d;
  d["measure"] = measure_name(p);
  d["entities"] = labels;
  d["mean_output_similarity"] = matrix_json(mean, s.entities);
  return d;
}

std::vector<double> difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t k = 0; k < a.size(); ++k) d[k] = a[k] - b[k];
  return d;
}

std::vector<Need> output_needs() {
  return {{Intermediate::Routing}, {Intermediate::ExpertOutputs}};
}

class ExpertOutputSimilarity : public TypedMetric<SimilarityParams> {
 public:
  ExpertOutputSimilarity()
      : TypedMetric("expert_output_similarity", "A7/A8",
                    "Mean over the probe's tokens of the mean similarity of the routed experts' "
                    "outputs on the token, over all expert pairs or over the token's chosen "
                    "pair(s). params: measure = angular (1 - arccos(cos)/pi, default) | cosine, "
                    "pairs = all (default) | chosen, exclude_bos, units. detail: the mean "
                    "output-similarity matrix of experts (+ SE, F).") {}
  SimilarityParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_similarity(p, where, true);
  }
  std::vector<Need> needs_of(const SimilarityParams&) const override { return output_needs(); }
  LayerMeasurement measure_with(const LayerStatistics& ls,
                                const SimilarityParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const std::vector<double>& v = p.chosen ? (p.angular ? s.chosen_angular : s.chosen_cosine)
                                            : (p.angular ? s.mean_angular : s.mean_cosine);
    nlohmann::json d = mean_matrix_detail(s, p);
    d["pairs"] = p.chosen ? "chosen" : "all";
    return token_mean_measurement(ls, p, metric_tokens(ls, p, name()), v, std::move(d));
  }
};

class ChosenPairMoreAlike : public TypedMetric<SimilarityParams> {
 public:
  ChosenPairMoreAlike()
      : TypedMetric("chosen_pair_more_alike", "A7",
                    "Fraction of the probe's tokens whose chosen experts' outputs are more alike "
                    "than the token's mean over all expert pairs (spec H7a). params: measure = "
                    "cosine (default) | angular, exclude_bos, units.") {}
  SimilarityParams parse(const nlohmann::json& p, const std::string& where) const override {
    SimilarityParams out = parse_similarity(p, where, false);
    out.angular = choice_param(p, "measure", "cosine", {"angular", "cosine"}, where) == "angular";
    return out;
  }
  std::vector<Need> needs_of(const SimilarityParams&) const override { return output_needs(); }
  LayerMeasurement measure_with(const LayerStatistics& ls,
                                const SimilarityParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const auto& chosen = p.angular ? s.chosen_angular : s.chosen_cosine;
    const auto& all = p.angular ? s.mean_angular : s.mean_cosine;
    std::vector<double> more(chosen.size());
    for (std::size_t t = 0; t < chosen.size(); ++t)
      more[t] = std::isnan(chosen[t]) || std::isnan(all[t]) ? nan_value()
                                                            : (chosen[t] > all[t] ? 1.0 : 0.0);
    return token_mean_measurement(ls, p, metric_tokens(ls, p, name()), std::move(more),
                                  mean_matrix_detail(s, p));
  }
};

struct AboveParams : SimilarityParams {
  double threshold = 0.8;
};

// H7b: the share of tokens on which the experts' outputs are nearly alike (Mixtral's last layer:
// "many values exceed 0.8").
class OutputSimilarityAbove : public TypedMetric<AboveParams> {
 public:
  OutputSimilarityAbove()
      : TypedMetric("output_similarity_above", "A7",
                    "Fraction of the probe's tokens whose mean pairwise output similarity of the "
                    "routed experts is at least `threshold` (spec H7b: the last layer's D(t) >= "
                    "0.8 for most tokens). params: threshold (default 0.8), measure = cosine "
                    "(default) | angular, exclude_bos, units.") {}
  AboveParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, dynamic_param_keys({"measure", "threshold"}));
    AboveParams out;
    parse_dynamic_params(p, where, out);
    out.angular = choice_param(p, "measure", "cosine", {"angular", "cosine"}, where) == "angular";
    out.threshold = number_param(p, "threshold", 0.8, -1.0, where);
    if (out.threshold > 1.0)
      throw InputError(where, "params.threshold", "expected a similarity in (-1, 1]");
    return out;
  }
  std::vector<Need> needs_of(const AboveParams&) const override { return output_needs(); }
  LayerMeasurement measure_with(const LayerStatistics& ls, const AboveParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const auto& all = p.angular ? s.mean_angular : s.mean_cosine;
    std::vector<double> above(all.size());
    for (std::size_t t = 0; t < all.size(); ++t)
      above[t] = std::isnan(all[t]) ? nan_value() : (all[t] >= p.threshold ? 1.0 : 0.0);
    nlohmann::json d = mean_matrix_detail(s, p);
    d["threshold"] = p.threshold;
    return token_mean_measurement(ls, p, metric_tokens(ls, p, name()), std::move(above),
                                  std::move(d));
  }
};

// S_ee - S_ef: the experts' mean pairwise output similarity minus their mean similarity to the
// dense FFN F (or to the shared block SE).
class ExpertMinusEntity : public TypedMetric<SimilarityParams> {
 public:
  ExpertMinusEntity(std::string name, bool reference)
      : TypedMetric(std::move(name), "A8",
                    std::string("Mean over the probe's tokens of the experts' mean pairwise output "
                                "similarity minus their mean similarity to ") +
                        (reference ? "the dense FFN F of the reference model (spec H8c S_ee - "
                                     "S_ef; needs --reference-model)"
                                   : "the shared-expert block SE (NaN without one)") +
                        ". params: measure = angular (default) | cosine, exclude_bos, units.",
                    reference),
        reference_(reference) {}
  SimilarityParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_similarity(p, where, false);
  }
  std::vector<Need> needs_of(const SimilarityParams&) const override { return output_needs(); }
  LayerMeasurement measure_with(const LayerStatistics& ls,
                                const SimilarityParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const auto& all = p.angular ? s.mean_angular : s.mean_cosine;
    const auto& other = reference_ ? (p.angular ? s.reference_angular : s.reference_cosine)
                                   : (p.angular ? s.shared_angular : s.shared_cosine);
    if (reference_ && !s.has_reference)
      throw InputError("", "--reference-model",
                       "metric " + name() + ", layer " + std::to_string(ls.layer) +
                           ": the reference FFN's hidden size differs from the experts'");
    std::vector<int64_t> tokens = metric_tokens(ls, p, name());
    if (other.empty()) {  // no shared block in this layer
      LayerMeasurement out;
      out.layer = ls.layer;
      out.value = nan_value();
      out.detail["probe"] = probe_detail(ls, p, static_cast<int64_t>(tokens.size()));
      return out;
    }
    return token_mean_measurement(ls, p, std::move(tokens), difference(all, other),
                                  mean_matrix_detail(s, p));
  }

 private:
  bool reference_;
};

struct WeightOutputParams : SimilarityParams {
  MatrixKind matrix = MatrixKind::Act;
  bool mean_neuron = false;  // level: matrix (default) | mean_neuron
};

// S2 / H8d: per layer, Pearson r between the off-diagonal entries of the weight-similarity matrix
// and of the mean output-similarity matrix, resampled over expert pairs.
class WeightOutputPearson : public TypedMetric<WeightOutputParams> {
 public:
  WeightOutputPearson()
      : TypedMetric("weight_output_similarity_pearson", "A8/S2",
                    "Pearson r over expert pairs between the weight similarity (A1 matrix level "
                    "or A3 mean neuron) and the mean output similarity over the probe's tokens "
                    "(spec H8d, S2). params: matrix = act (default) | up | down, level = matrix "
                    "(default) | mean_neuron, measure = angular (default) | cosine, "
                    "exclude_bos. Resampled over expert pairs.") {}
  WeightOutputParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, dynamic_param_keys({"matrix", "level", "measure"}));
    WeightOutputParams out;
    parse_dynamic_params(p, where, out);
    out.angular = choice_param(p, "measure", "angular", {"angular", "cosine"}, where) == "angular";
    out.matrix = *matrix_param(p, "matrix", "act", false, where);
    out.mean_neuron =
        choice_param(p, "level", "matrix", {"matrix", "mean_neuron"}, where) == "mean_neuron";
    return out;
  }
  std::vector<Need> needs_of(const WeightOutputParams& p) const override {
    std::vector<Need> n = output_needs();
    n.push_back({Intermediate::MatrixStats, p.matrix});
    return n;
  }
  LayerMeasurement measure_with(const LayerStatistics& ls,
                                const WeightOutputParams& p) const override {
    const AllExpertsStats& s = expert_outputs(ls);
    const MatrixStatistics& w = matrix_statistics(ls, p.matrix);
    const int n = s.num_experts;
    const SimilaritySums& sums = p.exclude_bos ? s.non_bos : s.all;
    const Matrix& out_sum = p.angular ? sums.angular : sums.cosine;
    std::vector<double> weight = lower_triangle(p.mean_neuron ? w.mean_cosine : w.cosine, n);
    std::vector<double> output;
    for (const auto& [a, b] : expert_pairs(n))
      output.push_back(out_sum(a, b) / static_cast<double>(std::max<int64_t>(sums.tokens, 1)));
    LayerMeasurement m;
    m.layer = ls.layer;
    m.value = pearson(weight, output);
    m.detail = mean_matrix_detail(s, p);
    m.detail["weight_similarity"] = matrix_json(p.mean_neuron ? w.mean_cosine : w.cosine, n);
    m.detail["probe"] = probe_detail(ls, p, sums.tokens);
    m.resampler = pearson_resampler(std::move(weight), std::move(output), false);
    return m;
  }
};

}  // namespace

void add_expert_output_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<ExpertOutputSimilarity>());
  out.push_back(std::make_unique<ChosenPairMoreAlike>());
  out.push_back(std::make_unique<OutputSimilarityAbove>());
  out.push_back(std::make_unique<ExpertMinusEntity>("output_similarity_expert_minus_ffn", true));
  out.push_back(
      std::make_unique<ExpertMinusEntity>("output_similarity_expert_minus_shared", false));
  out.push_back(std::make_unique<WeightOutputPearson>());
}

}  // namespace moeprobe
