#include "kernels/backend_checks.h"

#include <cmath>

#include "util/error.h"

namespace moeprobe {

void check_matrix(const TensorView& m) {
  if (m.rank() != 2)
    throw InputError(m.file, m.name, "expected a matrix (rank 2), got shape " + m.shape_string());
  if (!m.float_valued())
    throw InputError(m.file, m.name,
                     std::string("expected a float dtype, got ") + dtype_name(m.dtype));
}

void check_linear_rows(const TensorView& x, const TensorView& w) {
  check_matrix(x);
  check_matrix(w);
  if (x.cols() != w.cols())
    throw InputError(w.file, w.name,
                     "expected " + std::to_string(x.cols()) + " columns (the hidden size of " +
                         x.name + "), got " + w.shape_string());
}

void check_matrix_set(const std::vector<TensorView>& mats, NeuronAxis) {
  if (mats.empty()) throw InputError("", "matrix set", "expected at least one matrix");
  for (const TensorView& m : mats) {
    check_matrix(m);
    if (m.shape != mats[0].shape)
      throw InputError(m.file, m.name,
                       "expected shape " + mats[0].shape_string() + " (as " + mats[0].name +
                           "), got " + m.shape_string());
  }
}

void check_neuron_pair(const TensorView& a, const TensorView& b) {
  check_matrix_set({a, b}, NeuronAxis::Rows);
}

void check_gram_finite(const Matrix& gram, const std::vector<TensorView>& mats) {
  for (int64_t a = 0; a < gram.rows; ++a)
    if (!std::isfinite(gram(a, a)))
      throw InputError(mats[static_cast<std::size_t>(a)].file,
                       mats[static_cast<std::size_t>(a)].name,
                       "contains NaN or infinite values (or its squared norm overflows)");
}

void check_rows_finite(const Matrix& gram, const TensorView& m) {
  for (int64_t a = 0; a < gram.rows; ++a)
    if (!std::isfinite(gram(a, a)))
      throw InputError(m.file, m.name + " row " + std::to_string(a),
                       "contains NaN or infinite values (or its squared norm overflows)");
}

}  // namespace moeprobe
