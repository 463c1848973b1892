// Per-chunk kernels of matrix_set_stats besides the Gram (gram.cu): z-scoring each element
// position across the set, and the row/column sums behind the mean neurons.
#include "kernels/cuda/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/matrix_set_stats.h"

namespace moeprobe::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRun = 32;  // float32 run length before a sum is folded into float64

// One thread per position p: mean and unbiased std of the n values X[0..n-1, p] in float64,
// z-scores written as float32 (rounded once, from float64). All-equal positions are zeroed and
// counted; the test is exact (min == max), so it does not depend on rounding in the variance.
__global__ void __launch_bounds__(kThreads)
    standardize_kernel(const float* __restrict__ X, int64_t ld, int n, int64_t len,
                       float* __restrict__ Z, unsigned long long* __restrict__ skipped) {
  unsigned count = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < len;
       p += step) {
    double sum = 0.0;
    float lo = X[p], hi = X[p];
    for (int r = 0; r < n; ++r) {
      const float x = X[r * ld + p];
      sum += x;
      lo = fminf(lo, x);
      hi = fmaxf(hi, x);
    }
    if (lo == hi) {  // also every position of a set of one matrix
      for (int r = 0; r < n; ++r) Z[r * ld + p] = 0.0f;
      ++count;
      continue;
    }
    const double mean = sum / n;
    double ss = 0.0;
    for (int r = 0; r < n; ++r) {
      const double d = static_cast<double>(X[r * ld + p]) - mean;
      ss += d * d;
    }
    const double inv_std = 1.0 / sqrt(ss / (n - 1));
    for (int r = 0; r < n; ++r)
      Z[r * ld + p] = static_cast<float>((static_cast<double>(X[r * ld + p]) - mean) * inv_std);
  }
  // Every thread reaches this point (no early return), so the full-warp reduction is safe.
  const unsigned warp_count = __reduce_add_sync(0xffffffffu, count);
  if ((threadIdx.x & 31) == 0 && warp_count != 0)
    atomicAdd(skipped, static_cast<unsigned long long>(warp_count));
}

// Thread per (array r = blockIdx.y, column c): walks down the column; a warp reads consecutive
// columns of one row (coalesced).
__global__ void __launch_bounds__(kThreads)
    column_sums_kernel(const float* __restrict__ X, int64_t ld, int64_t rows, int64_t cols,
                       double* __restrict__ sums) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int r = blockIdx.y;
  const float* col = X + r * ld + c;
  double total = 0.0;
  for (int64_t row0 = 0; row0 < rows; row0 += kRun) {
    const int64_t row_end = row0 + kRun < rows ? row0 + kRun : rows;
    float run = 0.0f;
    for (int64_t row = row0; row < row_end; ++row) run += col[row * cols];
    total += run;
  }
  sums[r * cols + c] += total;
}

// Warp per (array r = blockIdx.y, row): lanes stride along the row, each summing up to kRun
// elements in float32 per float64 fold, then a warp reduction in float64.
__global__ void __launch_bounds__(kThreads)
    row_sums_kernel(const float* __restrict__ X, int64_t ld, int64_t rows, int64_t cols,
                    double* __restrict__ sums, int64_t sums_ld) {
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;  // warp-uniform: the whole warp leaves together
  const int r = blockIdx.y;
  const float* p = X + r * ld + row * cols;
  double total = 0.0;
  for (int64_t c0 = 0; c0 < cols; c0 += 32 * kRun) {
    const int64_t c_end = c0 + 32 * kRun < cols ? c0 + 32 * kRun : cols;
    float run = 0.0f;
    for (int64_t c = c0 + lane; c < c_end; c += 32) run += p[c];
    total += run;
  }
  total = warp_sum(total);
  if (lane == 0) sums[r * sums_ld + row] += total;
}

}  // namespace

void launch_standardize(const float* X, int64_t ld, int n, int64_t len, float* Z,
                        unsigned long long* skipped, cudaStream_t stream) {
  if (n <= 0 || len <= 0) return;
  standardize_kernel<<<grid_for(len, kThreads, 8192), kThreads, 0, stream>>>(X, ld, n, len, Z,
                                                                             skipped);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

void launch_column_sums(const float* X, int64_t ld, int n, int64_t rows, int64_t cols, double* sums,
                        cudaStream_t stream) {
  if (n <= 0 || rows <= 0 || cols <= 0) return;
  const dim3 grid(grid_for(cols, kThreads, INT32_MAX), static_cast<unsigned>(n));
  column_sums_kernel<<<grid, kThreads, 0, stream>>>(X, ld, rows, cols, sums);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

void launch_row_sums(const float* X, int64_t ld, int n, int64_t rows, int64_t cols, double* sums,
                     int64_t sums_ld, cudaStream_t stream) {
  if (n <= 0 || rows <= 0 || cols <= 0) return;
  const dim3 grid(grid_for(rows, kThreads / 32, INT32_MAX), static_cast<unsigned>(n));
  row_sums_kernel<<<grid, kThreads, 0, stream>>>(X, ld, rows, cols, sums, sums_ld);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

}  // namespace moeprobe::cuda
