// A1: expert weight similarity at matrix level (paper §4.1.1, Fig. 1): cosines of the flattened
// W_act / W_up / W_down of every expert pair, and of every expert with the dense FFN "F".
#include <cmath>

#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"

namespace moeprobe {

namespace {

const char* kMatrixHelp = "params: matrix = act | up | down | all (default all: mean of the three)";

nlohmann::json similarity_detail(const LayerStatistics& ctx, const std::vector<MatrixKind>& kinds) {
  const LayerStatistics& ls = ctx;
  nlohmann::json d;
  const int n = ls.num_experts + (ls.has_reference ? 1 : 0);
  d["entities"] = entity_labels(ls.num_experts, ls.has_reference);
  for (MatrixKind m : kinds)
    d["similarity"][matrix_kind_name(m)] = matrix_json(matrix_statistics(ctx, m).cosine, n);
  return d;
}

// Per expert pair, the cosine averaged over the requested matrix kinds.
std::vector<double> pair_values(const LayerStatistics& ctx, const std::vector<MatrixKind>& kinds) {
  const int n = ctx.num_experts;
  std::vector<double> v(expert_pairs(n).size(), 0.0);
  for (MatrixKind m : kinds) {
    const auto lt = lower_triangle(matrix_statistics(ctx, m).cosine, n);
    for (std::size_t p = 0; p < v.size(); ++p) v[p] += lt[p] / static_cast<double>(kinds.size());
  }
  return v;
}

// A metric of params {matrix: act | up | down | all}, reading those kinds' matrix statistics.
class KindsParamMetric : public TypedMetric<KindsParams> {
 public:
  using TypedMetric::TypedMetric;
  KindsParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_kinds_params(p, where);
  }
  std::vector<Need> needs_of(const KindsParams& p) const override {
    return matrix_needs(p.kinds());
  }
};

// A per-layer mean over units (expert pairs or experts) of cosines averaged over the matrix kinds
// of the `matrix` parameter; resampled over those units.
class KindsMeanMetric : public KindsParamMetric {
 public:
  using KindsParamMetric::KindsParamMetric;
  LayerMeasurement measure_with(const LayerStatistics& ctx, const KindsParams& p) const override {
    const auto kinds = p.kinds();
    std::vector<double> v = unit_values(ctx, kinds);
    return mean_of_units(ctx.layer, std::move(v), similarity_detail(ctx, kinds));
  }

 protected:
  virtual std::vector<double> unit_values(const LayerStatistics& ctx,
                                          const std::vector<MatrixKind>& kinds) const = 0;
};

class ExpertWeightSimilarity : public KindsMeanMetric {
 public:
  ExpertWeightSimilarity()
      : KindsMeanMetric("expert_weight_similarity", "A1",
                        std::string("D_l: mean cosine of the flattened expert matrices over expert "
                                    "pairs (experts only). ") +
                            kMatrixHelp) {}

 protected:
  std::vector<double> unit_values(const LayerStatistics& ctx,
                                  const std::vector<MatrixKind>& kinds) const override {
    return pair_values(ctx, kinds);
  }
};

// Per expert e: cos(W_e, W_F) averaged over the requested kinds.
std::vector<double> ffn_values(const LayerStatistics& ctx, const std::vector<MatrixKind>& kinds,
                               const std::string& metric) {
  const int n = ctx.num_experts;
  std::vector<double> v(static_cast<std::size_t>(n), 0.0);
  for (MatrixKind m : kinds) {
    const Matrix& s = matrix_statistics_with_reference(ctx, m, metric).cosine;
    for (int e = 0; e < n; ++e) v[e] += s(e, n) / static_cast<double>(kinds.size());
  }
  return v;
}

class ExpertFfnSimilarity : public KindsMeanMetric {
 public:
  ExpertFfnSimilarity()
      : KindsMeanMetric("expert_ffn_similarity", "A1",
                        std::string("D^F_l: mean cosine between each expert's flattened matrix and "
                                    "the dense reference FFN's. ") +
                            kMatrixHelp,
                        true) {}

 protected:
  std::vector<double> unit_values(const LayerStatistics& ctx,
                                  const std::vector<MatrixKind>& kinds) const override {
    return ffn_values(ctx, kinds, name());
  }
};

struct AgreementParams : ParsedParams {
  MatrixKind a = MatrixKind::Up, b = MatrixKind::Act;
};

class MatrixAgreement : public TypedMetric<AgreementParams> {
 public:
  MatrixAgreement()
      : TypedMetric("matrix_agreement", "A1",
                    "Pearson r between the off-diagonal expert-pair similarities of two matrix "
                    "types. params: a = act | up | down (default up), b = act | up | down "
                    "(default act)") {}
  AgreementParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, {"a", "b"});
    AgreementParams out;
    out.a = *matrix_param(p, "a", "up", false, where);
    out.b = *matrix_param(p, "b", "act", false, where);
    return out;
  }
  std::vector<Need> needs_of(const AgreementParams& p) const override {
    return matrix_needs({p.a, p.b});
  }
  LayerMeasurement measure_with(const LayerStatistics& ctx,
                                const AgreementParams& p) const override {
    const MatrixKind ma = p.a, mb = p.b;
    const int n = ctx.num_experts;
    std::vector<double> x = lower_triangle(matrix_statistics(ctx, ma).cosine, n);
    std::vector<double> y = lower_triangle(matrix_statistics(ctx, mb).cosine, n);
    LayerMeasurement out;
    out.layer = ctx.layer;
    out.value = pearson(x, y);
    out.resampler = pearson_resampler(std::move(x), std::move(y), false);
    out.detail = similarity_detail(ctx, {ma, mb});
    return out;
  }
};

class UpcyclingConsistency : public KindsParamMetric {
 public:
  UpcyclingConsistency()
      : KindsParamMetric(
            "upcycling_consistency", "A1",
            std::string("(D^F)^2 - D per matrix type (near 0 when experts are the FFN plus "
                        "independent isotropic drift); resampled over experts. ") +
                kMatrixHelp + " (all: mean of the three differences)",
            true) {}
  LayerMeasurement measure_with(const LayerStatistics& ctx, const KindsParams& p) const override {
    const auto kinds = p.kinds();
    const int n = ctx.num_experts;
    auto sims = std::make_shared<std::vector<Matrix>>();
    for (MatrixKind m : kinds)
      sims->push_back(matrix_statistics_with_reference(ctx, m, name()).cosine);
    // The statistic on a resample of experts: D over distinct resampled experts, D^F over the
    // resampled experts.
    auto statistic = [sims, n](const std::vector<int>& idx) {
      double total = 0.0;
      for (const Matrix& s : *sims) {
        double df = 0.0;
        for (int e : idx) df += s(e, n);
        df /= static_cast<double>(idx.size());
        total += df * df - offdiag_mean(s, idx);
      }
      return total / static_cast<double>(sims->size());
    };
    return expert_resampled(ctx.layer, n, std::move(statistic), similarity_detail(ctx, kinds));
  }
};

}  // namespace

void add_expert_weight_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<ExpertWeightSimilarity>());
  out.push_back(std::make_unique<ExpertFfnSimilarity>());
  out.push_back(std::make_unique<MatrixAgreement>());
  out.push_back(std::make_unique<UpcyclingConsistency>());
}

}  // namespace moeprobe
