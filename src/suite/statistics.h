// Statistics the suite engine needs to judge a hypothesis: percentile bootstrap intervals.
// Deterministic: every random draw comes from a seeded std::mt19937_64, so a suite run is
// reproducible bit for bit.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace moeprobe::stats {

// Pearson, Spearman and Kendall come from metrics/rank_statistics.h (shared with the metrics).

// The q-quantile (q in [0,1]) of v by linear interpolation between order statistics (numpy's
// default); NaN for an empty vector. v need not be sorted.
double quantile(std::vector<double> v, double q);

// Percentile interval [lo, hi] at confidence `level` of a bootstrap distribution.
struct Interval {
  double lo = 0.0, hi = 0.0;
};
Interval percentile_interval(const std::vector<double>& distribution, double level);

// Indices 0..n-1 drawn n times with replacement.
std::vector<int> draw_indices(int n, std::mt19937_64& rng);

// A stable 64-bit hash of a string (FNV-1a) to derive per-hypothesis seeds that do not depend on
// the order of hypotheses in a suite.
uint64_t stable_hash(const std::string& s);

}  // namespace moeprobe::stats
