// The set-statistics kernels (matrix_set_stats.cu) and the Backend::matrix_set_stats host entry
// (matrix_set_stats.cpp): one streamed pass over the N matrices' bytes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace moeprobe::cuda {

class CudaContext;

// Z[r, p] = (X[r, p] - mean_p) / std_p with the mean and unbiased std over the n rows at column p,
// computed in float64. Columns whose n values are all equal are zeroed in Z and counted into
// *skipped (a device counter).
void launch_standardize(const float* X, int64_t ld, int n, int64_t len, float* Z,
                        unsigned long long* skipped, cudaStream_t stream);
// Each of the n arrays (leading dimension ld) holds `rows` full rows of length `cols`.
// Column sums: sums[r * cols + c] += sum over rows of array r, column c.
void launch_column_sums(const float* X, int64_t ld, int n, int64_t rows, int64_t cols, double* sums,
                        cudaStream_t stream);
// Row sums: sums[r * sums_ld + row] += sum over columns of array r, row `row`.
void launch_row_sums(const float* X, int64_t ld, int n, int64_t rows, int64_t cols, double* sums,
                     int64_t sums_ld, cudaStream_t stream);

// Backend::matrix_set_stats on the device (inputs checked here, like every backend does).
MatrixSetStats matrix_set_stats(CudaContext& ctx, const std::vector<TensorView>& mats,
                                NeuronAxis axis, const MatrixSetRequest& request);

}  // namespace moeprobe::cuda
