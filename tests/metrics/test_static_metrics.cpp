// The static metrics (A1-A5) on planted in-memory layers: the findings the paper describes are
// built into synthetic weights and the metrics must find them (and not find them when absent).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "../kernels/test_tensors.h"
#include "kernels/backend.h"
#include "metrics/layer_statistics.h"
#include "metrics/metric.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using test::gaussian;
using test::make_tensor;
using test::OwnedTensor;

struct Weights {
  std::vector<float> act, up, down;  // act/up [I, H], down [H, I]
};

struct PlantedLayer {
  int64_t I = 0, H = 0;
  std::vector<std::shared_ptr<OwnedTensor>> owned;
  MoeLayer layer;
  std::optional<ExpertWeights> ffn;

  ExpertWeights view(const Weights& w, const std::string& name) {
    ExpertWeights e;
    owned.push_back(make_tensor(w.act, {I, H}, DType::F32, name + ".act"));
    e.act = owned.back()->view;
    owned.push_back(make_tensor(w.up, {I, H}, DType::F32, name + ".up"));
    e.up = owned.back()->view;
    owned.push_back(make_tensor(w.down, {H, I}, DType::F32, name + ".down"));
    e.down = owned.back()->view;
    return e;
  }
  void set_router(const std::vector<float>& g, int experts) {
    owned.push_back(make_tensor(g, {experts, H}, DType::F32, "router"));
    layer.router = owned.back()->view;
  }
};

Weights random_weights(int64_t I, int64_t H, std::mt19937_64& rng, float sd = 1.f) {
  return {gaussian(I * H, rng, sd), gaussian(I * H, rng, sd), gaussian(I * H, rng, sd)};
}

Weights add_noise(const Weights& w, float sd, std::mt19937_64& rng) {
  Weights o = w;
  for (auto* v : {&o.act, &o.up, &o.down}) {
    const auto n = gaussian(v->size(), rng, sd);
    for (std::size_t k = 0; k < v->size(); ++k) (*v)[k] += n[k];
  }
  return o;
}

// Upcycled experts W_e = W_F + eps_e with |eps|^2/|W_F|^2 = 1/c - 1 (D ~ c, D^F ~ sqrt(c)); or,
// with independent = true, unrelated random experts.
PlantedLayer planted(int experts, int64_t I, int64_t H, double c, bool independent, uint64_t seed) {
  std::mt19937_64 rng(seed);
  PlantedLayer p;
  p.I = I;
  p.H = H;
  const Weights f = random_weights(I, H, rng);
  const float noise = static_cast<float>(std::sqrt(1.0 / c - 1.0));
  for (int e = 0; e < experts; ++e) {
    const Weights w = independent ? random_weights(I, H, rng) : add_noise(f, noise, rng);
    p.layer.experts.push_back(p.view(w, "expert" + std::to_string(e)));
  }
  p.ffn = p.view(f, "ffn");
  p.set_router(gaussian(experts * H, rng), experts);
  return p;
}

LayerMeasurement run(PlantedLayer& p, const std::string& metric, nlohmann::json params,
                     Backend& backend, bool with_ffn = false,
                     std::shared_ptr<LayerStatistics>* cache = nullptr) {
  const Metric* m = find_metric(metric);
  EXPECT_NE(m, nullptr) << metric;
  const auto parsed = m->parse_params(params, "suite.yaml");
  LayerPlan plan;
  plan.add(m->needs(*parsed));
  auto stats = std::make_shared<LayerStatistics>(
      compute_layer_statistics({&p.layer, with_ffn ? &*p.ffn : nullptr}, plan, backend));
  LayerMeasurement out = m->measure(*stats, *parsed);
  if (cache) *cache = stats;  // the caller may inspect what was computed
  return out;
}

TEST(Registry, HasTheStaticMetrics) {
  for (const char* name :
       {"expert_weight_similarity", "expert_ffn_similarity", "matrix_agreement",
        "upcycling_consistency", "neuron_order_tau", "neuron_reorder_similarity",
        "neuron_reorder_gain", "neuron_mean_similarity", "neuron_mean_gain",
        "neuron_mean_expert_minus_ffn", "router_similarity", "gate_neuron_r", "gate_neuron_r2",
        "gate_neuron_r2_margin", "pca_dark_cross_match", "dark_cross_count"}) {
    const Metric* m = find_metric(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->name(), name);
    EXPECT_FALSE(m->description().empty());
  }
  EXPECT_EQ(find_metric("no_such_metric"), nullptr);
  EXPECT_GE(all_metrics().size(), 16u);
}

TEST(Params, BadValuesAreInputErrors) {
  const Metric* m = find_metric("expert_weight_similarity");
  EXPECT_NO_THROW(m->validate_params({{"matrix", "all"}}, "s.yaml"));
  try {
    m->validate_params({{"matrix", "gate"}}, "s.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "params.matrix");
  }
  EXPECT_THROW(m->validate_params({{"matrx", "act"}}, "s.yaml"), InputError);
  EXPECT_THROW(find_metric("neuron_order_tau")->validate_params({{"max_pairs", 0}}, "s"),
               InputError);
  EXPECT_THROW(find_metric("gate_neuron_r")->validate_params({{"matrix", "all"}}, "s"), InputError);
}

TEST(A1, UpcycledExpertsGiveDAboutCAndDFAboutSqrtC) {
  const double c = 0.3;
  PlantedLayer p = planted(5, 48, 80, c, false, 1);
  auto be = make_backend("cpu");
  for (const char* m : {"act", "up", "down", "all"}) {
    const auto d = run(p, "expert_weight_similarity", {{"matrix", m}}, *be);
    EXPECT_NEAR(d.value, c, 0.03) << m;
    EXPECT_EQ(d.resampler.n_units, 10);
    std::vector<int> all(10);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_NEAR(d.resampler.statistic(all), d.value, 1e-12);
    const auto df = run(p, "expert_ffn_similarity", {{"matrix", m}}, *be, true);
    EXPECT_NEAR(df.value, std::sqrt(c), 0.03) << m;
    EXPECT_EQ(df.resampler.n_units, 5);
    const auto u = run(p, "upcycling_consistency", {{"matrix", m}}, *be, true);
    EXPECT_NEAR(u.value, 0.0, 0.04) << m;
  }
  // All three matrices are built the same way: their pair similarities agree... only through
  // noise here, so just check the value is a correlation.
  const auto r = run(p, "matrix_agreement", {{"a", "up"}, {"b", "act"}}, *be);
  EXPECT_LE(std::fabs(r.value), 1.0);
}

TEST(A1, IndependentExpertsAreNearlyOrthogonal) {
  PlantedLayer p = planted(7, 64, 96, 0.3, true, 2);
  auto be = make_backend("cpu");
  EXPECT_LE(std::fabs(run(p, "expert_weight_similarity", {}, *be).value), 0.02);
  EXPECT_NEAR(run(p, "expert_ffn_similarity", {}, *be, true).value, 0.0, 0.02);
}

TEST(A1, MatrixAgreementFindsSharedStructure) {
  // Experts whose act and up share the same pairwise structure: up = act + small noise.
  std::mt19937_64 rng(3);
  PlantedLayer p;
  p.I = 24;
  p.H = 40;
  const Weights base = random_weights(24, 40, rng);
  for (int e = 0; e < 8; ++e) {
    Weights w = add_noise(base, 0.5f + 0.3f * e, rng);  // differing similarity per expert
    w.up = w.act;
    for (auto& x : w.up) x += 0.05f * gaussian(1, rng)[0];
    p.layer.experts.push_back(p.view(w, "e" + std::to_string(e)));
  }
  p.set_router(gaussian(8 * 40, rng), 8);
  auto be = make_backend("cpu");
  EXPECT_GE(run(p, "matrix_agreement", {{"a", "up"}, {"b", "act"}}, *be).value, 0.9);
}

TEST(A1, ReferenceModelIsRequiredWhenMissing) {
  PlantedLayer p = planted(3, 8, 8, 0.5, false, 4);
  auto be = make_backend("cpu");
  EXPECT_TRUE(find_metric("expert_ffn_similarity")->needs_reference_model());
  EXPECT_THROW(run(p, "expert_ffn_similarity", {}, *be, false), InputError);
}

// Router rows g_e = alpha * mean-neuron(W_act^e) + noise.
PlantedLayer gate_planted(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int E = 16;
  const int64_t I = 32, H = 64;
  PlantedLayer p;
  p.I = I;
  p.H = H;
  std::vector<float> router;
  // A shared offset on some experts' act neurons makes the mean-neuron similarities vary.
  const auto offset = gaussian(H, rng);
  for (int e = 0; e < E; ++e) {
    Weights w = random_weights(I, H, rng, 0.5f);
    const float share = 0.08f * static_cast<float>(e % 5);
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h) w.act[i * H + h] += share * offset[h];
    std::vector<float> mu(H, 0.f);
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h) mu[h] += w.act[i * H + h] / I;
    const auto noise = gaussian(H, rng, 0.02f);
    for (int64_t h = 0; h < H; ++h) router.push_back(3.f * mu[h] + noise[h]);
    p.layer.experts.push_back(p.view(w, "e" + std::to_string(e)));
  }
  p.set_router(router, E);
  return p;
}

TEST(A4, RouterTracksActMeanNeuronsOnly) {
  PlantedLayer p = gate_planted(5);
  auto be = make_backend("cpu");
  std::shared_ptr<LayerStatistics> cache;
  const double act = run(p, "gate_neuron_r2", {{"matrix", "act"}}, *be, false, &cache).value;
  const double up = run(p, "gate_neuron_r2", {{"matrix", "up"}}, *be, false, &cache).value;
  const double down = run(p, "gate_neuron_r2", {{"matrix", "down"}}, *be, false, &cache).value;
  EXPECT_GE(act, 0.8);
  EXPECT_LE(up, 0.15);
  EXPECT_LE(down, 0.15);
  EXPECT_GT(run(p, "gate_neuron_r", {}, *be, false, &cache).value, 0.9);
  const auto margin = run(p, "gate_neuron_r2_margin", {}, *be, false, &cache);
  EXPECT_NEAR(margin.value, act - std::max(up, down), 1e-12);
  EXPECT_EQ(margin.resampler.n_units, 16 * 15 / 2);
  std::vector<int> idx(margin.resampler.n_units);
  std::iota(idx.begin(), idx.end(), 0);
  EXPECT_NEAR(margin.resampler.statistic(idx), margin.value, 1e-12);
  EXPECT_TRUE(std::isfinite(run(p, "router_similarity", {}, *be, false, &cache).value));
}

// Expert b = expert a with neurons permuted (or not) plus small noise.
PlantedLayer order_planted(bool permute, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t I = 40, H = 24;
  PlantedLayer p;
  p.I = I;
  p.H = H;
  const Weights base = random_weights(I, H, rng);
  for (int e = 0; e < 4; ++e) {
    std::vector<int> perm(I);
    std::iota(perm.begin(), perm.end(), 0);
    if (permute && e > 0) std::shuffle(perm.begin(), perm.end(), rng);
    Weights w = add_noise(base, 0.1f, rng);
    Weights q = w;
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h) {
        q.act[i * H + h] = w.act[perm[i] * H + h];
        q.up[i * H + h] = w.up[perm[i] * H + h];
        q.down[h * I + i] = w.down[h * I + perm[i]];
      }
    p.layer.experts.push_back(p.view(q, "e" + std::to_string(e)));
  }
  p.set_router(gaussian(4 * H, rng), 4);
  return p;
}

TEST(A2, IdentityOrderGivesTauOneAndPermutationTauNearZero) {
  auto be = make_backend("cpu");
  for (const char* m : {"act", "up", "down"}) {
    PlantedLayer same = order_planted(false, 6);
    const auto tau = run(same, "neuron_order_tau", {{"matrix", m}}, *be);
    EXPECT_NEAR(tau.value, 1.0, 1e-12) << m;
    EXPECT_EQ(tau.resampler.n_units, 6);
    PlantedLayer shuffled = order_planted(true, 7);
    std::shared_ptr<LayerStatistics> cache;
    const auto t = run(shuffled, "neuron_order_tau", {{"matrix", m}}, *be, false, &cache);
    EXPECT_LE(std::fabs(t.value), 0.25) << m;
    // Reordering recovers the shared weights: similarity ~ 1 / (1 + 0.01 * 2) after matching.
    const auto s = run(shuffled, "neuron_reorder_similarity", {{"matrix", m}}, *be, false, &cache);
    EXPECT_GE(s.value, 0.95) << m;
    const auto g = run(shuffled, "neuron_reorder_gain", {{"matrix", m}}, *be, false, &cache);
    EXPECT_GT(g.value, 1.0) << m;
    const auto limited =
        run(shuffled, "neuron_order_tau", {{"matrix", m}, {"max_pairs", 2}}, *be, false, &cache);
    EXPECT_EQ(limited.resampler.n_units, 2);
  }
}

TEST(A3, SharedNeuronOffsetRaisesMeanNeuronSimilarity) {
  // Every act neuron of every expert carries the same offset vector: matrix-level cosines stay
  // small, mean neurons become nearly parallel.
  std::mt19937_64 rng(8);
  const int64_t I = 64, H = 48;
  PlantedLayer p;
  p.I = I;
  p.H = H;
  const auto offset = gaussian(H, rng, 0.5f);
  for (int e = 0; e < 6; ++e) {
    Weights w = random_weights(I, H, rng);
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h) w.act[i * H + h] += offset[h];
    p.layer.experts.push_back(p.view(w, "e" + std::to_string(e)));
  }
  p.ffn = p.view(random_weights(I, H, rng), "ffn");
  p.set_router(gaussian(6 * H, rng), 6);
  auto be = make_backend("cpu");
  EXPECT_GE(run(p, "neuron_mean_similarity", {{"matrix", "act"}}, *be).value, 0.7);
  EXPECT_LE(std::fabs(run(p, "neuron_mean_similarity", {{"matrix", "up"}}, *be).value), 0.2);
  EXPECT_GE(run(p, "neuron_mean_gain", {}, *be).value, 0.5);
  EXPECT_GE(run(p, "neuron_mean_expert_minus_ffn", {}, *be, true).value, 0.5);
}

TEST(A5, DarkCrossExpertIsThePcaOutlier) {
  // Seven experts upcycled from one FFN, expert 3 independent: a dark cross at 3.
  std::mt19937_64 rng(9);
  const int64_t I = 32, H = 48;
  PlantedLayer p;
  p.I = I;
  p.H = H;
  const Weights f = random_weights(I, H, rng);
  for (int e = 0; e < 8; ++e) {
    const Weights w = e == 3 ? random_weights(I, H, rng) : add_noise(f, 1.0f, rng);
    p.layer.experts.push_back(p.view(w, "e" + std::to_string(e)));
  }
  p.set_router(gaussian(8 * H, rng), 8);
  auto be = make_backend("cpu");
  const auto count = run(p, "dark_cross_count", {{"matrix", "act"}}, *be);
  EXPECT_EQ(count.value, 1.0);
  EXPECT_EQ(count.detail["dark_cross"], nlohmann::json::array({3}));
  const auto match = run(p, "pca_dark_cross_match", {{"matrix", "act"}}, *be);
  EXPECT_EQ(match.detail["pca_outliers"], nlohmann::json::array({3}));
  EXPECT_EQ(match.value, 1.0);
  EXPECT_TRUE(match.resampler.empty());

  // Identical-origin experts without an outlier: no dark cross, so the match is undefined.
  PlantedLayer q = planted(8, 32, 48, 0.5, false, 10);
  const auto none = run(q, "pca_dark_cross_match", {}, *be);
  if (run(q, "dark_cross_count", {}, *be).value == 0.0) EXPECT_TRUE(std::isnan(none.value));
}

bool is_dynamic_metric(const Metric& m) {
  for (const Need& n : m.needs(*m.parse_params({}, "s.yaml")))
    if (is_dynamic(n.what)) return true;
  return false;
}

TEST(Backends, AllStaticMetricsAgreeBetweenCpuAndReference) {
  PlantedLayer p = planted(5, 21, 34, 0.4, false, 11);
  auto cpu = make_backend("cpu");
  auto ref = make_backend("reference");
  for (const Metric* m : all_metrics()) {
    if (m->analysis() < "A1" || m->analysis() > "A5" || is_dynamic_metric(*m)) continue;
    const auto a = run(p, m->name(), {}, *cpu, true);
    const auto b = run(p, m->name(), {}, *ref, true);
    if (std::isnan(b.value))
      EXPECT_TRUE(std::isnan(a.value)) << m->name();
    else
      EXPECT_NEAR(a.value, b.value, 1e-5) << m->name();
  }
}

// The runner's per-layer needs union: with PCA on act only, up and down skip the standardised Gram
// and every static metric (A2 excepted: it does not use the layer pass) keeps its exact value.
TEST(Needs, StandardizedGramOnlyWhereNeededGivesIdenticalValues) {
  PlantedLayer p = planted(6, 24, 40, 0.4, false, 12);
  auto be = make_backend("cpu");
  std::vector<const Metric*> metrics;
  LayerPlan needs;
  for (const Metric* m : all_metrics())
    // (not the dynamic ones: "A10", "A12/..." sort between "A1" and "A5")
    if (m->analysis() >= "A1" && m->analysis() <= "A5" && m->analysis() != "A2" &&
        !is_dynamic_metric(*m)) {
      metrics.push_back(m);
      needs.add(m->needs(*m->parse_params({}, "s.yaml")));  // PCA defaults to matrix: act
    }
  EXPECT_TRUE(needs.standardized[0]);
  EXPECT_FALSE(needs.standardized[1]);
  EXPECT_FALSE(needs.standardized[2]);

  auto measure_all = [&](const LayerPlan& plan, std::shared_ptr<LayerStatistics>& cache) {
    cache =
        std::make_shared<LayerStatistics>(compute_layer_statistics({&p.layer, &*p.ffn}, plan, *be));
    std::vector<LayerMeasurement> out;
    for (const Metric* m : metrics) out.push_back(m->measure(*cache, *m->parse_params({}, "s")));
    return out;
  };
  LayerPlan everything = needs;
  for (bool& b : everything.standardized) b = true;
  std::shared_ptr<LayerStatistics> full_cache, lean_cache;
  const auto full = measure_all(everything, full_cache);
  const auto lean = measure_all(needs, lean_cache);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    if (std::isnan(full[i].value))
      EXPECT_TRUE(std::isnan(lean[i].value)) << metrics[i]->name();
    else
      EXPECT_EQ(full[i].value, lean[i].value) << metrics[i]->name();
    EXPECT_EQ(full[i].detail, lean[i].detail) << metrics[i]->name();
  }
  EXPECT_EQ(lean_cache->matrices[1]->stats.standardized_gram.rows, 0);
  EXPECT_EQ(lean_cache->matrices[2]->stats.standardized_gram.rows, 0);
  EXPECT_EQ(full_cache->matrices[1]->stats.standardized_gram.rows, 7);
}

// The plan is the only source of intermediates: every metric measures from exactly what it
// declares (an undeclared read would throw), and from nothing it cannot.
TEST(Plan, EveryMetricMeasuresFromItsDeclaredNeeds) {
  PlantedLayer p = planted(6, 24, 40, 0.4, false, 13);
  auto be = make_backend("cpu");
  // The dynamic metrics' inputs: a probe of 16 tokens in two sequences, a top-2 softmax router
  // and, for the routing comparison, the same router as the baseline.
  std::mt19937_64 rng(14);
  const auto x = make_tensor(gaussian(16 * 40, rng), {16, 40}, DType::F32, "layers.0.moe_input");
  LayerActivations acts;
  acts.x = x->view;
  ProbeInfo probe;
  probe.name = "plan test";
  probe.source = "memory";
  probe.tokens = 16;
  probe.hidden = 40;
  probe.sequence_starts = {0, 8};
  probe.bos_mask.assign(16, 0);
  probe.bos_mask[0] = probe.bos_mask[8] = 1;
  RoutingConvention convention;
  convention.top_k = 2;
  const RouterRule rule = make_router_rule(convention, 6, nlohmann::json::object(), "config.json");
  LayerInputs in{&p.layer, &*p.ffn};
  in.activations = &acts;
  in.probe = &probe;
  in.router_rule = &rule;
  in.baseline_route = [&](int, const TensorView& t, Backend& b) {
    return route_layer(p.layer, rule, t, b);
  };
  for (const Metric* m : all_metrics()) {
    const auto params = m->parse_params({}, "s.yaml");
    LayerPlan plan;
    plan.add(m->needs(*params));
    const LayerStatistics declared = compute_layer_statistics(in, plan, *be);
    EXPECT_NO_THROW(m->measure(declared, *params)) << m->name();
    const LayerStatistics nothing = compute_layer_statistics(in, {}, *be);
    EXPECT_THROW(m->measure(nothing, *params), std::logic_error) << m->name();
  }
}

}  // namespace
}  // namespace moeprobe
