#include "suite/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moeprobe::stats {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  q = std::clamp(q, 0.0, 1.0);
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

Interval percentile_interval(const std::vector<double>& distribution, double level) {
  const double tail = (1.0 - level) / 2.0;
  return {quantile(distribution, tail), quantile(distribution, 1.0 - tail)};
}

std::vector<int> draw_indices(int n, std::mt19937_64& rng) {
  std::vector<int> idx(static_cast<std::size_t>(std::max(n, 0)));
  if (n <= 0) return idx;
  // uniform_int_distribution is implementation-defined; a multiply-shift on the raw 64-bit draw
  // keeps resamples identical across standard libraries.
  for (auto& i : idx) {
    const unsigned __int128 wide = static_cast<unsigned __int128>(rng()) * static_cast<unsigned>(n);
    i = static_cast<int>(wide >> 64);
  }
  return idx;
}

uint64_t stable_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace moeprobe::stats
