#include "metrics/symmetric_eigen.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <Eigen/Eigenvalues>

namespace moeprobe {

SymmetricEigen symmetric_eigen(const Matrix& input) {
  if (input.rows != input.cols)
    throw std::invalid_argument("eigen-decomposition needs a square matrix");
  const int64_t n = input.rows;
  SymmetricEigen out;
  out.vectors = Matrix(n, n);
  if (n == 0) return out;
  // Matrix is row-major; the solver reads only the lower triangle, so the layout is immaterial
  // for a symmetric input.
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> a(input.data.data(), n, n);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(a);
  // Unlike a fixed sweep budget, the solver says when it did not converge.
  if (solver.info() != Eigen::Success)
    throw std::runtime_error("symmetric eigen-decomposition of a " + std::to_string(n) + "x" +
                             std::to_string(n) + " matrix did not converge");
  // Eigen returns ascending eigenvalues; callers want them descending (stable for ties).
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const Eigen::VectorXd& values = solver.eigenvalues();
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return values(x) > values(y); });
  const Eigen::MatrixXd& vectors = solver.eigenvectors();
  for (int64_t k = 0; k < n; ++k) {
    out.values.push_back(values(order[k]));
    for (int64_t i = 0; i < n; ++i) out.vectors(i, k) = vectors(i, order[k]);
  }
  return out;
}

}  // namespace moeprobe
