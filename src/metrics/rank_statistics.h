// Correlation statistics used by metrics and by suite aggregation: Pearson, Spearman (average
// ranks for ties) and Kendall's tau-b (O(n log n), ties handled). All return NaN when the
// statistic is undefined (fewer than 2 values, or a constant input).
#pragma once

#include <vector>

namespace moeprobe {

double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Ranks 1..n with tied values sharing the average of their ranks.
std::vector<double> average_ranks(const std::vector<double>& x);
double spearman(const std::vector<double>& x, const std::vector<double>& y);
double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y);
double mean(const std::vector<double>& x);  // NaN when empty
double median(std::vector<double> x);       // NaN when empty

}  // namespace moeprobe
