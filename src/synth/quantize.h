// Quantisers for synthetic checkpoints: the inverse of io/quantization's readers, so synth can
// write DeepSeek-V3-style FP8 block-scaled and gpt-oss-style MXFP4 weights together with their
// exact dequantised values (the "twin" a test compares against).
#pragma once

#include <cstdint>
#include <vector>

namespace moeprobe::synth {

// The E4M3 code nearest to v (ties to the even code), saturating at +-448; NaN -> 0x7F.
uint8_t float_to_e4m3(float v);
// The E2M1 code (4 bits) nearest to v (ties to the even code), saturating at +-6.
uint8_t float_to_e2m1(float v);

// x: `matrices` row-major [R, C] matrices. One F32 scale per [br, bc] block (amax / 448, 1 for an
// all-zero block), codes = e4m3(x / scale); dequantised = e4m3 value * scale in float (as the
// reader computes it).
void quantize_fp8_blocks(const float* x, int64_t matrices, int64_t R, int64_t C, int64_t br,
                         int64_t bc, std::vector<uint8_t>& codes, std::vector<float>& scales,
                         std::vector<float>& dequantized);
// x: rows of C values (C % 32 == 0). Per 32 values an E8M0 exponent e with amax / 2^(e-127) in
// (3, 6] where possible; two codes a byte, low nibble first.
void quantize_mxfp4(const float* x, int64_t rows, int64_t C, std::vector<uint8_t>& blocks,
                    std::vector<uint8_t>& scales, std::vector<float>& dequantized);

}  // namespace moeprobe::synth
