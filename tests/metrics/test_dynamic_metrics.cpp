// The dynamic metrics (A7-A12) wired to LayerStatistics: hand-built routing and all-experts
// statistics whose metric values are worked out by hand (BOS exclusion, resampling units, the
// probe in the detail, super-expert exclusion).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "metrics/layer_statistics.h"
#include "metrics/metric.h"
#include "util/error.h"

namespace moeprobe {
namespace {

// 4 tokens in two sequences [0, 1] and [2, 3], BOS at 0 and 2; 3 experts, top-2.
struct Fixture {
  ProbeInfo probe;
  LayerStatistics ls;
  Fixture() {
    probe.name = "hand probe";
    probe.source = "memory";
    probe.tokens = 4;
    probe.hidden = 2;
    probe.sequence_starts = {0, 2};
    probe.bos_mask = {1, 0, 1, 0};
    ls.layer = 5;
    ls.num_experts = 3;
    ls.probe = &probe;
    RoutingData r;
    r.tokens = 4;
    r.experts = 3;
    r.top_k = 2;
    r.probabilities = Matrix(4, 3);
    const double p[4][3] = {{0.6, 0.3, 0.1}, {0.2, 0.7, 0.1}, {0.1, 0.1, 0.8}, {0.5, 0.25, 0.25}};
    for (int t = 0; t < 4; ++t)
      for (int e = 0; e < 3; ++e) r.probabilities(t, e) = p[t][e];
    r.logits = r.scores = r.probabilities;
    r.selected = {0, 1, 1, 0, 2, 0, 0, 1};
    r.weights = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    ls.routing = r;
    AllExpertsStats s;
    s.tokens = 4;
    s.entities = 3;
    s.num_experts = 3;
    s.entity_neurons = {10, 10, 10};
    // Largest norm: t0 expert 1 (disagrees with top-1 score 0), t1 expert 1 (agrees), t2
    // expert 0 (disagrees), t3 expert 0 (agrees).
    s.norms = {1, 2, 1.5, 1, 3, 2, 4, 1, 2, 5, 1, 2};
    s.mean_cosine = {0.1, 0.2, 0.3, 0.4};
    s.mean_angular = {0.5, 0.6, 0.7, 0.8};
    s.chosen_cosine = {0.3, 0.1, 0.5, 0.9};
    s.chosen_angular = {0.6, 0.55, 0.8, 0.9};
    s.all.cosine = Matrix(3, 3, 2.0);
    s.all.angular = Matrix(3, 3, 3.0);
    s.all.tokens = 4;
    s.non_bos.cosine = Matrix(3, 3, 1.0);
    s.non_bos.angular = Matrix(3, 3, 1.5);
    s.non_bos.tokens = 2;
    s.active_counts = {{10, 10, 10, 5, 5, 5, 0, 0, 0, 10, 0, 5}};
    s.act_correlation = {0.2, 0.4, 0.6, 0.8};
    ls.expert_outputs = s;
    ls.active_thresholds = {1e-3};
  }
  LayerMeasurement measure(const std::string& metric, nlohmann::json params = nullptr) const {
    const Metric* m = find_metric(metric);
    EXPECT_NE(m, nullptr) << metric;
    const auto parsed = m->parse_params(params, "suite.yaml");
    return m->measure(ls, *parsed);
  }
};

std::vector<int> all_units(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(DynamicMetrics, Top1NormAgreementWithAndWithoutBos) {
  Fixture f;
  const LayerMeasurement all = f.measure("top1_norm_agreement");
  EXPECT_EQ(all.layer, 5);
  EXPECT_DOUBLE_EQ(all.value, 0.5);
  EXPECT_EQ(all.resampler.n_units, 4);
  EXPECT_DOUBLE_EQ(all.resampler.statistic({1, 1, 3}), 1.0);
  EXPECT_DOUBLE_EQ(all.resampler.statistic({0, 2}), 0.0);
  EXPECT_EQ(all.detail["probe"]["name"], "hand probe");
  EXPECT_EQ(all.detail["probe"]["tokens"], 4);
  // Rank counts: every row and column sums to the 4 tokens.
  const auto c = all.detail["rank_count"];
  ASSERT_EQ(c.size(), 3u);
  for (int a = 0; a < 3; ++a) {
    double row = 0, col = 0;
    for (int b = 0; b < 3; ++b) {
      row += c[a][b].get<double>();
      col += c[b][a].get<double>();
    }
    EXPECT_EQ(row, 4);
    EXPECT_EQ(col, 4);
  }
  const LayerMeasurement no_bos = f.measure("top1_norm_agreement", {{"exclude_bos", true}});
  EXPECT_DOUBLE_EQ(no_bos.value, 1.0);
  EXPECT_EQ(no_bos.detail["probe"]["tokens"], 2);
  EXPECT_EQ(no_bos.detail["probe"]["exclude_bos"], true);
  const LayerMeasurement seq = f.measure("top1_norm_agreement", {{"units", "sequences"}});
  EXPECT_EQ(seq.resampler.n_units, 2);
  EXPECT_DOUBLE_EQ(seq.resampler.statistic({0, 0}), 0.5);
  EXPECT_DOUBLE_EQ(seq.resampler.statistic(all_units(2)), 0.5);
}

TEST(DynamicMetrics, CoverageSpearmanDominanceAndConfidence) {
  Fixture f;
  // Largest-norm experts 1, 1, 0, 0; chosen {0,1} {1,0} {2,0} {0,1}: all covered.
  EXPECT_DOUBLE_EQ(f.measure("topk_norm_coverage").value, 1.0);
  // Spearman per token: t0 scores (0.6,0.3,0.1) norms (1,2,1.5) -> ranks (3,2,1) vs (1,3,2):
  // rho = -0.5; t1 (0.2,0.7,0.1) vs (1,3,2): ranks (2,3,1) vs (1,3,2): rho = 0.5;
  // t2 (0.1,0.1,0.8) vs (4,1,2): ranks (1.5,1.5,3) vs (3,1,2): rho = 0.0 (Pearson of ranks);
  // t3 (0.5,0.25,0.25) vs (5,1,2): ranks (3,1.5,1.5) vs (3,1,2): rho = 0.866...
  const double r3 = 0.8660254037844386;
  EXPECT_NEAR(f.measure("norm_score_spearman").value, (-0.5 + 0.5 + 0.0 + r3) / 4, 1e-12);
  // p1/p2 per token: 2, 3.5, 8, 2 -> median 2.75.
  EXPECT_DOUBLE_EQ(f.measure("gate_confidence").value, 2.75);
  EXPECT_DOUBLE_EQ(f.measure("gate_confidence", {{"exclude_bos", true}}).value, 2.75);
  const LayerMeasurement dom = f.measure("rank_diagonal_dominance");
  EXPECT_GE(dom.value, 0.0);
  EXPECT_LE(dom.value, 1.0);
  // Mean norm over tokens and experts: (4.5 + 6 + 7 + 8) / 12.
  EXPECT_NEAR(f.measure("output_norm_mean").value, 25.5 / 12, 1e-12);
}

TEST(DynamicMetrics, TopkSetsLiftAndTopNormRanks) {
  Fixture f;
  // Top-2 by score / by norm: t0 {0,1} / {1,2}; t1 {0,1} / {1,2}; t2 {2,0} (the tie 0.1 = 0.1
  // goes to expert 0) / {0,2}; t3 {0,1} / {0,2}: one token of four.
  EXPECT_DOUBLE_EQ(f.measure("topk_norm_set_agreement").value, 0.25);
  // A_top1 = 0.5 with 3 experts: 1.5 x chance.
  EXPECT_DOUBLE_EQ(f.measure("top1_norm_lift").value, 1.5);
  // The largest-norm experts have score ranks 1, 2, 1, 2 (0 = smallest): the modal score rank of
  // norm rank 2 is the tie 1 vs 2, which goes to 1, not the top one.
  EXPECT_DOUBLE_EQ(f.measure("top_norm_ranks_scored_high", {{"ranks", 1}}).value, 0.0);
  EXPECT_TRUE(std::isnan(f.measure("top_norm_ranks_scored_high", {{"ranks", 3}}).value));
  EXPECT_THROW(f.measure("top_norm_ranks_scored_high", {{"ranks", 0}}), InputError);
  EXPECT_THROW(f.measure("top1_norm_agreement", {{"ranks", 2}}), InputError);
  // Mean pair cosines 0.1 .. 0.4: one token at or above 0.35, none above the default 0.8.
  EXPECT_DOUBLE_EQ(f.measure("output_similarity_above", {{"threshold", 0.35}}).value, 0.25);
  EXPECT_DOUBLE_EQ(f.measure("output_similarity_above").value, 0.0);
  EXPECT_DOUBLE_EQ(
      f.measure("output_similarity_above", {{"measure", "angular"}, {"threshold", 0.7}}).value,
      0.5);
  EXPECT_THROW(f.measure("output_similarity_above", {{"threshold", 1.5}}), InputError);
}

TEST(DynamicMetrics, SuperExpertsAndTheirTokensLeftOut) {
  Fixture f;
  // Expert 2 on token 1 far above the median norm (2): the only super expert at factor 10.
  f.ls.expert_outputs->norms[1 * 3 + 2] = 100;
  const LayerMeasurement s = f.measure("super_experts");
  EXPECT_EQ(s.value, 1.0);
  EXPECT_EQ(s.detail["super_experts"], nlohmann::json::array({2}));
  EXPECT_EQ(s.detail["super_tokens"], 1);
  // Token 1 now has its largest norm on expert 2 (score top-1 is 1): agreement 1/4; without it,
  // tokens 0, 2, 3: 1/3.
  EXPECT_DOUBLE_EQ(f.measure("top1_norm_agreement").value, 0.25);
  const LayerMeasurement without =
      f.measure("top1_norm_agreement", {{"exclude_super_tokens", true}});
  EXPECT_DOUBLE_EQ(without.value, 1.0 / 3.0);
  EXPECT_EQ(without.detail["probe"]["tokens"], 3);
}

TEST(DynamicMetrics, OutputSimilarity) {
  Fixture f;
  EXPECT_DOUBLE_EQ(f.measure("expert_output_similarity").value, 0.65);
  EXPECT_DOUBLE_EQ(f.measure("expert_output_similarity", {{"measure", "cosine"}}).value, 0.25);
  EXPECT_DOUBLE_EQ(
      f.measure("expert_output_similarity", {{"pairs", "chosen"}, {"measure", "cosine"}}).value,
      0.45);
  const LayerMeasurement no_bos = f.measure("expert_output_similarity", {{"exclude_bos", true}});
  EXPECT_DOUBLE_EQ(no_bos.value, 0.7);
  // Mean matrix: non-BOS angular sums 1.5 over 2 tokens.
  EXPECT_DOUBLE_EQ(no_bos.detail["mean_output_similarity"][0][1].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(
      f.measure("expert_output_similarity").detail["mean_output_similarity"][2][0].get<double>(),
      0.75);
  // Chosen more alike (cosine): 0.3 > 0.1, 0.1 < 0.2, 0.5 > 0.3, 0.9 > 0.4.
  EXPECT_DOUBLE_EQ(f.measure("chosen_pair_more_alike").value, 0.75);
  EXPECT_THROW(f.measure("expert_output_similarity", {{"measure", "dot"}}), InputError);
  EXPECT_THROW(f.measure("expert_output_similarity", {{"pairs", "some"}}), InputError);
  // No shared block: S_ee - S_se is NaN (not applicable).
  EXPECT_TRUE(std::isnan(f.measure("output_similarity_expert_minus_shared").value));
  f.ls.expert_outputs->shared_angular = {0.4, 0.4, 0.4, 0.4};
  EXPECT_NEAR(f.measure("output_similarity_expert_minus_shared").value, 0.25, 1e-12);
}

TEST(DynamicMetrics, WeightOutputPearsonOverExpertPairs) {
  Fixture f;
  MatrixStatistics w;
  w.cosine = Matrix(3, 3, 1.0);
  w.cosine(1, 0) = w.cosine(0, 1) = 0.1;
  w.cosine(2, 0) = w.cosine(0, 2) = 0.2;
  w.cosine(2, 1) = w.cosine(1, 2) = 0.4;
  w.mean_cosine = w.cosine;
  f.ls.matrices[0] = w;
  Matrix& a = f.ls.expert_outputs->all.angular;  // sums over 4 tokens
  a(1, 0) = a(0, 1) = 4 * 0.3;
  a(2, 0) = a(0, 2) = 4 * 0.5;
  a(2, 1) = a(1, 2) = 4 * 0.9;
  // Pairs (1,0), (2,0), (2,1): weights (0.1, 0.2, 0.4) vs outputs (0.3, 0.5, 0.9): exactly linear.
  const LayerMeasurement m = f.measure("weight_output_similarity_pearson");
  EXPECT_NEAR(m.value, 1.0, 1e-12);
  EXPECT_EQ(m.resampler.n_units, 3);
}

TEST(DynamicMetrics, ActivationRatioAndVerticalLines) {
  Fixture f;
  // Per token active fraction: 30/30, 15/30, 0, 15/30 -> mean 0.5.
  EXPECT_DOUBLE_EQ(f.measure("activation_ratio").value, 0.5);
  EXPECT_DOUBLE_EQ(f.measure("activation_ratio", {{"exclude_bos", true}}).value, 0.5);
  EXPECT_THROW(f.measure("activation_ratio", {{"threshold", 0.01}}),
               std::logic_error);  // unplanned
  EXPECT_DOUBLE_EQ(f.measure("act_vertical_lines").value, 0.5);
  EXPECT_DOUBLE_EQ(f.measure("act_vertical_lines", {{"exclude_bos", true}}).value, 0.6);
}

TEST(DynamicMetrics, RoutingPatterns) {
  Fixture f;
  // Selection counts over 4 tokens: expert 0: 4, expert 1: 3, expert 2: 1.
  const double h = -(0.5 * std::log(0.5) + 0.375 * std::log(0.375) + 0.125 * std::log(0.125));
  const LayerMeasurement e = f.measure("routing_entropy");
  EXPECT_NEAR(e.value, h / std::log(3.0), 1e-12);
  EXPECT_EQ(e.detail["selection_counts"], nlohmann::json::array({4.0, 3.0, 1.0}));
  EXPECT_NEAR(f.measure("top_expert_share").value, 1.0, 1e-12);
  EXPECT_EQ(f.measure("dead_experts").value, 0.0);
  // mean 8/3; max violation 4 / (8/3) - 1 = 0.5.
  EXPECT_NEAR(f.measure("load_balance_max_violation").value, 0.5, 1e-12);
  // Runs: expert 0 is chosen by tokens 0, 1 (sequence 1) and 2, 3 (sequence 2): longest 2.
  const LayerMeasurement run = f.measure("routing_longest_run");
  EXPECT_EQ(run.value, 2.0);
  EXPECT_TRUE(run.resampler.empty());
  // Fig. 14's map: token rows, the combine weight of each chosen expert, 0 elsewhere.
  const nlohmann::json map = {{0.5, 0.5, 0.0}, {0.5, 0.5, 0.0}, {0.5, 0.0, 0.5}, {0.5, 0.5, 0.0}};
  EXPECT_EQ(run.detail["routing_map"], map);
  EXPECT_EQ(f.measure("routing_longest_run", {{"exclude_bos", true}}).value, 1.0);
}

TEST(DynamicMetrics, NoTokensLeftIsBadInput) {
  Fixture f;
  f.probe.bos_mask = {1, 1, 1, 1};
  try {
    f.measure("top1_norm_agreement", {{"exclude_bos", true}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hand probe"), std::string::npos) << e.what();
  }
}

TEST(DynamicMetrics, ParamsAreValidated) {
  for (const char* name : {"top1_norm_agreement", "expert_output_similarity", "activation_ratio",
                           "routing_entropy", "gate_confidence"}) {
    const Metric* m = find_metric(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_THROW(m->validate_params({{"exclude_bos", "yes"}}, "s"), InputError) << name;
    EXPECT_THROW(m->validate_params({{"units", "layers"}}, "s"), InputError) << name;
    EXPECT_THROW(m->validate_params({{"no_such", 1}}, "s"), InputError) << name;
  }
  EXPECT_THROW(find_metric("activation_ratio")->validate_params({{"threshold", -1}}, "s"),
               InputError);
  EXPECT_THROW(find_metric("super_experts")->validate_params({{"super_factor", 0.5}}, "s"),
               InputError);
}

}  // namespace
}  // namespace moeprobe
