// Host entry points of the CUDA kernels, one group per .cu file. Plain C++ (no device code), so the
// orchestration in cuda_backend.cpp compiles with the host compiler. Every launcher only enqueues
// work on `stream` and checks the launch; none synchronises.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace moeprobe::cuda {

// --- convert.cu -------------------------------------------------------------------------------
// Converts `n` arrays of `len` elements each into dst (row r of dst = array r, leading dimension
// dst_ld). Array r starts at src + r * src_stride bytes and has element type dtype_codes[r]
// (a device array of static_cast<int>(DType)); or, when dtype_codes is null, uniform_code.
void launch_convert_to_float(const unsigned char* src, std::size_t src_stride,
                             const int* dtype_codes, int uniform_code, int n, int64_t len,
                             float* dst, int64_t dst_ld, cudaStream_t stream);
void launch_convert_to_double(const unsigned char* src, int dtype_code, int64_t len, double* dst,
                              cudaStream_t stream);
// True for the dtypes the kernels convert: F32, F16, BF16, F64, F8_E4M3, F8_E5M2.
bool device_converts(int dtype_code);

// --- gram.cu ----------------------------------------------------------------------------------
// acc[a * n + b] += sum_k X[a, k] * X[b, k] for a <= b (the upper triangle incl. the diagonal;
// the lower triangle of acc is not written). Products are summed in float32 over blocks of 32
// elements and the block sums in float64, in a fixed order (deterministic). `partial` is scratch
// of at least gram_partial_doubles(n, num_sms) doubles.
std::size_t gram_partial_doubles(int n, int num_sms);
void launch_gram_accumulate(const float* X, int64_t ld, int n, int64_t len, double* partial,
                            double* acc, int num_sms, cudaStream_t stream);

// --- matrix_set_stats.cu ----------------------------------------------------------------------
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

// --- neuron_cosine.cu -------------------------------------------------------------------------
// A row-major [rows, cols] matrix holds neurons in its rows (by_rows) or in its columns.
// inv_norm[i] = 1 / ||neuron i|| in float64, 0 for a zero neuron (its cosines are then 0).
template <typename T>
void launch_neuron_inv_norms(const T* M, int64_t rows, int64_t cols, bool by_rows, double* inv_norm,
                             cudaStream_t stream);
// Scales every neuron of M to unit length in place (multiplying in float64).
template <typename T>
void launch_scale_neurons(T* M, int64_t rows, int64_t cols, bool by_rows, const double* inv_norm,
                          cudaStream_t stream);
// dst[i] = double(src[i]).
void launch_float_to_double(const float* src, int64_t count, double* dst, cudaStream_t stream);

}  // namespace moeprobe::cuda
