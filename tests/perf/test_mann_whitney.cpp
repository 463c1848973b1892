// Mann-Whitney U against values computed independently (brute-force enumeration of the
// permutation distribution; the normal approximation's formula with tie correction evaluated
// separately).
#include <gtest/gtest.h>

#include "perf/mann_whitney.h"

namespace moeprobe::perf {
namespace {

TEST(MannWhitney, ExactCompleteSeparation) {
  const RankTest t = mann_whitney_u({1.0, 1.1, 1.2}, {1.3, 1.4, 1.5});
  EXPECT_TRUE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 0);
  EXPECT_NEAR(t.p, 0.1, 1e-12);  // 2 / C(6, 3)
  const RankTest five = mann_whitney_u({0, 1, 2, 3, 4}, {5, 6, 7, 8, 9});
  EXPECT_NEAR(five.p, 2.0 / 252, 1e-12);
  EXPECT_NEAR(smallest_p_value(5, 5), 2.0 / 252, 1e-12);
  EXPECT_NEAR(smallest_p_value(9, 9), 2.0 / 48620, 1e-12);
  EXPECT_GT(smallest_p_value(3, 3), 0.05);  // three repetitions can never be significant
}

TEST(MannWhitney, ExactWithTiesMatchesEnumeration) {
  // Brute force over all C(11, 5) subsets of the mid-ranks gives 0.134199134...
  const RankTest t = mann_whitney_u({1, 2, 2, 3, 5}, {2, 3, 4, 4, 6, 7});
  EXPECT_TRUE(t.exact);
  EXPECT_NEAR(t.p, 0.1341991341991342, 1e-12);
  // U counts pairs x > y with ties 1/2: 1 beats none, each 2 ties the 2, 3 beats 2 and ties 3,
  // 5 beats 2, 3, 4, 4.
  EXPECT_DOUBLE_EQ(t.u, 0 + 0.5 + 0.5 + (1 + 0.5) + 4);
}

TEST(MannWhitney, SymmetricAndIdentical) {
  const std::vector<double> a{3, 1, 4, 1, 5, 9, 2, 6, 5}, b{2, 7, 1, 8, 2, 8, 1, 8, 2};
  EXPECT_NEAR(mann_whitney_u(a, b).p, mann_whitney_u(b, a).p, 1e-12);
  EXPECT_DOUBLE_EQ(mann_whitney_u(a, a).p, 1.0);
  EXPECT_DOUBLE_EQ(mann_whitney_u({2, 2, 2}, {2, 2, 2}).p, 1.0);
  EXPECT_DOUBLE_EQ(mann_whitney_u({}, {1, 2}).p, 1.0);
}

TEST(MannWhitney, NormalApproximationWithTies) {
  std::vector<double> x, y;
  for (int i = 0; i < 30; ++i) {
    x.push_back(i % 7 + 0.5 * (i % 3));
    y.push_back(i % 7 + 0.5 * (i % 3) + 1);
  }
  const RankTest t = mann_whitney_u(x, y);
  EXPECT_FALSE(t.exact);  // 60 values: beyond the exact limit
  EXPECT_DOUBLE_EQ(t.u, 334);
  EXPECT_NEAR(t.p, 0.08677643371348927, 1e-9);
}

TEST(MannWhitney, ExactAndNormalAgreeNearTheLimit) {
  // 25 + 25 values (exact) vs the same shifted data with one more value each (normal).
  std::vector<double> x, y;
  for (int i = 0; i < 25; ++i) {
    x.push_back(i * 1.0);
    y.push_back(i * 1.0 + 6.5);
  }
  const RankTest exact = mann_whitney_u(x, y);
  x.push_back(25);
  y.push_back(31.5);
  const RankTest normal = mann_whitney_u(x, y);
  EXPECT_TRUE(exact.exact);
  EXPECT_FALSE(normal.exact);
  EXPECT_LT(exact.p, 0.05);
  EXPECT_NEAR(exact.p, normal.p, 0.02);
}

}  // namespace
}  // namespace moeprobe::perf
