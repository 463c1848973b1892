#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "metrics/rank_statistics.h"
#include "suite/statistics.h"

namespace moeprobe {
namespace {

TEST(Statistics, PearsonAndSpearman) {
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {2, 4, 6, 8}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {8, 6, 4, 2}), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));
  EXPECT_TRUE(std::isnan(pearson({1}, {1})));
  // Monotone but not linear: Spearman 1, Pearson below 1.
  std::vector<double> x = {1, 2, 3, 4, 5}, y = {1, 4, 9, 16, 100};
  EXPECT_NEAR(spearman(x, y), 1.0, 1e-12);
  EXPECT_LT(pearson(x, y), 0.99);
  // Hand-computed: ranks of {10, 20, 20, 30} are {1, 2.5, 2.5, 4}.
  const auto r = average_ranks({10, 20, 20, 30});
  EXPECT_EQ(r, (std::vector<double>{1, 2.5, 2.5, 4}));
  // Known value: x = 1..5, y = {2, 1, 4, 3, 5} -> rho = 1 - 6*4/(5*24) = 0.8.
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}), 0.8, 1e-12);
}

TEST(Statistics, QuantileInterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(stats::quantile({3, 1, 2, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(stats::quantile({1, 2, 3, 4, 5}, 0.25), 2.0);
  EXPECT_DOUBLE_EQ(stats::quantile({1, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(stats::quantile({1, 2}, 1.0), 2.0);
  EXPECT_TRUE(std::isnan(stats::quantile({}, 0.5)));
  const auto ci = stats::percentile_interval({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.8);
  EXPECT_DOUBLE_EQ(ci.lo, 1.0);
  EXPECT_DOUBLE_EQ(ci.hi, 9.0);
}

TEST(Statistics, DrawIndicesIsDeterministicAndUniform) {
  std::mt19937_64 a(7), b(7);
  const auto ia = stats::draw_indices(100, a), ib = stats::draw_indices(100, b);
  EXPECT_EQ(ia, ib);
  std::mt19937_64 rng(3);
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 2000; ++i)
    for (int k : stats::draw_indices(5, rng)) {
      ASSERT_GE(k, 0);
      ASSERT_LT(k, 5);
      ++counts[k];
    }
  for (int c : counts) EXPECT_NEAR(c, 2000.0, 150.0);  // 10000 draws / 5, several sigma slack
  EXPECT_NE(stats::stable_hash("a1-upcycling-signature"),
            stats::stable_hash("a1-scratch-signature"));
  EXPECT_EQ(stats::stable_hash("x"), stats::stable_hash("x"));
}

}  // namespace
}  // namespace moeprobe
