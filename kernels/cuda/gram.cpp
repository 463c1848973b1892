#include "kernels/cuda/gram.h"
#include "kernels/backend_checks.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/matrix_set_stats.h"
#include "kernels/staged_views.h"

namespace moeprobe::cuda {

Matrix gram_rows(CudaContext& ctx, const TensorView& m) {
  check_matrix(m);
  // Row i of m as a [1, D] matrix: the Gram of the rows is the Gram of this set, and the set
  // pipeline streams it in chunks whatever its size.
  const int64_t n = m.rows();
  if (n == 0) return Matrix(0, 0);
  std::vector<TensorView> rows;
  rows.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows.push_back(staged::row_as_matrix(m, i));
  MatrixSetRequest req;
  req.gram = true;
  Matrix g = matrix_set_stats(ctx, rows, NeuronAxis::Rows, req).gram;
  check_rows_finite(g, m);
  return g;
}

}  // namespace moeprobe::cuda
