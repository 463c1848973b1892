// Input checks shared by every backend, so all of them reject the same inputs with the same
// message: shapes that do not match, non-float dtypes, and NaN/Inf weights (found through the
// Gram diagonal, which is non-finite exactly when a vector holds a NaN or Inf, or overflows).
#pragma once

#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

// N >= 1 rank-2 float matrices of identical shape. Throws InputError naming the offending tensor.
void check_matrix_set(const std::vector<TensorView>& mats, NeuronAxis axis);
// Two rank-2 float matrices of identical shape (neuron_cosine).
void check_neuron_pair(const TensorView& a, const TensorView& b);
// A rank-2 float matrix.
void check_matrix(const TensorView& m);
// x [T, H] and w [N, H] for linear_rows.
void check_linear_rows(const TensorView& x, const TensorView& w);
// Throws InputError naming mats[a] when G[a,a] is not finite.
void check_gram_finite(const Matrix& gram, const std::vector<TensorView>& mats);
// Throws InputError naming row a of m when G[a,a] is not finite.
void check_rows_finite(const Matrix& gram, const TensorView& m);

}  // namespace moeprobe
