#include "metrics/rank_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace moeprobe {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_sizes(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("correlation of vectors of unequal length");
}
}  // namespace

double mean(const std::vector<double>& x) {
  if (x.empty()) return kNaN;
  double s = 0.0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double median(std::vector<double> x) {
  if (x.empty()) return kNaN;
  const std::size_t mid = x.size() / 2;
  std::nth_element(x.begin(), x.begin() + mid, x.end());
  const double hi = x[mid];
  if (x.size() % 2) return hi;
  return 0.5 * (hi + *std::max_element(x.begin(), x.begin() + mid));
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  if (x.size() < 2) return kNaN;
  const double mx = mean(x), my = mean(y);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0.0 || syy <= 0.0) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;  // ranks i+1 .. j+1
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  return pearson(average_ranks(x), average_ranks(y));
}

// Knight's algorithm: sort by (x, y); count pairs tied in x and tied in both; then merge-sort by y
// counting exchanges (discordant pairs) and pairs tied in y.
double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  const std::size_t n = x.size();
  if (n < 2) return kNaN;
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return x[a] != x[b] ? x[a] < x[b] : y[a] < y[b]; });
  auto tied_pairs = [](std::size_t run) { return static_cast<double>(run) * (run - 1) / 2.0; };
  double tx = 0.0, txy = 0.0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
    tx += tied_pairs(j - i + 1);
    for (std::size_t k = i; k <= j;) {
      std::size_t l = k;
      while (l + 1 <= j && y[idx[l + 1]] == y[idx[k]]) ++l;
      txy += tied_pairs(l - k + 1);
      k = l + 1;
    }
    i = j + 1;
  }
  // Bottom-up merge sort of y in the current order, counting inversions (strictly greater
  // elements of the left run passing a right element).
  std::vector<double> v(n), buf(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = y[idx[i]];
  double swaps = 0.0;
  for (std::size_t width = 1; width < n; width *= 2) {
    for (std::size_t lo = 0; lo < n; lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, n), hi = std::min(lo + 2 * width, n);
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (v[j] < v[i]) {
          swaps += static_cast<double>(mid - i);
          buf[k++] = v[j++];
        } else {
          buf[k++] = v[i++];
        }
      }
      while (i < mid) buf[k++] = v[i++];
      while (j < hi) buf[k++] = v[j++];
    }
    std::swap(v, buf);
  }
  double ty = 0.0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && v[j + 1] == v[i]) ++j;
    ty += tied_pairs(j - i + 1);
    i = j + 1;
  }
  const double n0 = tied_pairs(n);
  const double denom = std::sqrt((n0 - tx) * (n0 - ty));
  if (denom <= 0.0) return kNaN;
  // concordant - discordant = n0 - tx - ty + txy - 2 * swaps
  return (n0 - tx - ty + txy - 2.0 * swaps) / denom;
}

}  // namespace moeprobe
