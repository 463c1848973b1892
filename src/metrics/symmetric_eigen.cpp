#include "metrics/symmetric_eigen.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace moeprobe {

SymmetricEigen symmetric_eigen(const Matrix& input) {
  if (input.rows != input.cols)
    throw std::invalid_argument("eigen-decomposition needs a square matrix");
  const int64_t n = input.rows;
  Matrix a = input, v(n, n);
  for (int64_t i = 0; i < n; ++i) v(i, i) = 1.0;
  double scale = 0.0;
  for (double x : a.data) scale = std::max(scale, std::fabs(x));
  // Sweep until every off-diagonal entry is negligible next to the largest entry.
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off = std::max(off, std::fabs(a(p, q)));
    if (off <= 1e-15 * scale || scale == 0.0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (std::fabs(a(p, q)) <= 1e-300) continue;
        // The rotation angle that zeroes a(p, q): tan(2 theta) = 2 a_pq / (a_qq - a_pp).
        const double theta = (a(q, q) - a(p, p)) / (2.0 * a(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double vkp = v(k, p), vkq = v(k, q);
          v(k, p) = c * vkp - s * vkq;
          v(k, q) = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return a(x, x) > a(y, y); });
  SymmetricEigen out;
  out.vectors = Matrix(n, n);
  for (int64_t k = 0; k < n; ++k) {
    out.values.push_back(a(order[k], order[k]));
    for (int64_t i = 0; i < n; ++i) out.vectors(i, k) = v(i, order[k]);
  }
  return out;
}

}  // namespace moeprobe
