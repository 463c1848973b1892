// The all-experts evaluation on the GPU (kernels/backend.h, AllExpertsRequest): its kernels
// (all_experts.cu) and host entry (all_experts.cpp). Weights are converted to float32 on the host
// through TensorView::read_float (so quantised views dequantise unchanged), in row blocks of one
// expert matrix at a time, into page-locked memory and copied to the device; the three
// projections are cuBLAS SGEMMs on the full token block; per-token output Grams are one strided
// batched SGEMM per hidden chunk; the statistics are reduced on the host by the shared
// AllExpertsAccumulator. The token block is sized to a share of the free device memory, so a
// probe of a few thousand tokens is usually one block: every weight is read once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/backend.h"

namespace moeprobe::cuda {

class CudaContext;

// act(pre_a) * pre_u into hh (row stride hh_ld, column offset hh_col) for a [tokens, cols]
// column block in row-major order (pre_* row stride cols); for each of the nq thresholds (device
// array) counts[q * tokens + t] += #{|act| > threshold}; when acts is not null, the act values
// into acts (row stride acts_ld, column offset acts_col) and their sums into sums[t] (float64).
// activation: 0 SiLU, 1 GELU (erf), 2 GELU (tanh).
void launch_act_mul(const float* pre_a, const float* pre_u, int64_t tokens, int64_t cols,
                    int activation, float* hh, int64_t hh_ld, int64_t hh_col,
                    const float* thresholds, int nq, int* counts, float* acts, int64_t acts_ld,
                    int64_t acts_col, double* sums, cudaStream_t stream);

// Backend::all_experts on the context's device.
AllExpertsStats all_experts(CudaContext& ctx, const AllExpertsRequest& request);

}  // namespace moeprobe::cuda
