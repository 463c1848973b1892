// Block kernels of the CPU backend's matrix_set_stats: they work on a float32 scratch of N rows
// (one per matrix) holding the same `len` element positions, each row `stride` floats apart,
// `len` a multiple of 8 with the padding zeroed. Two implementations with identical results up
// to float rounding: AVX2+FMA intrinsics (picked at run time when the CPU has them) and portable
// C++ (any x86-64 or other target).
#pragma once

#include <cstdint>

#include "io/dtype.h"

namespace moeprobe::cpu {

struct SetKernels {
  // Converts count elements of a raw buffer (starting at element `offset`) to float, and when
  // `sum` is not null also adds them element-wise into sum[0, count) (the column sums behind
  // the mean neurons, done here while the values are in registers).
  void (*load)(DType dtype, const unsigned char* base, int64_t offset, int64_t count, float* dst,
               float* sum);
  // Adds the upper triangle (a <= b) of the Gram of the n rows into acc (n x n, row-major,
  // float64). Products are summed in float32 over the block only, then added in float64.
  void (*gram)(const float* x, int64_t n, int64_t stride, int64_t len, double* acc);
  // Replaces every position of the n rows by its z-score across the rows (sample standard
  // deviation), or by 0 where all n values are equal; returns how many such constant positions
  // lie among the first `real` (the rest is padding). n >= 2.
  int64_t (*standardize)(float* x, int64_t n, int64_t stride, int64_t len, int64_t real);
  const char* name;
};

// The fastest kernels this CPU runs.
const SetKernels& set_kernels();
// The portable kernels (tests compare both).
const SetKernels& portable_set_kernels();

}  // namespace moeprobe::cpu
