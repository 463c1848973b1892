#include "synth/quantize.h"

#include <algorithm>
#include <cmath>

#include "io/dtype.h"
#include "io/float_codes.h"

namespace moeprobe::synth {

namespace {

// Nearest of the increasing non-negative values[0..n) to a (>= 0), ties to the even index.
int nearest(const float* values, int n, float a) {
  const int hi = static_cast<int>(std::upper_bound(values, values + n, a) - values);
  if (hi == 0) return 0;
  if (hi == n) return n - 1;
  const float dlo = a - values[hi - 1], dhi = values[hi] - a;
  if (dlo < dhi) return hi - 1;
  if (dhi < dlo) return hi;
  return (hi - 1) % 2 == 0 ? hi - 1 : hi;
}

struct Tables {
  float e4m3[127];  // codes 0x00 .. 0x7E
  float e2m1[8];
  Tables() {
    for (int i = 0; i < 127; ++i) e4m3[i] = f8e4m3_to_float(static_cast<uint8_t>(i));
    for (int i = 0; i < 8; ++i) e2m1[i] = e2m1_to_float(static_cast<uint8_t>(i));
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint8_t float_to_e4m3(float v) {
  if (std::isnan(v)) return 0x7F;
  const int code = nearest(tables().e4m3, 127, std::fabs(v));
  return static_cast<uint8_t>(code | (std::signbit(v) ? 0x80 : 0));
}

uint8_t float_to_e2m1(float v) {
  const int code = nearest(tables().e2m1, 8, std::fabs(v));
  return static_cast<uint8_t>(code | (std::signbit(v) ? 0x8 : 0));
}

void quantize_fp8_blocks(const float* x, int64_t matrices, int64_t R, int64_t C, int64_t br,
                         int64_t bc, std::vector<uint8_t>& codes, std::vector<float>& scales,
                         std::vector<float>& dequantized) {
  const int64_t SR = (R + br - 1) / br, SC = (C + bc - 1) / bc;
  codes.assign(static_cast<std::size_t>(matrices * R * C), 0);
  dequantized.assign(codes.size(), 0.f);
  scales.assign(static_cast<std::size_t>(matrices * SR * SC), 1.f);
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t bi = 0; bi < SR; ++bi)
      for (int64_t bj = 0; bj < SC; ++bj) {
        const int64_t r0 = bi * br, r1 = std::min(R, r0 + br), c0 = bj * bc,
                      c1 = std::min(C, c0 + bc);
        float amax = 0.f;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c)
            amax = std::max(amax, std::fabs(x[(m * R + r) * C + c]));
        const float scale = amax > 0.f ? amax / 448.f : 1.f;
        scales[static_cast<std::size_t>((m * SR + bi) * SC + bj)] = scale;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) {
            const std::size_t i = static_cast<std::size_t>((m * R + r) * C + c);
            codes[i] = float_to_e4m3(x[i] / scale);
            dequantized[i] = f8e4m3_to_float(codes[i]) * scale;
          }
      }
}

void quantize_mxfp4(const float* x, int64_t rows, int64_t C, std::vector<uint8_t>& blocks,
                    std::vector<uint8_t>& scales, std::vector<float>& dequantized) {
  const int64_t G = C / 32;
  blocks.assign(static_cast<std::size_t>(rows * C / 2), 0);
  scales.assign(static_cast<std::size_t>(rows * G), 127);
  dequantized.assign(static_cast<std::size_t>(rows * C), 0.f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < G; ++g) {
      const float* v = x + r * C + g * 32;
      float amax = 0.f;
      for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(v[k]));
      // 2^(e - 127) >= amax / 6 so the largest value does not saturate.
      int e = 127;
      if (amax > 0.f)
        e = std::clamp(static_cast<int>(std::ceil(std::log2(amax / 6.f))) + 127, 0, 254);
      scales[static_cast<std::size_t>(r * G + g)] = static_cast<uint8_t>(e);
      const float scale = e8m0_to_float(static_cast<uint8_t>(e));
      for (int k = 0; k < 32; ++k) {
        const uint8_t code = float_to_e2m1(v[k] / scale);
        const std::size_t i = static_cast<std::size_t>(r * C + g * 32 + k);
        blocks[i / 2] |= static_cast<uint8_t>(k % 2 ? code << 4 : code);
        dequantized[i] = e2m1_to_float(code) * scale;
      }
    }
}

}  // namespace moeprobe::synth
