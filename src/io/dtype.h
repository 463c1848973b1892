// Element types of safetensors files and their conversion to float. Conversion happens on small
// blocks inside kernels, never as a copy of a whole checkpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "io/float_codes.h"  // bf16/f16/f8 -> float, shared with the CUDA kernels

namespace moeprobe {

enum class DType {
  BOOL,
  U8,
  I8,
  I16,
  U16,
  I32,
  U32,
  I64,
  U64,
  F16,
  BF16,
  F32,
  F64,
  F8_E4M3,
  F8_E5M2
};

// Name as written in safetensors headers ("BF16").
const char* dtype_name(DType t);
std::optional<DType> parse_dtype(const std::string& name);
std::size_t dtype_size(DType t);
// True for the types the analyses convert to float: F16, BF16, F32, F64, F8_E4M3, F8_E5M2.
bool dtype_is_float(DType t);

// Decoding (bf16_to_float, f16_to_float, f8e4m3_to_float, f8e5m2_to_float): io/float_codes.h.
uint16_t float_to_bf16(float v);  // round to nearest even; NaN stays NaN
uint16_t float_to_f16(float v);   // round to nearest even, overflow to inf

// Converts n elements of a float type starting at src (unaligned allowed) into dst.
void convert_to_float(DType t, const void* src, float* dst, std::size_t n);
void convert_to_double(DType t, const void* src, double* dst, std::size_t n);
// Encodes n floats as dtype t into dst (the writer and the synthetic generator use it).
void convert_from_float(DType t, const float* src, void* dst, std::size_t n);

}  // namespace moeprobe
