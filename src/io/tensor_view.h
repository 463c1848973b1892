// A bounds-checked, non-owning view of one tensor inside a memory-mapped safetensors file.
// Views of fused tensors (one expert of gate_up_proj, its act or up half) are sub-views: no copies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace moeprobe {

struct TensorView {
  std::string name;  // tensor name in the checkpoint (with a [..] suffix for sub-views)
  std::string file;  // shard it lives in, for error messages
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;  // row-major, contiguous

  int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
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

  // Converts elements [offset, offset + count) of the flattened tensor. Throws std::out_of_range.
  void read_float(int64_t offset, int64_t count, float* dst) const;
  void read_double(int64_t offset, int64_t count, double* dst) const;
};

}  // namespace moeprobe
