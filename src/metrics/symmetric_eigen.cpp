#include "metrics/symmetric_eigen.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <cmath>

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

SymmetricEigen top_symmetric_eigen(const Matrix& input, int k, int64_t full_below) {
  if (input.rows != input.cols)
    throw std::invalid_argument("eigen-decomposition needs a square matrix");
  const int64_t n = input.rows;
  k = static_cast<int>(std::min<int64_t>(k, n));
  SymmetricEigen out;
  if (n <= full_below) {
    const SymmetricEigen all = symmetric_eigen(input);
    out.values.assign(all.values.begin(), all.values.begin() + k);
    out.vectors = Matrix(n, k);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < k; ++j) out.vectors(i, j) = all.vectors(i, j);
    return out;
  }
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> a(input.data.data(), n, n);
  const int64_t p = std::min<int64_t>(n, k + 8);
  // A fixed, index-derived start so runs are reproducible.
  Eigen::MatrixXd q(n, p);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < p; ++j)
      q(i, j) = std::sin(0.7 * static_cast<double>(i + 1) * (j + 1) + j);
  Eigen::VectorXd previous = Eigen::VectorXd::Constant(k, std::nan(""));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> small;
  for (int step = 0; step < 500; ++step) {
    q = Eigen::HouseholderQR<Eigen::MatrixXd>(a * q).householderQ() *
        Eigen::MatrixXd::Identity(n, p);
    small.compute(q.transpose() * a * q);
    if (small.info() != Eigen::Success)
      throw std::runtime_error("subspace iteration: Rayleigh-Ritz step did not converge");
    const Eigen::VectorXd top = small.eigenvalues().tail(k).reverse();
    const double change = (top - previous).cwiseAbs().maxCoeff();
    previous = top;
    if (change <= 1e-10 * std::max(1.0, top.cwiseAbs().maxCoeff())) break;
  }
  const Eigen::MatrixXd ritz = q * small.eigenvectors();
  out.vectors = Matrix(n, k);
  for (int j = 0; j < k; ++j) {
    out.values.push_back(small.eigenvalues()(p - 1 - j));
    for (int64_t i = 0; i < n; ++i) out.vectors(i, j) = ritz(i, p - 1 - j);
  }
  return out;
}

}  // namespace moeprobe
