// A bounds-checked, non-owning view of one tensor inside a memory-mapped safetensors file.
// Views of fused tensors (one expert of gate_up_proj, its act or up half) are sub-views: no copies.
//
// Most views are plain: `numel()` elements of `dtype`, contiguous at `data`. A view is *mapped*
// (`storage` set, `data` null) when its elements are not such a run: a quantised tensor (FP8 codes
// with block scales, MXFP4 nibbles with E8M0 scales) or a strided sub-view (the interleaved act/up
// rows of gpt-oss, the transposed [E, H, 2I] fused tensors of Llama-4). Every element of a mapped
// view is found through its StoredMatrix, and read_float / read_double dequantise block by block,
// so kernels that read through them work on every layout unchanged. Code that reads `data`
// directly must check plain() first.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace moeprobe {

enum class QuantScheme {
  None,      // plain elements of code_dtype (a strided view of an unquantised tensor)
  Fp8Block,  // FP8 codes times a scale per [block_rows, block_cols] block (weight_scale_inv)
  Mxfp4,     // E2M1 nibbles (low nibble first) times 2^(e - 127) per 32 values of a row
};
const char* quant_scheme_name(QuantScheme s);

// The on-disk tensor behind a mapped view, seen as a matrix [rows, cols]: its last dimension is
// `cols`, every other dimension is folded into `rows`. The scale grid restarts every
// `rows_per_matrix` rows (the second-to-last dimension), so [E, R, C] tensors with per-expert
// blocks that do not divide R are read right.
struct StoredMatrix {
  QuantScheme scheme = QuantScheme::None;
  std::string name;  // the codes tensor ("..._blocks" for MXFP4)
  std::string file;
  DType code_dtype = DType::F32;  // FP8: F8_E4M3/F8_E5M2; MXFP4: U8 (two codes a byte)
  const unsigned char* codes = nullptr;
  int64_t rows = 0, cols = 0, rows_per_matrix = 0;
  // Scales (Fp8Block, Mxfp4): tensor, dtype (F32/BF16/F16 for FP8, U8 E8M0 for MXFP4), block.
  std::string scale_name;
  DType scale_dtype = DType::F32;
  const unsigned char* scales = nullptr;
  int64_t block_rows = 1, block_cols = 1;
  int64_t scale_rows_per_matrix = 0, scale_cols = 0;  // ceil(R / block_rows), ceil(C / block_cols)

  // Bytes of codes and scales per element (for throughput figures).
  double bytes_per_element() const;
  // One element (storage row r, column c).
  double element_double(int64_t r, int64_t c) const;
  float element_float(int64_t r, int64_t c) const;
  // n consecutive elements of storage row r starting at column c.
  void run_float(int64_t r, int64_t c, int64_t n, float* dst) const;
  void run_double(int64_t r, int64_t c, int64_t n, double* dst) const;
};

struct TensorView {
  std::string name;          // tensor name in the checkpoint (with a [..] suffix for sub-views)
  std::string file;          // shard it lives in, for error messages
  DType dtype = DType::F32;  // element type; for a mapped view its storage's code type
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;  // plain views: row-major, contiguous; mapped: null

  // Mapped views only: element (x_0, ..., x_{n-1}) is storage element
  // (origin_row + sum x_k steps[k][0], origin_col + sum x_k steps[k][1]).
  std::shared_ptr<const StoredMatrix> storage;
  int64_t origin_row = 0, origin_col = 0;
  std::vector<std::array<int64_t, 2>> steps;

  bool plain() const { return !storage; }
  bool quantized() const { return storage && storage->scheme != QuantScheme::None; }
  QuantScheme quant_scheme() const { return storage ? storage->scheme : QuantScheme::None; }
  // True when the analyses can read it as real numbers (a float dtype, or any mapped view).
  bool float_valued() const { return storage ? true : dtype_is_float(dtype); }

  int64_t numel() const;
  // Plain views: bytes at `data`. Mapped views: the stored bytes behind the elements (codes and
  // scales, approximately).
  std::size_t nbytes() const;
  int64_t dim(int i) const { return shape.at(static_cast<std::size_t>(i)); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  // Rows of the tensor seen as a matrix [shape[0], product of the rest].
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  int64_t cols() const { return rows() == 0 ? 0 : numel() / rows(); }
  std::string shape_string() const;  // "[8, 4096]"

  // Element i along dim 0 with that dim dropped: expert e of a fused [E, ...] tensor.
  TensorView index0(int64_t i) const;
  // Rows [begin, end) along dim 0: the act or up half of gate_up_proj[e].
  TensorView slice0(int64_t begin, int64_t end) const;
  // Every `step`-th entry of dim 0 from `start` (gpt-oss's interleaved gate/up rows). Mapped.
  TensorView every0(int64_t start, int64_t step) const;
  // The last two dimensions swapped ([H, 2I] stored, [2I, H] seen). Mapped.
  TensorView transposed() const;
  // This view as a mapped one (same elements); a mapped view is returned unchanged.
  TensorView mapped() const;

  // Converts elements [offset, offset + count) of the flattened tensor. Throws std::out_of_range.
  void read_float(int64_t offset, int64_t count, float* dst) const;
  void read_double(int64_t offset, int64_t count, double* dst) const;
};

}  // namespace moeprobe
