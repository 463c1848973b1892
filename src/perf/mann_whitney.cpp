#include "perf/mann_whitney.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

namespace moeprobe::perf {

namespace {

// Twice the mid-rank of every pooled value (integers, so the exact distribution can be counted),
// and the sum over tie groups of t^3 - t.
struct PooledRanks {
  std::vector<int64_t> doubled;  // in the order x..., y...
  double tie_term = 0;
};

PooledRanks pooled_ranks(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size() + y.size();
  std::vector<double> values(x);
  values.insert(values.end(), y.begin(), y.end());
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  PooledRanks r;
  r.doubled.assign(n, 0);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && values[idx[j + 1]] == values[idx[i]]) ++j;
    // Positions i..j (0-based) share the rank ((i+1) + (j+1)) / 2.
    const int64_t doubled = static_cast<int64_t>(i + j + 2);
    for (std::size_t k = i; k <= j; ++k) r.doubled[idx[k]] = doubled;
    const double t = static_cast<double>(j - i + 1);
    r.tie_term += t * t * t - t;
    i = j + 1;
  }
  return r;
}

// P(|S - E S| >= |observed - E S|) for S the sum of n1 values drawn without replacement from
// `doubled`: counts subsets by sum (counts in double: exact below 2^53, ample beyond).
double exact_p(const std::vector<int64_t>& doubled, std::size_t n1, int64_t observed) {
  const std::size_t n = doubled.size();
  int64_t total = 0;
  for (int64_t d : doubled) total += d;
  // ways[k][s]: subsets of size k with sum s.
  std::vector<std::vector<double>> ways(
      n1 + 1, std::vector<double>(static_cast<std::size_t>(total) + 1, 0));
  ways[0][0] = 1;
  for (std::size_t item = 0; item < n; ++item) {
    const auto d = static_cast<std::size_t>(doubled[item]);
    for (std::size_t k = std::min(n1, item + 1); k >= 1; --k)
      for (std::size_t s = static_cast<std::size_t>(total); s >= d; --s)
        ways[k][s] += ways[k - 1][s - d];
  }
  // E S = n1 * total / n; compare n * S against n1 * total to stay in integers.
  const int64_t nn = static_cast<int64_t>(n), center = static_cast<int64_t>(n1) * total;
  const int64_t deviation = std::llabs(nn * observed - center);
  double extreme = 0, all = 0;
  for (std::size_t s = 0; s <= static_cast<std::size_t>(total); ++s) {
    all += ways[n1][s];
    if (std::llabs(nn * static_cast<int64_t>(s) - center) >= deviation) extreme += ways[n1][s];
  }
  return std::min(1.0, extreme / all);
}

}  // namespace

RankTest mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y) {
  RankTest t;
  const std::size_t n1 = x.size(), n2 = y.size(), n = n1 + n2;
  if (n1 == 0 || n2 == 0) return t;
  const PooledRanks r = pooled_ranks(x, y);
  int64_t rank_sum_doubled = 0;
  for (std::size_t i = 0; i < n1; ++i) rank_sum_doubled += r.doubled[i];
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2),
               dn = static_cast<double>(n);
  t.u = static_cast<double>(rank_sum_doubled) / 2 - d1 * (d1 + 1) / 2;
  if (n <= kExactLimit) {
    t.exact = true;
    t.p = exact_p(r.doubled, n1, rank_sum_doubled);
    return t;
  }
  const double mean = d1 * d2 / 2;
  const double variance = d1 * d2 / 12 * ((dn + 1) - r.tie_term / (dn * (dn - 1)));
  if (variance <= 0) return t;  // every value tied: no evidence of a difference
  const double z = std::max(0.0, std::fabs(t.u - mean) - 0.5) / std::sqrt(variance);
  t.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return t;
}

double smallest_p_value(std::size_t n1, std::size_t n2) {
  if (n1 == 0 || n2 == 0) return 1;
  // 2 / C(n1 + n2, n1), computed in logs.
  const double log_choose = std::lgamma(static_cast<double>(n1 + n2 + 1)) -
                            std::lgamma(static_cast<double>(n1 + 1)) -
                            std::lgamma(static_cast<double>(n2 + 1));
  return std::min(1.0, 2 * std::exp(-log_choose));
}

}  // namespace moeprobe::perf
