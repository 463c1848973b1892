// The small number formats of quantised checkpoints, decoded exactly (OCP Microscaling spec):
// E2M1 (MXFP4 elements: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives) and E8M0 (MX scales:
// 2^(e - 127), 0xFF is NaN, 0x00 is 2^-127, a float32 subnormal). FP8 E4M3/E5M2 are in dtype.h.
#pragma once

#include <cstdint>

namespace moeprobe {

float e2m1_to_float(uint8_t nibble);  // low 4 bits
float e8m0_to_float(uint8_t e);
double e8m0_to_double(uint8_t e);

}  // namespace moeprobe
