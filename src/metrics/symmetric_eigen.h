// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations (A5's PCA on an
// N x N Gram; N is at most a few hundred).
#pragma once

#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

struct SymmetricEigen {
  std::vector<double> values;  // descending
  Matrix vectors;              // column k is the unit eigenvector of values[k]
};

// Throws std::invalid_argument for a non-square matrix.
SymmetricEigen symmetric_eigen(const Matrix& a);

}  // namespace moeprobe
