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

}  // namespace moeprobe
