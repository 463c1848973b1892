#include "io/tensor_view.h"

#include <stdexcept>
#include <string>

namespace moeprobe {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

TensorView TensorView::index0(int64_t i) const {
  if (shape.empty() || i < 0 || i >= shape[0])
    throw std::out_of_range(name + ": index " + std::to_string(i) + " outside " + shape_string());
  TensorView v = *this;
  v.shape.erase(v.shape.begin());
  v.name = name + "[" + std::to_string(i) + "]";
  v.data = data + static_cast<std::size_t>(i) * v.nbytes();
  return v;
}

TensorView TensorView::slice0(int64_t begin, int64_t end) const {
  if (shape.empty() || begin < 0 || end < begin || end > shape[0])
    throw std::out_of_range(name + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside " + shape_string());
  TensorView v = *this;
  const std::size_t row_bytes = shape[0] == 0 ? 0 : nbytes() / static_cast<std::size_t>(shape[0]);
  v.shape[0] = end - begin;
  v.name = name + "[" + std::to_string(begin) + ":" + std::to_string(end) + "]";
  v.data = data + static_cast<std::size_t>(begin) * row_bytes;
  return v;
}

namespace {
void check_range(const TensorView& v, int64_t offset, int64_t count) {
  if (offset < 0 || count < 0 || offset + count > v.numel())
    throw std::out_of_range(v.name + ": elements [" + std::to_string(offset) + ", " +
                            std::to_string(offset + count) + ") outside " + v.shape_string());
}
}  // namespace

void TensorView::read_float(int64_t offset, int64_t count, float* dst) const {
  check_range(*this, offset, count);
  convert_to_float(dtype, data + static_cast<std::size_t>(offset) * dtype_size(dtype), dst,
                   static_cast<std::size_t>(count));
}

void TensorView::read_double(int64_t offset, int64_t count, double* dst) const {
  check_range(*this, offset, count);
  convert_to_double(dtype, data + static_cast<std::size_t>(offset) * dtype_size(dtype), dst,
                    static_cast<std::size_t>(count));
}

}  // namespace moeprobe
