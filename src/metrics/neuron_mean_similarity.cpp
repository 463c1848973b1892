// A3: neuron-level similarity by averaging (paper §4.1.2, App. D, Fig. 8 right): cosines of the
// experts' mean neurons (mean over rows of W_act/W_up, over columns of W_down).
#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"

namespace moeprobe {

namespace {

const char* kMatrixHelp = " params: matrix = act | up | down (default act)";

nlohmann::json mean_detail(const LayerStatistics& ctx, MatrixKind m) {
  const LayerStatistics& ls = ctx;
  nlohmann::json d;
  const int n = ls.num_experts + (ls.has_reference ? 1 : 0);
  d["entities"] = entity_labels(ls.num_experts, ls.has_reference);
  d["mean_neuron_similarity"][matrix_kind_name(m)] =
      matrix_json(matrix_statistics(ctx, m).mean_cosine, n);
  d["similarity"][matrix_kind_name(m)] = matrix_json(matrix_statistics(ctx, m).cosine, n);
  return d;
}

class MatrixParamMetric : public TypedMetric<MatrixParams> {
 public:
  using TypedMetric::TypedMetric;
  MatrixParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_matrix_params(p, where);
  }
  std::vector<Need> needs_of(const MatrixParams& p) const override {
    return matrix_needs({p.matrix});
  }
  static MatrixKind kind(const MatrixParams& p) { return p.matrix; }
};

class NeuronMeanSimilarity : public MatrixParamMetric {
 public:
  NeuronMeanSimilarity()
      : MatrixParamMetric(
            "neuron_mean_similarity", "A3",
            std::string("Mean cosine of the experts' mean neurons over expert pairs.") +
                kMatrixHelp) {}
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatrixParams& p) const override {
    const MatrixKind m = kind(p);
    std::vector<double> v = lower_triangle(matrix_statistics(ctx, m).mean_cosine, ctx.num_experts);
    return mean_of_units(ctx.layer, std::move(v), mean_detail(ctx, m));
  }
};

class NeuronMeanGain : public MatrixParamMetric {
 public:
  NeuronMeanGain()
      : MatrixParamMetric(
            "neuron_mean_gain", "A3",
            std::string("D(mean neuron) - D(matrix level): how much averaging the "
                        "neurons raises expert similarity (paired over expert pairs).") +
                kMatrixHelp) {}
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatrixParams& p) const override {
    const MatrixKind m = kind(p);
    const int n = ctx.num_experts;
    const MatrixStatistics& s = matrix_statistics(ctx, m);
    std::vector<double> avg = lower_triangle(s.mean_cosine, n), mat = lower_triangle(s.cosine, n);
    for (std::size_t i = 0; i < avg.size(); ++i) avg[i] -= mat[i];
    return mean_of_units(ctx.layer, std::move(avg), mean_detail(ctx, m));
  }
};

class NeuronMeanExpertMinusFfn : public MatrixParamMetric {
 public:
  NeuronMeanExpertMinusFfn()
      : MatrixParamMetric("neuron_mean_expert_minus_ffn", "A3",
                          std::string("D(mean neuron) - D^F(mean neuron): expert-expert minus "
                                      "expert-FFN similarity of the mean neurons; resampled over "
                                      "experts.") +
                              kMatrixHelp,
                          true) {}
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatrixParams& p) const override {
    const MatrixKind m = kind(p);
    const int n = ctx.num_experts;
    auto s = std::make_shared<Matrix>(matrix_statistics_with_reference(ctx, m, name()).mean_cosine);
    auto statistic = [s, n](const std::vector<int>& idx) {
      double df = 0.0;
      for (int e : idx) df += (*s)(e, n);
      return offdiag_mean(*s, idx) - df / static_cast<double>(idx.size());
    };
    return expert_resampled(ctx.layer, n, std::move(statistic), mean_detail(ctx, m));
  }
};

}  // namespace

void add_neuron_mean_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<NeuronMeanSimilarity>());
  out.push_back(std::make_unique<NeuronMeanGain>());
  out.push_back(std::make_unique<NeuronMeanExpertMinusFfn>());
}

}  // namespace moeprobe
