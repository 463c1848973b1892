#include "metrics/linear_assignment.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace moeprobe {

std::vector<int> minimize_assignment(const Matrix& cost) {
  if (cost.rows != cost.cols) throw std::invalid_argument("assignment needs a square matrix");
  const int n = static_cast<int>(cost.rows);
  for (double v : cost.data)
    if (!std::isfinite(v)) throw std::invalid_argument("assignment costs must be finite");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // Column n is a virtual "source" column; row_of[j] is the row assigned to column j (-1: free).
  // Rows are inserted one at a time; each insertion grows a shortest-path tree over columns with
  // reduced costs cost(i,j) - u[i] - v[j] >= 0 until it reaches a free column, then flips the path.
  std::vector<double> u(n, 0.0), v(n + 1, 0.0), dist(n + 1);
  std::vector<int> row_of(n + 1, -1), prev(n + 1, n);
  std::vector<char> done(n + 1);
  for (int r = 0; r < n; ++r) {
    row_of[n] = r;
    int col = n;
    std::fill(dist.begin(), dist.end(), kInf);
    std::fill(done.begin(), done.end(), 0);
    do {
      done[col] = 1;
      const int i = row_of[col];
      const double* ci = cost.data.data() + static_cast<std::size_t>(i) * n;
      const double ui = u[i];
      double best = kInf;
      int next = -1;
      for (int j = 0; j < n; ++j) {
        if (done[j]) continue;
        const double reduced = ci[j] - ui - v[j];
        if (reduced < dist[j]) {
          dist[j] = reduced;
          prev[j] = col;
        }
        if (dist[j] < best) {
          best = dist[j];
          next = j;
        }
      }
      // Shift the potentials so the tree's columns keep reduced cost 0 and the others shrink.
      for (int j = 0; j <= n; ++j) {
        if (done[j]) {
          u[row_of[j]] += best;
          v[j] -= best;
        } else {
          dist[j] -= best;
        }
      }
      col = next;
    } while (row_of[col] != -1);
    // Augment: walk back to the source, moving each row one column along the path.
    while (col != n) {
      const int p = prev[col];
      row_of[col] = row_of[p];
      col = p;
    }
  }
  std::vector<int> perm(n, -1);
  for (int j = 0; j < n; ++j) perm[row_of[j]] = j;
  return perm;
}

std::vector<int> maximize_assignment(const Matrix& score) {
  Matrix cost(score.rows, score.cols);
  for (std::size_t k = 0; k < score.data.size(); ++k) cost.data[k] = -score.data[k];
  return minimize_assignment(cost);
}

}  // namespace moeprobe
