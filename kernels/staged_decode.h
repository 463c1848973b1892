// The layout of one staged chunk and its decoding, shared by the CUDA conversion kernel
// (kernels/cuda/convert.cu) and the host tests that check the staging plan without a GPU
// (tests/kernels/test_staged_views.cpp): one definition, compiled for both.
//
// A chunk is what one host-to-device copy carries: a table of ArrayDesc (one per array of the set)
// at byte 0, then each array's bytes. A plain array is `count` elements of one dtype. A quantised
// array (FP8 with block or per-channel scales, MXFP4) is its raw codes followed by the rows of its
// scale grid the chunk touches; the device multiplies them out (kernels/staged_views.h plans it).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "io/dtype.h"
#include "io/float_codes.h"
#include "util/host_device.h"

namespace moeprobe::staged {

enum ArrayKind : int32_t { kPlain = 0, kFp8 = 1, kMxfp4 = 2 };

// Trivially copyable; the same bytes on host and device.
struct ArrayDesc {
  int32_t kind = kPlain;
  int32_t code = 0;        // static_cast<int>(DType): the elements (kPlain) or the FP8 codes
  int32_t scale_code = 0;  // FP8 scales: F32, BF16 or F16 (MXFP4 scales are E8M0 bytes)
  int32_t reserved = 0;
  int64_t codes = 0;   // byte offset of the elements / codes in the chunk
  int64_t scales = 0;  // byte offset of the staged scale rows in the chunk
  int64_t count = 0;   // elements of this array in the chunk
  // Quantised arrays. The chunk's element i is element (j, w) of the view's rows of `width`, with
  // j * width + w = first_col + i, and that is stored element
  // (row0 + j * row_step, col0 + j * col_step + w). Codes are staged in chunk order: FP8 code i
  // is byte i, MXFP4 code i is nibble i (low nibble first; chunks start at even nibbles).
  int64_t first_col = 0, width = 1;
  int64_t row0 = 0, row_step = 0, col0 = 0, col_step = 0;
  // The stored scale grid (StoredMatrix) and the index of its first staged row.
  int64_t rows_per_matrix = 1, block_rows = 1, block_cols = 1;
  int64_t scale_rows_per_matrix = 1, scale_cols = 1, scale_row0 = 0;
};

// A little-endian T at p (every host and device moeprobe builds for is little-endian).
template <typename T>
MOEPROBE_HOST_DEVICE inline T load_le(const unsigned char* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const T*>(p);  // staged offsets keep T's alignment
#else
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

// Element i of an array of float dtype `code` (F64 rounded to float; load_element_double keeps it).
MOEPROBE_HOST_DEVICE inline float load_element_float(const unsigned char* base, int code,
                                                     int64_t i) {
  switch (code) {
    case static_cast<int>(DType::BF16):
      return bf16_to_float(load_le<uint16_t>(base + 2 * i));
    case static_cast<int>(DType::F16):
      return f16_to_float(load_le<uint16_t>(base + 2 * i));
    case static_cast<int>(DType::F64):
      return static_cast<float>(load_le<double>(base + 8 * i));
    case static_cast<int>(DType::F8_E4M3):
      return f8e4m3_to_float(base[i]);
    case static_cast<int>(DType::F8_E5M2):
      return f8e5m2_to_float(base[i]);
    default:  // F32
      return load_le<float>(base + 4 * i);
  }
}

MOEPROBE_HOST_DEVICE inline double load_element_double(const unsigned char* base, int code,
                                                       int64_t i) {
  if (code == static_cast<int>(DType::F64)) return load_le<double>(base + 8 * i);
  return static_cast<double>(load_element_float(base, code, i));
}

// Rows of the view a quantised array's chunk touches (the first and last may be partial).
MOEPROBE_HOST_DEVICE inline int64_t chunk_rows(const ArrayDesc& d) {
  return d.count == 0 ? 0 : (d.first_col + d.count - 1) / d.width + 1;
}

// One of those rows: the chunk element of (j, w) is `out + w` for w in [w0, w1); the stored
// column of w is `col + w`; its scale row starts at staged scale index `scale_base`.
struct ChunkRow {
  int64_t out, w0, w1, col, scale_base;
};

MOEPROBE_HOST_DEVICE inline ChunkRow chunk_row(const ArrayDesc& d, int64_t j) {
  ChunkRow r;
  r.out = j * d.width - d.first_col;
  r.w0 = j == 0 ? d.first_col : 0;
  const int64_t end = d.first_col + d.count - j * d.width;
  r.w1 = end < d.width ? end : d.width;
  r.col = d.col0 + j * d.col_step;
  const int64_t row = d.row0 + j * d.row_step;
  const int64_t g = (row / d.rows_per_matrix) * d.scale_rows_per_matrix +
                    (row % d.rows_per_matrix) / d.block_rows;
  r.scale_base = (g - d.scale_row0) * d.scale_cols;
  return r;
}

// The value of element w of a chunk row, as the CPU reader computes it: in float, code times
// scale rounded once (StoredMatrix::run_float); in double, exactly (StoredMatrix::element_double).
template <typename T>
MOEPROBE_HOST_DEVICE inline T chunk_element(const unsigned char* chunk, const ArrayDesc& d,
                                            const ChunkRow& r, int64_t w) {
  const int64_t i = r.out + w;
  const int64_t s = r.scale_base + (r.col + w) / d.block_cols;
  if (d.kind == kFp8) {
    const uint8_t b = chunk[d.codes + i];
    const float q =
        d.code == static_cast<int>(DType::F8_E5M2) ? f8e5m2_to_float(b) : f8e4m3_to_float(b);
    return static_cast<T>(q) *
           static_cast<T>(load_element_float(chunk + d.scales, d.scale_code, s));
  }
  const uint8_t byte = chunk[d.codes + (i >> 1)];
  const uint8_t nibble =
      (i & 1) ? static_cast<uint8_t>(byte >> 4) : static_cast<uint8_t>(byte & 0xF);
  const uint8_t e = chunk[d.scales + s];
  if constexpr (std::is_same<T, double>::value)
    return static_cast<double>(e2m1_to_float(nibble)) * e8m0_to_double(e);
  else
    return e2m1_to_float(nibble) * e8m0_to_float(e);
}

}  // namespace moeprobe::staged
