// Routing as data: route_layer through the reference and CPU backends on DeepSeek-V3's routing
// fixture (transformers' selection and weights), and route_logits on every expert count the
// issue names (8 .. 384) and k up to 16 against an independent brute-force selection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "../forward/moe_block_fixture.h"
#include "../kernels/test_tensors.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "model/routing_data.h"

namespace moeprobe {
namespace {

TEST(RoutingData, DeepSeekV3FixtureMatchesTransformersOnEveryBackend) {
  const testutil::BlockFixture b = testutil::load_v3_route_ref();
  const TensorView hidden = b.file->view("hidden");
  const auto dense = b.meta.at("dense_combine_weights").get<std::vector<double>>();
  const int n = b.rule.num_experts, k = b.rule.convention.top_k;
  ReferenceBackend ref;
  CpuBackend cpu(2);
  for (Backend* backend : {static_cast<Backend*>(&ref), static_cast<Backend*>(&cpu)}) {
    const RoutingData d = route_layer(b.layer, b.rule, hidden, *backend);
    ASSERT_EQ(d.tokens, b.tokens);
    ASSERT_EQ(d.top_k, k);
    for (int64_t t = 0; t < d.tokens; ++t) {
      std::vector<int> want = b.meta.at("selected_experts").at(t).get<std::vector<int>>();
      std::vector<int> got(d.selected.begin() + t * k, d.selected.begin() + (t + 1) * k);
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << backend->name() << " token " << t;
      std::vector<double> row(static_cast<std::size_t>(n), 0.0);
      for (int i = 0; i < k; ++i) row[d.selected_expert(t, i)] = d.weights[t * k + i];
      for (int e = 0; e < n; ++e) EXPECT_NEAR(row[e], dense[t * n + e], 1e-6);
      double psum = 0;
      for (int e = 0; e < n; ++e) {
        psum += d.probabilities(t, e);
        // V3 scores are sigmoids of the logits; the probabilities a full softmax.
        EXPECT_NEAR(d.scores(t, e), 1 / (1 + std::exp(-d.logits(t, e))), 1e-15);
      }
      EXPECT_NEAR(psum, 1.0, 1e-12);
    }
  }
  // Both backends compute the logits in float64.
  const RoutingData r = route_layer(b.layer, b.rule, hidden, ref);
  const RoutingData c = route_layer(b.layer, b.rule, hidden, cpu);
  for (std::size_t i = 0; i < r.logits.data.size(); ++i)
    EXPECT_NEAR(c.logits.data[i], r.logits.data[i], 1e-12);
}

// Softmax -> top-k with or without renormalisation (Qwen, OLMoE, DeepSeek-V1/V2 greedy, Grok:
// softmax over all experts then top-k, unnormalised) and Mixtral's top-k -> softmax, on
// brute-force expectations: sort by (probability desc, index asc).
TEST(RoutingData, AnyExpertCountAndTopKAgainstBruteForce) {
  std::mt19937_64 rng(5);
  for (int E : {8, 60, 64, 128, 160, 256, 384})
    for (int k : {1, 2, 6, 8, 16})
      for (int variant = 0; variant < 3 && k <= E; ++variant) {
        RoutingConvention rc;
        rc.top_k = k;
        rc.renormalize = variant == 1;
        rc.softmax_before_topk = variant != 2;  // 2: Mixtral
        const RouterRule rule = make_router_rule(rc, E, nlohmann::json::object(), "config.json");
        const int64_t T = 3;
        Matrix logits(T, E);
        std::normal_distribution<double> g(0, 2);
        for (double& v : logits.data) v = std::round(g(rng) * 4) / 4;  // ties are common
        const RoutingData d = route_logits(rule, logits, nullptr);
        for (int64_t t = 0; t < T; ++t) {
          std::vector<int> order(static_cast<std::size_t>(E));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(),
                           [&](int a, int b) { return logits(t, a) > logits(t, b); });
          double z = 0, zk = 0;
          for (int e = 0; e < E; ++e) z += std::exp(logits(t, e));
          for (int i = 0; i < k; ++i) zk += std::exp(logits(t, order[i]));
          for (int i = 0; i < k; ++i) {
            ASSERT_EQ(d.selected_expert(t, i), order[i]) << E << " " << k << " " << variant;
            const double p = std::exp(logits(t, order[i])) / z;
            const double want = variant == 0 ? p : std::exp(logits(t, order[i])) / zk;
            EXPECT_NEAR(d.weights[t * k + i], want, 1e-12);
            EXPECT_NEAR(d.probabilities(t, order[i]), p, 1e-12);
          }
        }
      }
}

TEST(RoutingData, RouterBiasIsAddedToTheLogits) {
  std::mt19937_64 rng(2);
  const int E = 5, H = 7, T = 4;
  auto w = test::make_tensor(test::gaussian(E * H, rng), {E, H}, DType::F32, "router");
  auto bias = test::make_tensor({0, 0, 0, 50, 0}, {E}, DType::F32, "router_bias");
  auto x = test::make_tensor(test::gaussian(T * H, rng), {T, H}, DType::F32, "x");
  MoeLayer layer;
  layer.router = w->view;
  layer.router_bias = bias->view;
  RoutingConvention rc;
  rc.top_k = 1;
  const RouterRule rule = make_router_rule(rc, E, nlohmann::json::object(), "config.json");
  ReferenceBackend ref;
  const RoutingData d = route_layer(layer, rule, x->view, ref);
  for (int64_t t = 0; t < T; ++t) EXPECT_EQ(d.selected_expert(t, 0), 3);
}

}  // namespace
}  // namespace moeprobe
