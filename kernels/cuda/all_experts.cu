// Kernels of the all-experts evaluation (all_experts.h): the activation, the element-wise product
// and the per-token active-neuron counts and act sums in one pass over a projection block.
#include <cuda_runtime.h>

#include "kernels/cuda/all_experts.h"
#include "kernels/cuda/check.h"

namespace moeprobe::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxThresholds = 8;

__device__ float activate(int activation, float u) {
  switch (activation) {
    case 0:
      return u / (1.0f + expf(-u));
    case 1:
      return 0.5f * u * erfcf(-u * 0.70710678118654752f);
    default:
      return 0.5f * u * (1.0f + tanhf(0.79788456080286536f * (u + 0.044715f * u * u * u)));
  }
}

// grid (ceil(cols / kThreads), tokens): one token row per blockIdx.y.
__global__ void act_mul_kernel(const float* __restrict__ pre_a, const float* __restrict__ pre_u,
                               int64_t cols, int activation, float* __restrict__ hh, int64_t hh_ld,
                               int64_t hh_col, const float* __restrict__ thresholds, int nq,
                               int* __restrict__ counts, int64_t tokens, float* __restrict__ acts,
                               int64_t acts_ld, int64_t acts_col, double* __restrict__ sums) {
  __shared__ double partial[kThreads];
  const int64_t t = blockIdx.y;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const bool live = i < cols;
  float a = 0.0f;
  if (live) {
    a = activate(activation, pre_a[t * cols + i]);
    hh[t * hh_ld + hh_col + i] = a * pre_u[t * cols + i];
    if (acts) acts[t * acts_ld + acts_col + i] = a;
  }
  for (int q = 0; q < nq && q < kMaxThresholds; ++q) {
    const int n = __syncthreads_count(live && fabsf(a) > thresholds[q]);
    if (threadIdx.x == 0 && n > 0) atomicAdd(&counts[q * tokens + t], n);
  }
  if (sums) {
    partial[threadIdx.x] = live ? static_cast<double>(a) : 0.0;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(&sums[t], partial[0]);
  }
}

}  // namespace

void launch_act_mul(const float* pre_a, const float* pre_u, int64_t tokens, int64_t cols,
                    int activation, float* hh, int64_t hh_ld, int64_t hh_col,
                    const float* thresholds, int nq, int* counts, float* acts, int64_t acts_ld,
                    int64_t acts_col, double* sums, cudaStream_t stream) {
  if (tokens == 0 || cols == 0) return;
  const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
                  static_cast<unsigned>(tokens));
  act_mul_kernel<<<grid, kThreads, 0, stream>>>(pre_a, pre_u, cols, activation, hh, hh_ld, hh_col,
                                                thresholds, nq, counts, tokens, acts, acts_ld,
                                                acts_col, sums);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

}  // namespace moeprobe::cuda
