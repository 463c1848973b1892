// Device helpers shared by the kernels: element loads by dtype and warp reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
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

// OCP E4M3FN (as io/dtype.cpp decodes it): bias 7, no infinities, S.1111.111 is NaN.
__device__ __forceinline__ float f8e4m3_to_float(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80) << 24;
  const uint32_t exp = (b >> 3) & 0xF;
  const uint32_t mant = b & 0x7;
  float v;
  if (exp == 0xF && mant == 0x7)
    v = __uint_as_float(0x7FC00000u);
  else if (exp == 0)
    v = static_cast<float>(mant) * 0x1p-9f;  // subnormal: mant / 8 * 2^-6, exact
  else
    v = __uint_as_float(((exp + 120u) << 23) | (mant << 20));  // 2^(exp-7) * 1.mmm
  return __uint_as_float(__float_as_uint(v) | sign);
}

// Element i of an array of type `code`; the caller checked device_converts(code). bf16, f16 and
// f8 widen exactly; f64 is rounded to float here (load_double keeps it).
__device__ __forceinline__ float load_float(const unsigned char* base, int code, int64_t i) {
  switch (code) {
    case kBF16: {
      const uint32_t bits = reinterpret_cast<const uint16_t*>(base)[i];
      return __uint_as_float(bits << 16);
    }
    case kF16:
      return __half2float(__ushort_as_half(reinterpret_cast<const uint16_t*>(base)[i]));
    case kF64:
      return static_cast<float>(reinterpret_cast<const double*>(base)[i]);
    case kF8E4M3:
      return f8e4m3_to_float(base[i]);
    case kF8E5M2:  // the upper byte of an IEEE half
      return __half2float(__ushort_as_half(static_cast<unsigned short>(base[i] << 8)));
    default:  // kF32
      return reinterpret_cast<const float*>(base)[i];
  }
}

__device__ __forceinline__ double load_double(const unsigned char* base, int code, int64_t i) {
  if (code == kF64) return reinterpret_cast<const double*>(base)[i];
  return static_cast<double>(load_float(base, code, i));
}

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
