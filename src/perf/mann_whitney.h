// Two-sided Mann-Whitney U (Wilcoxon rank-sum) test of two independent samples: no assumption on
// the distribution of benchmark times, robust to the outliers shared runners produce.
#pragma once

#include <cstddef>
#include <vector>

namespace moeprobe::perf {

struct RankTest {
  double u = 0;        // U of the first sample: the number of (x, y) pairs with x > y, ties 1/2
  double p = 1;        // two-sided p-value
  bool exact = false;  // from the exact permutation distribution, not the normal approximation
};

// Exact (the permutation distribution of the rank sum, mid-ranks for ties) when both samples
// together hold at most kExactLimit values; beyond, the normal approximation with tie and
// continuity correction. Empty samples give p = 1.
constexpr std::size_t kExactLimit = 50;
RankTest mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y);

// The smallest two-sided p-value any pair of samples of these sizes can reach (no ties, complete
// separation): below alpha only when the test can detect a change at all.
double smallest_p_value(std::size_t n1, std::size_t n2);

}  // namespace moeprobe::perf
