// The dynamic analyses' per-token math on small hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/token_statistics.h"

namespace moeprobe {
namespace {

TEST(TokenStatistics, RanksBreakTiesTowardsTheLowerIndex) {
  const double v[] = {0.2, 0.5, 0.2, 0.1};
  EXPECT_EQ(ascending_ranks(v, 4), (std::vector<int>{2, 3, 1, 0}));
  const double w[] = {0.3, 0.3, 0.1};
  EXPECT_EQ(argmax_lowest(w, 3), 0);
  EXPECT_EQ(ascending_ranks(w, 3), (std::vector<int>{2, 1, 0}));
}

TEST(TokenStatistics, RankCountMatrixByHand) {
  // 3 experts, 2 tokens.
  // t0: scores (0.7, 0.2, 0.1) ranks (2,1,0); norms (3, 1, 2) ranks (2,0,1)
  // t1: scores (0.1, 0.3, 0.6) ranks (0,1,2); norms (1, 2, 3) ranks (0,1,2)
  const std::vector<double> s = {0.7, 0.2, 0.1, 0.1, 0.3, 0.6};
  const std::vector<double> n = {3, 1, 2, 1, 2, 3};
  const Matrix c = rank_count_matrix(s, n, 3, {0, 1});
  // t0: (s2,r2) (s1,r0) (s0,r1); t1: (0,0) (1,1) (2,2)
  const double want[3][3] = {{1, 1, 0}, {1, 1, 0}, {0, 0, 2}};
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) EXPECT_EQ(c(a, b), want[a][b]) << a << "," << b;
  // Column 0: C[0][0] = 1 ties C[1][0] = 1 -> not strictly dominant; column 1: C[1][1] = 1 ties
  // C[0][1]; column 2: dominant.
  EXPECT_NEAR(rank_diagonal_dominance(c), 1.0 / 3.0, 1e-15);
  const Matrix only1 = rank_count_matrix(s, n, 3, {1});
  EXPECT_EQ(rank_diagonal_dominance(only1), 1.0);
  EXPECT_EQ(top1_norm_agreement(&s[0], &n[0], 3), 1.0);
  EXPECT_EQ(top1_norm_agreement(&s[3], &n[3], 3), 1.0);
  const double n2[] = {1, 5, 2};
  EXPECT_EQ(top1_norm_agreement(&s[0], n2, 3), 0.0);
  const int chosen_hit[] = {0, 1}, chosen_miss[] = {0, 2};
  EXPECT_EQ(topk_norm_coverage(chosen_hit, 2, n2, 3), 1.0);
  EXPECT_EQ(topk_norm_coverage(chosen_miss, 2, n2, 3), 0.0);
}

TEST(TokenStatistics, TopkSetAgreementAndTopNormRanks) {
  const double s[] = {0.4, 0.1, 0.3, 0.2}, same[] = {9, 1, 5, 2}, other[] = {9, 5, 1, 2};
  EXPECT_EQ(topk_set_agreement(s, same, 4, 2), 1.0);   // {0, 2} both ways
  EXPECT_EQ(topk_set_agreement(s, other, 4, 2), 0.0);  // {0, 2} vs {0, 1}
  EXPECT_EQ(topk_set_agreement(s, other, 4, 1), 1.0);
  const double tie[] = {1, 1, 0, 0};  // ties: the lower index ranks higher, {0, 1}
  const double s01[] = {0.3, 0.3, 0.2, 0.2};
  EXPECT_EQ(topk_set_agreement(s01, tie, 4, 2), 1.0);
  // C[s][r], 4 experts: columns r = 3, 2 have modal score ranks 3 and 1.
  Matrix c(4, 4);
  c(3, 3) = 5;
  c(2, 3) = 1;
  c(1, 2) = 4;
  c(2, 2) = 2;
  EXPECT_NEAR(top_norm_ranks_scored_high(c, 1), 1.0, 1e-15);
  EXPECT_NEAR(top_norm_ranks_scored_high(c, 2), 0.5, 1e-15);
  c(2, 2) = 4;  // a tie between score ranks 1 and 2 goes to the lower one
  EXPECT_NEAR(top_norm_ranks_scored_high(c, 2), 0.5, 1e-15);
  EXPECT_TRUE(std::isnan(top_norm_ranks_scored_high(c, 4)));
  EXPECT_TRUE(std::isnan(top_norm_ranks_scored_high(c, 0)));
}

TEST(TokenStatistics, SpearmanAndGateConfidence) {
  const double s[] = {0.1, 0.2, 0.3, 0.4}, n[] = {1, 3, 2, 4};
  // ranks (1,2,3,4) vs (1,3,2,4): d^2 = 0+1+1+0 = 2, rho = 1 - 6*2/(4*15) = 0.8
  EXPECT_NEAR(norm_score_spearman(s, n, 4), 0.8, 1e-12);
  const double p[] = {0.1, 0.6, 0.3};
  EXPECT_NEAR(gate_confidence(p, 3), 2.0, 1e-15);
  const double q[] = {1.0, 0.0};
  EXPECT_TRUE(std::isinf(gate_confidence(q, 2)));
  EXPECT_TRUE(std::isnan(gate_confidence(q, 1)));
  const double tie[] = {0.4, 0.4, 0.2};
  EXPECT_EQ(gate_confidence(tie, 3), 1.0);
}

TEST(TokenStatistics, SuperExpertsAndTheTokensTheyDominate) {
  // 3 experts x 4 tokens; median of the 12 norms is 1; expert 2 reaches 50 on token 1, expert 0
  // 8 on token 3.
  const std::vector<double> n = {1, 1, 1, 1, 1, 50, 1, 1, 1, 8, 1, 1};
  const SuperExperts s = find_super_experts(n, 3, {0, 1, 2, 3}, 10.0);
  EXPECT_EQ(s.median_norm, 1.0);
  EXPECT_EQ(s.experts, (std::vector<int>{2}));
  EXPECT_EQ(s.tokens, (std::vector<int64_t>{1}));
  EXPECT_EQ(s.max_ratio, (std::vector<double>{50.0}));
  const SuperExperts low = find_super_experts(n, 3, {0, 1, 2, 3}, 5.0);
  EXPECT_EQ(low.experts, (std::vector<int>{0, 2}));
  EXPECT_EQ(low.tokens, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(tokens_without({0, 1, 2, 3}, low.tokens), (std::vector<int64_t>{0, 2}));
  // Restricted to tokens without the spike, nothing is super.
  EXPECT_TRUE(find_super_experts(n, 3, {0, 2}, 5.0).experts.empty());
}

TEST(TokenStatistics, ActiveFraction) {
  const int32_t counts[] = {3, 1};
  const int64_t neurons[] = {4, 4};
  EXPECT_EQ(active_fraction(counts, neurons, 2), 0.5);
}

TEST(TokenStatistics, SelectionEntropyAndLoadBalance) {
  // 4 experts, k = 2, 3 tokens: {0,1} {0,2} {0,1}: counts (3, 2, 1, 0)
  const std::vector<int> chosen = {0, 1, 0, 2, 0, 1};
  const auto c = selection_counts(chosen, 2, 4, {0, 1, 2});
  EXPECT_EQ(c, (std::vector<double>{3, 2, 1, 0}));
  const double h =
      -(0.5 * std::log(0.5) + (1.0 / 3) * std::log(1.0 / 3) + (1.0 / 6) * std::log(1.0 / 6));
  EXPECT_NEAR(normalized_entropy(c), h / std::log(4.0), 1e-12);
  EXPECT_NEAR(normalized_entropy({5, 5, 5, 5}), 1.0, 1e-12);
  EXPECT_NEAR(normalized_entropy({7, 0, 0, 0}), 0.0, 1e-12);
  const LoadBalance lb = load_balance(c);
  // mean 1.5, population variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
  EXPECT_NEAR(lb.cv, std::sqrt(1.25) / 1.5, 1e-12);
  EXPECT_NEAR(lb.max_violation, 1.0, 1e-12);
  EXPECT_EQ(lb.dead, 1);
  EXPECT_EQ(selection_counts(chosen, 2, 4, {1}), (std::vector<double>{1, 0, 1, 0}));
}

TEST(TokenStatistics, RunsStopAtSequenceStartsAndGaps) {
  // k = 1; tokens 0..7, sequences start at 0 and 4: experts 1 1 1 2 | 2 2 1 1
  const std::vector<int> chosen = {1, 1, 1, 2, 2, 2, 1, 1};
  EXPECT_EQ(longest_expert_run(chosen, 1, {0, 1, 2, 3, 4, 5, 6, 7}, {0, 4}), 3);
  EXPECT_EQ(longest_expert_run(chosen, 1, {0, 1, 2, 3, 4, 5, 6, 7}, {0}), 3);  // 2 2 2 across
  EXPECT_EQ(longest_expert_run(chosen, 1, {0, 1, 3, 4, 5}, {0}), 3);           // 3,4,5 on 2
  EXPECT_EQ(longest_expert_run(chosen, 1, {0, 2}, {0}), 1);                    // a gap
  // k = 2: expert 0 in every set of 5 tokens.
  const std::vector<int> two = {0, 1, 2, 0, 0, 3, 1, 0, 0, 2};
  EXPECT_EQ(longest_expert_run(two, 2, {0, 1, 2, 3, 4}, {0}), 5);
}

TEST(TokenStatistics, RoutingComparison) {
  const int a[] = {3, 1}, b[] = {3, 0}, c[] = {1, 3};
  EXPECT_EQ(top1_agreement(a, b), 1.0);
  EXPECT_EQ(top1_agreement(a, c), 0.0);
  EXPECT_NEAR(topk_jaccard(a, b, 2), 1.0 / 3.0, 1e-15);
  EXPECT_EQ(topk_jaccard(a, c, 2), 1.0);
}

}  // namespace
}  // namespace moeprobe
