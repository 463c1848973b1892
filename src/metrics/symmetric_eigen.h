// Eigen-decomposition of a small symmetric matrix (A5's PCA on an N x N Gram; N is at most a few
// hundred), by Eigen3's SelfAdjointEigenSolver.
#pragma once

#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

struct SymmetricEigen {
  std::vector<double> values;  // descending
  Matrix vectors;              // column k is the unit eigenvector of values[k]
};

// Throws std::invalid_argument for a non-square matrix, std::runtime_error if it fails to converge.
SymmetricEigen symmetric_eigen(const Matrix& a);

// The k largest eigenpairs only (A6's H x H correlation matrix, H up to ~8k). Up to
// `full_below` rows the full solver is used; above, subspace iteration with k + 8 vectors and a
// Rayleigh-Ritz step until the k values settle (relative change < 1e-10, at most 500 steps).
SymmetricEigen top_symmetric_eigen(const Matrix& a, int k, int64_t full_below = 1536);

}  // namespace moeprobe
