#include "kernels/cuda/mapped_views.h"

namespace moeprobe::cuda {

std::size_t staged_element_size(const TensorView& v) {
  return v.plain() ? dtype_size(v.dtype) : sizeof(float);
}

int staged_dtype_code(const TensorView& v) {
  return static_cast<int>(v.plain() ? v.dtype : DType::F32);
}

Piece staged_piece(const TensorView& v, std::size_t offset, int64_t first, int64_t count) {
  Piece p;
  p.offset = offset;
  p.bytes = static_cast<std::size_t>(count) * staged_element_size(v);
  if (v.plain()) {
    p.src = v.data + static_cast<std::size_t>(first) * dtype_size(v.dtype);
  } else {
    p.src = nullptr;
    p.view = &v;
    p.first = first;
  }
  return p;
}

TensorView row_as_matrix(const TensorView& m, int64_t i) {
  const int64_t d = m.cols();
  if (m.plain()) {
    TensorView v = m;
    v.shape = {1, d};
    v.data = m.data ? m.data + static_cast<std::size_t>(i * d) * dtype_size(m.dtype) : nullptr;
    return v;
  }
  TensorView v = m.index0(i);  // [d]
  v.shape.insert(v.shape.begin(), 1);
  v.steps.insert(v.steps.begin(), {0, 0});
  return v;
}

}  // namespace moeprobe::cuda
