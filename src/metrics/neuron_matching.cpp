// A2: neuron-level similarity by reordering (paper §4.1.2, Table 2). For an expert pair, the
// neurons of b are matched to those of a by a linear assignment maximising the summed neuron
// cosines; Kendall tau-b of the matching against the identity says whether neuron order is
// preserved, and the cosine of the reordered flattened matrices says how much similarity the
// reordering reveals. One solve per (layer, matrix, pair) is shared by the three metrics.
#include <cmath>

#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"

namespace moeprobe {

namespace {

enum class Quantity { Tau, ReorderedSimilarity, ReorderGain };

struct MatchParams : ParsedParams {
  MatrixKind matrix = MatrixKind::Act;
  long long max_pairs = 0;  // 0: every expert pair
};

class NeuronMatching : public TypedMetric<MatchParams> {
 public:
  NeuronMatching(std::string name, Quantity q, std::string what)
      : TypedMetric(std::move(name), "A2",
                    what +
                        " params: matrix = act | up | down (default act), max_pairs = integer "
                        "(default: every expert pair; otherwise that many pairs spread evenly)"),
        q_(q) {}
  MatchParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, {"matrix", "max_pairs"});
    MatchParams out;
    out.matrix = *matrix_param(p, "matrix", "act", false, where);
    out.max_pairs = int_param(p, "max_pairs", 0, 1, where);
    return out;
  }
  std::vector<Need> needs_of(const MatchParams& p) const override {
    return {{Intermediate::NeuronMatches, p.matrix, p.max_pairs}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatchParams& p) const override {
    const MatrixKind m = p.matrix;
    const long long max_pairs = p.max_pairs;
    std::vector<double> values;
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& [a, b] : selected_pairs(ctx.num_experts, max_pairs)) {
      const NeuronMatch& nm = neuron_match(ctx, m, a, b);
      double v = nm.tau;
      if (q_ == Quantity::ReorderedSimilarity) v = nm.reordered_similarity;
      if (q_ == Quantity::ReorderGain)
        v = (nm.reordered_similarity - nm.similarity) / std::max(std::fabs(nm.similarity), 1e-8);
      values.push_back(v);
      pairs.push_back({{"a", a},
                       {"b", b},
                       {"tau", nm.tau},
                       {"similarity", nm.similarity},
                       {"reordered_similarity", nm.reordered_similarity}});
    }
    return mean_of_units(ctx.layer, std::move(values),
                         {{"matrix", matrix_kind_name(m)}, {"pairs", std::move(pairs)}});
  }

 private:
  Quantity q_;
};

}  // namespace

void add_neuron_matching_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<NeuronMatching>(
      "neuron_order_tau", Quantity::Tau,
      "Mean over expert pairs of Kendall tau-b between the optimal neuron matching and the "
      "identity (near 1: neuron order preserved)."));
  out.push_back(std::make_unique<NeuronMatching>(
      "neuron_reorder_similarity", Quantity::ReorderedSimilarity,
      "Mean over expert pairs of cos(vec W_a, vec W_b) after permuting b's neurons by the optimal "
      "matching."));
  out.push_back(std::make_unique<NeuronMatching>(
      "neuron_reorder_gain", Quantity::ReorderGain,
      "Mean over expert pairs of the relative change of the cosine after reordering: "
      "(sim_reordered - sim) / max(|sim|, 1e-8)."));
}

}  // namespace moeprobe
