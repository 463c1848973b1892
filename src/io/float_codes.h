// The number formats of checkpoints decoded to float, defined once for the host readers
// (io/dtype.cpp, io/stored_matrix.cpp) and the CUDA kernels (kernels/staged_decode.h):
//   BF16, F16 (IEEE half), FP8 E4M3FN (OCP: bias 7, no infinities, S.1111.111 is NaN), FP8 E5M2
//   (the upper byte of a half), and the OCP Microscaling element and scale formats E2M1 (MXFP4:
//   0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives) and E8M0 (2^(e - 127); 0xFF is NaN, 0x00 is
//   2^-127, a float32 subnormal). Every decoding is exact: each value is a float.
#pragma once

#include <cstdint>
#include <cstring>

#include "util/host_device.h"

namespace moeprobe {

// The value whose bits are `bits` (memcpy between locals: one register move, host and device).
template <typename To, typename From>
MOEPROBE_HOST_DEVICE inline To bits_as(const From& bits) {
  static_assert(sizeof(To) == sizeof(From), "bits_as: sizes differ");
  To to;
  memcpy(&to, &bits, sizeof to);
  return to;
}

MOEPROBE_HOST_DEVICE inline float float_from_bits(uint32_t bits) {
  return bits_as<float>(bits);
}

MOEPROBE_HOST_DEVICE inline float bf16_to_float(uint16_t bits) {
  return float_from_bits(uint32_t{bits} << 16);
}

MOEPROBE_HOST_DEVICE inline float f16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact (no flush to zero: moeprobe builds without fast math).
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  if (exp == 31) return float_from_bits(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  return float_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

MOEPROBE_HOST_DEVICE inline float f8e4m3_to_float(uint8_t b) {
  const uint32_t sign = uint32_t{b & 0x80u} << 24;
  const uint32_t exp = (b >> 3) & 0xF;
  const uint32_t mant = b & 0x7;
  if (exp == 0xF && mant == 0x7) return float_from_bits(sign | 0x7FC00000u);  // NaN
  if (exp == 0) {
    const float v = static_cast<float>(mant) * 0x1p-9f;  // subnormal: mant / 8 * 2^-6
    return sign ? -v : v;
  }
  return float_from_bits(sign | ((exp + 120) << 23) | (mant << 20));  // 2^(exp - 7) * 1.mmm
}

MOEPROBE_HOST_DEVICE inline float f8e5m2_to_float(uint8_t b) {
  return f16_to_float(static_cast<uint16_t>(uint16_t{b} << 8));
}

// The low 4 bits: s.ee.m, bias 1; ee = 0 is the subnormal 0.m.
MOEPROBE_HOST_DEVICE inline float e2m1_to_float(uint8_t nibble) {
  const uint32_t sign = uint32_t{nibble & 0x8u} << 28;
  const uint32_t exp = (nibble >> 1) & 0x3;
  const uint32_t mant = nibble & 0x1;
  if (exp == 0) return float_from_bits(sign | (mant ? 0x3F000000u : 0u));  // +-0, +-0.5
  return float_from_bits(sign | ((exp + 126) << 23) | (mant << 22));       // 2^(exp - 1) * 1.m
}

MOEPROBE_HOST_DEVICE inline float e8m0_to_float(uint8_t e) {
  if (e == 0xFF) return float_from_bits(0x7FC00000u);
  return float_from_bits(e == 0 ? 0x00400000u : uint32_t{e} << 23);  // 2^-127 is subnormal
}

MOEPROBE_HOST_DEVICE inline double e8m0_to_double(uint8_t e) {
  if (e == 0xFF) return bits_as<double>(uint64_t{0x7FF8000000000000ull});
  return bits_as<double>(static_cast<uint64_t>(e + 896) << 52);  // 2^(e - 127), always normal
}

}  // namespace moeprobe
