// Rank statistics on hand-computed values, Kendall against an O(n^2) count, the assignment solver
// against brute force, and the Jacobi eigen-solver by reconstruction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "metrics/linear_assignment.h"
#include "metrics/rank_statistics.h"
#include "metrics/symmetric_eigen.h"

namespace moeprobe {
namespace {

TEST(RankStatistics, HandComputed) {
  // x = 1..5, y = 2 4 5 4 5: sxy = 6, sxx = 10, syy = 6 -> r = 6 / sqrt(60).
  EXPECT_NEAR(pearson({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}), 6.0 / std::sqrt(60.0), 1e-12);
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));
  const auto r = average_ranks({1, 2, 2, 3});
  EXPECT_EQ(r, (std::vector<double>{1, 2.5, 2.5, 4}));
  // y = 5 6 7 8 7 ranks 1 2 3.5 5 3.5: sxy = 8, sxx = 10, syy = 9.5.
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 8.0 / std::sqrt(95.0), 1e-12);
  EXPECT_NEAR(kendall_tau_b({1, 2, 3}, {1, 3, 2}), 1.0 / 3.0, 1e-12);
  // Ties: pairs (0,1) tied in x, (1,2) tied in y, (0,2) concordant: 1 / sqrt(2 * 2).
  EXPECT_NEAR(kendall_tau_b({1, 1, 2}, {1, 2, 2}), 0.5, 1e-12);
  EXPECT_NEAR(kendall_tau_b({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  EXPECT_NEAR(median({3, 1, 2, 10}), 2.5, 1e-12);
}

TEST(RankStatistics, KendallMatchesQuadraticCount) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> d(0, 6);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 2 + trial % 40;
    std::vector<double> x(n), y(n);
    for (int i = 0; i < n; ++i) x[i] = d(rng), y[i] = d(rng);
    double c = 0, dis = 0, tx = 0, ty = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        const double s = (x[i] - x[j]) * (y[i] - y[j]);
        if (x[i] == x[j]) tx += 1;
        if (y[i] == y[j]) ty += 1;
        if (s > 0) c += 1;
        if (s < 0) dis += 1;
      }
    const double n0 = n * (n - 1) / 2.0;
    const double denom = std::sqrt((n0 - tx) * (n0 - ty));
    const double expect = denom > 0 ? (c - dis) / denom : std::nan("");
    const double got = kendall_tau_b(x, y);
    if (std::isnan(expect))
      EXPECT_TRUE(std::isnan(got));
    else
      EXPECT_NEAR(got, expect, 1e-12) << "n=" << n;
  }
}

TEST(LinearAssignment, MatchesBruteForce) {
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int n = 1; n <= 7; ++n)
    for (int trial = 0; trial < 20; ++trial) {
      Matrix s(n, n);
      for (auto& v : s.data) v = trial % 3 == 0 ? std::round(u(rng) * 2) : u(rng);  // ties too
      std::vector<int> p(n);
      std::iota(p.begin(), p.end(), 0);
      double best = -1e300;
      do {
        double t = 0;
        for (int i = 0; i < n; ++i) t += s(i, p[i]);
        best = std::max(best, t);
      } while (std::next_permutation(p.begin(), p.end()));
      const auto got = maximize_assignment(s);
      std::vector<int> sorted = got;
      std::sort(sorted.begin(), sorted.end());
      for (int i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);
      double t = 0;
      for (int i = 0; i < n; ++i) t += s(i, got[i]);
      EXPECT_NEAR(t, best, 1e-9) << "n=" << n;
    }
}

TEST(LinearAssignment, RecoversAPlantedPermutation) {
  std::mt19937_64 rng(4);
  const int n = 200;
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::uniform_real_distribution<double> u(0, 0.5);
  Matrix s(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) s(i, j) = u(rng) + (perm[i] == j ? 1.0 : 0.0);
  EXPECT_EQ(maximize_assignment(s), perm);
}

TEST(SymmetricEigen, Reconstructs) {
  std::mt19937_64 rng(6);
  std::normal_distribution<double> g;
  for (int n : {1, 2, 5, 9, 33}) {
    Matrix a(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) a(i, j) = a(j, i) = g(rng);
    const auto e = symmetric_eigen(a);
    for (int k = 1; k < n; ++k) EXPECT_GE(e.values[k - 1], e.values[k]);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (int k = 0; k < n; ++k) s += e.vectors(i, k) * e.values[k] * e.vectors(j, k);
        EXPECT_NEAR(s, a(i, j), 1e-9);
      }
  }
}

}  // namespace
}  // namespace moeprobe
