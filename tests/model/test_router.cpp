// Routing conventions: hand-checked cases for each convention, and the HF fixtures (MoE blocks of
// Mixtral, Qwen2-MoE, Qwen1.5-MoE, Qwen3-MoE and DeepSeek-V3's routing) evaluated in float64.
#include <gtest/gtest.h>

#include <cmath>

#include "../forward/moe_block_fixture.h"
#include "model/router.h"
#include "util/error.h"

namespace moeprobe {
namespace {

RoutingConvention softmax_topk(int k, bool renormalize) {
  RoutingConvention rc;
  rc.top_k = k;
  rc.renormalize = renormalize;
  return rc;
}

RouterRule rule_of(const RoutingConvention& rc, int experts, const nlohmann::json& config = {}) {
  return make_router_rule(rc, experts, config.is_null() ? nlohmann::json::object() : config,
                          "config.json");
}

TEST(Router, SoftmaxTopKWithoutRenormalisation) {
  const RouterRule rule = rule_of(softmax_topk(2, false), 4);
  const double logits[4] = {0.0, 2.0, 1.0, -1.0};
  int ex[2];
  double w[2];
  route_token<double>(rule, logits, nullptr, ex, w);
  const double z = 1 + std::exp(2.0) + std::exp(1.0) + std::exp(-1.0);
  EXPECT_EQ(ex[0], 1);
  EXPECT_EQ(ex[1], 2);
  EXPECT_NEAR(w[0], std::exp(2.0) / z, 1e-15);
  EXPECT_NEAR(w[1], std::exp(1.0) / z, 1e-15);
}

TEST(Router, MixtralTopKThenSoftmaxEqualsRenormalisedSoftmax) {
  RoutingConvention rc = softmax_topk(2, false);
  rc.softmax_before_topk = false;
  const RouterRule rule = rule_of(rc, 4);
  const float logits[4] = {0.5f, 2.0f, 1.0f, -1.0f};
  int ex[2];
  float w[2];
  route_token<float>(rule, logits, nullptr, ex, w);
  EXPECT_EQ(ex[0], 1);
  EXPECT_EQ(ex[1], 2);
  EXPECT_NEAR(w[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);  // softmax over the two selected logits
  EXPECT_NEAR(w[0] + w[1], 1.0, 1e-6);
}

TEST(Router, TiesGoToTheLowerExpertIndex) {
  const RouterRule rule = rule_of(softmax_topk(3, true), 6);
  const double logits[6] = {1.0, 3.0, 1.0, 3.0, 1.0, 0.0};
  int ex[3];
  double w[3];
  route_token<double>(rule, logits, nullptr, ex, w);
  EXPECT_EQ(ex[0], 1);
  EXPECT_EQ(ex[1], 3);
  EXPECT_EQ(ex[2], 0);
}

TEST(Router, SixteenOfManyExperts) {
  const int n = 64;
  const RouterRule rule = rule_of(softmax_topk(16, true), n);
  std::vector<float> logits(n);
  for (int e = 0; e < n; ++e) logits[e] = static_cast<float>((e * 37) % n);
  int ex[16];
  float w[16];
  route_token<float>(rule, logits.data(), nullptr, ex, w);
  float sum = 0;
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(logits[ex[i]], static_cast<float>(n - 1 - i));
    sum += w[i];
  }
  EXPECT_NEAR(sum, 1.0f, 1e-6f);
}

TEST(Router, SigmoidBiasSelectsButDoesNotWeigh) {
  RoutingConvention rc;
  rc.scoring = Scoring::Sigmoid;
  rc.selection_bias = true;
  rc.renormalize = false;
  rc.routed_scaling_factor = 2.0;
  rc.top_k = 1;
  const RouterRule rule = rule_of(rc, 2);
  const double logits[2] = {1.0, 0.0};
  const double bias[2] = {0.0, 1.0};  // expert 1 wins on 0.5 + 1 > 0.73
  int ex[1];
  double w[1];
  route_token<double>(rule, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 1);
  EXPECT_NEAR(w[0], 2.0 * 0.5, 1e-15);
}

TEST(Router, GroupLimitedGreedyScoresGroupsByTheirBestExpert) {
  RoutingConvention rc = softmax_topk(2, false);
  rc.n_group = 2;
  rc.topk_group = 1;
  // Group 0 = {0, 1}: best 2.0; group 1 = {2, 3}: best 1.9 but a larger top-two sum.
  const double logits[4] = {2.0, -5.0, 1.9, 1.8};
  int ex[2];
  double w[2];
  route_token<double>(rule_of(rc, 4, {{"topk_method", "group_limited_greedy"}}), logits, nullptr,
                      ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 1);
  route_token<double>(rule_of(rc, 4, {{"topk_method", "noaux_tc"}}), logits, nullptr, ex, w);
  EXPECT_EQ(ex[0], 2);
  EXPECT_EQ(ex[1], 3);
  // "greedy" ignores the groups.
  route_token<double>(rule_of(rc, 4, {{"topk_method", "greedy"}}), logits, nullptr, ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 2);
}

TEST(Router, RejectsImpossibleRules) {
  EXPECT_THROW(rule_of(softmax_topk(17, false), 64), InputError);
  EXPECT_THROW(rule_of(softmax_topk(5, false), 4), InputError);
  RoutingConvention rc = softmax_topk(2, false);
  rc.n_group = 3;
  EXPECT_THROW(rule_of(rc, 8, {{"topk_method", "noaux_tc"}}), InputError);
  EXPECT_THROW(rule_of(softmax_topk(2, false), 8, {{"topk_method", "sinkhorn"}}), InputError);
}

TEST(RouterHfFixtures, DeepSeekV3RoutingMatchesTransformers) {
  const testutil::BlockFixture b = testutil::load_v3_route_ref();
  std::vector<int> chosen;
  std::vector<double> weights;
  const std::vector<double> out = testutil::block_f64(b, &chosen, &weights);
  const int k = b.rule.convention.top_k, n = b.rule.num_experts;
  const auto& selected = b.meta.at("selected_experts");
  const auto dense = b.meta.at("dense_combine_weights").get<std::vector<double>>();
  for (int64_t t = 0; t < b.tokens; ++t) {
    std::vector<int> got(chosen.begin() + t * k, chosen.begin() + (t + 1) * k);
    std::vector<int> want = selected.at(t).get<std::vector<int>>();
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "token " << t;
    std::vector<double> row(static_cast<std::size_t>(n), 0.0);
    for (int i = 0; i < k; ++i) row[chosen[t * k + i]] = weights[t * k + i];
    for (int e = 0; e < n; ++e) EXPECT_NEAR(row[e], dense[t * n + e], 1e-6) << t << "," << e;
  }
  EXPECT_LT(testutil::relative_max_error(out, b.expected), 1e-6);
}

class RouterHfBlock : public ::testing::TestWithParam<std::string> {};

TEST_P(RouterHfBlock, Float64BlockMatchesTransformers) {
  const testutil::BlockFixture b = testutil::load_hf_block(GetParam());
  EXPECT_LT(testutil::relative_max_error(testutil::block_f64(b), b.expected), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Blocks, RouterHfBlock,
                         ::testing::Values("mixtral_layer0", "qwen2_moe_layer0",
                                           "qwen15_moe_layer0", "qwen3_moe_layer0"));

}  // namespace
}  // namespace moeprobe
