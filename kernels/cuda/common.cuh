// Device helpers shared by the kernels: dtype codes, warp reductions, grid sizes. Element
// decoding is kernels/staged_decode.h (one definition with the host).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "io/dtype.h"

namespace moeprobe::cuda {

constexpr int kF16 = static_cast<int>(DType::F16);
constexpr int kBF16 = static_cast<int>(DType::BF16);
constexpr int kF32 = static_cast<int>(DType::F32);
constexpr int kF64 = static_cast<int>(DType::F64);
constexpr int kF8E4M3 = static_cast<int>(DType::F8_E4M3);
constexpr int kF8E5M2 = static_cast<int>(DType::F8_E5M2);

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

// Blocks for a grid-stride loop over `count` items with `threads` per block, capped so the grid
// stays within limits while keeping every SM busy.
inline unsigned grid_for(int64_t count, int threads, int64_t cap = 65535) {
  int64_t blocks = (count + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks);
}

}  // namespace moeprobe::cuda
