// A4: gate embedding vs expert neurons ("neurons act like fine-grained experts", paper §4.2,
// Tables 3 and 5): per layer, Pearson R between the router-row cosines X[a,b] and the mean-neuron
// cosines Y_m[a,b] over expert pairs a > b (experts only).
#include <algorithm>

#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"

namespace moeprobe {

namespace {

std::vector<double> mean_neuron_pairs(const LayerStatistics& ctx, MatrixKind m) {
  return lower_triangle(matrix_statistics(ctx, m).mean_cosine, ctx.num_experts);
}

nlohmann::json gate_detail(const LayerStatistics& ctx, const std::vector<MatrixKind>& kinds) {
  const int n = ctx.num_experts;
  nlohmann::json d;
  d["entities"] = entity_labels(n, false);
  d["router_similarity"] = matrix_json(router_cosine(ctx), n);
  for (MatrixKind m : kinds)
    d["mean_neuron_similarity"][matrix_kind_name(m)] =
        matrix_json(matrix_statistics(ctx, m).mean_cosine, n);
  return d;
}

// The router cosines and, for the report, the mean-neuron cosines of these kinds.
std::vector<Need> gate_needs(const std::vector<MatrixKind>& kinds) {
  std::vector<Need> n = matrix_needs(kinds);
  n.push_back({Intermediate::RouterCosine});
  return n;
}

class RouterSimilarity : public TypedMetric<NoParams> {
 public:
  RouterSimilarity()
      : TypedMetric("router_similarity", "A4",
                    "Mean cosine between router (gate embedding) rows over expert pairs") {}
  NoParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, {});
    return {};
  }
  std::vector<Need> needs_of(const NoParams&) const override { return gate_needs({}); }
  LayerMeasurement measure_with(const LayerStatistics& ctx, const NoParams&) const override {
    std::vector<double> v = lower_triangle(router_cosine(ctx), ctx.num_experts);
    return mean_of_units(ctx.layer, std::move(v), gate_detail(ctx, {}));
  }
};

class GateNeuronR : public TypedMetric<MatrixParams> {
 public:
  GateNeuronR(bool square)
      : TypedMetric(square ? "gate_neuron_r2" : "gate_neuron_r", "A4",
                    std::string("Pearson ") + (square ? "R^2" : "R") +
                        " between router-row cosines and mean-neuron cosines over expert pairs. "
                        "params: matrix = act | up | down (default act)"),
        square_(square) {}
  MatrixParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_matrix_params(p, where);
  }
  std::vector<Need> needs_of(const MatrixParams& p) const override {
    return gate_needs({p.matrix});
  }
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatrixParams& p) const override {
    const MatrixKind m = p.matrix;
    std::vector<double> x = lower_triangle(router_cosine(ctx), ctx.num_experts);
    std::vector<double> y = mean_neuron_pairs(ctx, m);
    LayerMeasurement out;
    out.layer = ctx.layer;
    const double r = pearson(x, y);
    out.value = square_ ? r * r : r;
    out.resampler = pearson_resampler(std::move(x), std::move(y), square_);
    out.detail = gate_detail(ctx, {m});
    return out;
  }

 private:
  bool square_;
};

class GateNeuronR2Margin : public TypedMetric<NoParams> {
 public:
  GateNeuronR2Margin()
      : TypedMetric("gate_neuron_r2_margin", "A4",
                    "R^2(act) - max(R^2(up), R^2(down)) of the router/mean-neuron association, "
                    "all three on the same resample of expert pairs") {}
  NoParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, {});
    return {};
  }
  std::vector<Need> needs_of(const NoParams&) const override {
    return gate_needs({MatrixKind::Act, MatrixKind::Up, MatrixKind::Down});
  }
  LayerMeasurement measure_with(const LayerStatistics& ctx, const NoParams&) const override {
    auto x =
        std::make_shared<std::vector<double>>(lower_triangle(router_cosine(ctx), ctx.num_experts));
    auto ys = std::make_shared<std::vector<std::vector<double>>>();
    for (MatrixKind m : {MatrixKind::Act, MatrixKind::Up, MatrixKind::Down})
      ys->push_back(mean_neuron_pairs(ctx, m));
    auto statistic = [x, ys](const std::vector<int>& idx) {
      std::vector<double> xs;
      for (int i : idx) xs.push_back((*x)[i]);
      double r2[3];
      for (int k = 0; k < 3; ++k) {
        std::vector<double> y;
        for (int i : idx) y.push_back((*ys)[k][i]);
        const double r = pearson(xs, y);
        r2[k] = r * r;
      }
      return r2[0] - std::max(r2[1], r2[2]);
    };
    std::vector<int> all(x->size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    LayerMeasurement out;
    out.layer = ctx.layer;
    out.value = statistic(all);
    out.resampler.n_units = static_cast<int>(all.size());
    out.resampler.statistic = statistic;
    out.detail = gate_detail(ctx, {MatrixKind::Act, MatrixKind::Up, MatrixKind::Down});
    return out;
  }
};

}  // namespace

void add_gate_neuron_association_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<RouterSimilarity>());
  out.push_back(std::make_unique<GateNeuronR>(false));
  out.push_back(std::make_unique<GateNeuronR>(true));
  out.push_back(std::make_unique<GateNeuronR2Margin>());
}

}  // namespace moeprobe
