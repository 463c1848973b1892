// Neuron normalisation for neuron_cosine: after every neuron vector has unit length, the cosine
// matrix is one matrix product (cuBLAS, issued from neuron_cosine.cpp).
#include "kernels/cuda/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/neuron_cosine.h"

namespace moeprobe::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ double inverse_norm(double sum_sq) {
  return sum_sq > 0.0 ? 1.0 / sqrt(sum_sq) : 0.0;  // a zero neuron gets cosine 0 with everything
}

// Neurons in rows: warp per row, squares summed in float64.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    row_inv_norms_kernel(const T* __restrict__ M, int64_t rows, int64_t cols,
                         double* __restrict__ inv_norm) {
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;  // warp-uniform
  const T* p = M + row * cols;
  double ss = 0.0;
  for (int64_t c = lane; c < cols; c += 32) {
    const double v = static_cast<double>(p[c]);
    ss += v * v;
  }
  ss = warp_sum(ss);
  if (lane == 0) inv_norm[row] = inverse_norm(ss);
}

// Neurons in columns: thread per column walking down it; a warp reads consecutive columns.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    col_inv_norms_kernel(const T* __restrict__ M, int64_t rows, int64_t cols,
                         double* __restrict__ inv_norm) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  double ss = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const double v = static_cast<double>(M[r * cols + c]);
    ss += v * v;
  }
  inv_norm[c] = inverse_norm(ss);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    scale_kernel(T* __restrict__ M, int64_t rows, int64_t cols, bool by_rows,
                 const double* __restrict__ inv_norm) {
  const int64_t count = rows * cols;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step) {
    const int64_t neuron = by_rows ? i / cols : i % cols;
    M[i] = static_cast<T>(static_cast<double>(M[i]) * inv_norm[neuron]);
  }
}

}  // namespace

template <typename T>
void launch_neuron_inv_norms(const T* M, int64_t rows, int64_t cols, bool by_rows, double* inv_norm,
                             cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (by_rows) {
    row_inv_norms_kernel<T><<<grid_for(rows, kThreads / 32, INT32_MAX), kThreads, 0, stream>>>(
        M, rows, cols, inv_norm);
  } else {
    col_inv_norms_kernel<T>
        <<<grid_for(cols, kThreads, INT32_MAX), kThreads, 0, stream>>>(M, rows, cols, inv_norm);
  }
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_scale_neurons(T* M, int64_t rows, int64_t cols, bool by_rows, const double* inv_norm,
                          cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  scale_kernel<T><<<grid_for(rows * cols, kThreads, 8192), kThreads, 0, stream>>>(
      M, rows, cols, by_rows, inv_norm);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

template void launch_neuron_inv_norms<float>(const float*, int64_t, int64_t, bool, double*,
                                             cudaStream_t);
template void launch_neuron_inv_norms<double>(const double*, int64_t, int64_t, bool, double*,
                                              cudaStream_t);
template void launch_scale_neurons<float>(float*, int64_t, int64_t, bool, const double*,
                                          cudaStream_t);
template void launch_scale_neurons<double>(double*, int64_t, int64_t, bool, const double*,
                                           cudaStream_t);

}  // namespace moeprobe::cuda
