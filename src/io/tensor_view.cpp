#include "io/tensor_view.h"

#include <stdexcept>
#include <string>
#include <type_traits>

namespace moeprobe {

const char* quant_scheme_name(QuantScheme s) {
  switch (s) {
    case QuantScheme::None:
      return "none";
    case QuantScheme::Fp8Block:
      return "fp8-block";
    case QuantScheme::Mxfp4:
      return "mxfp4";
  }
  return "?";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::size_t TensorView::nbytes() const {
  if (!storage) return static_cast<std::size_t>(numel()) * dtype_size(dtype);
  return static_cast<std::size_t>(static_cast<double>(numel()) * storage->bytes_per_element());
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// Storage steps of a row-major tensor folded to [rows, last dim].
std::vector<std::array<int64_t, 2>> row_major_steps(const std::vector<int64_t>& shape) {
  const std::size_t n = shape.size();
  std::vector<std::array<int64_t, 2>> steps(n);
  if (n == 0) return steps;
  steps[n - 1] = {0, 1};
  int64_t rows = 1;
  for (std::size_t k = n - 1; k-- > 0;) {
    steps[k] = {rows, 0};
    rows *= shape[k];
  }
  return steps;
}

void shift_origin(TensorView& v, std::size_t dim, int64_t by) {
  v.origin_row += by * v.steps[dim][0];
  v.origin_col += by * v.steps[dim][1];
}

}  // namespace

TensorView TensorView::mapped() const {
  if (storage) return *this;
  TensorView v = *this;
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = QuantScheme::None;
  s->name = name;
  s->file = file;
  s->code_dtype = dtype;
  s->codes = data;
  s->cols = shape.empty() ? 1 : shape.back();
  s->rows = s->cols == 0 ? 0 : numel() / s->cols;
  s->rows_per_matrix = shape.size() >= 2 ? shape[shape.size() - 2] : s->rows;
  v.storage = std::move(s);
  v.data = nullptr;
  v.origin_row = v.origin_col = 0;
  v.steps = row_major_steps(shape);
  return v;
}

TensorView TensorView::index0(int64_t i) const {
  if (shape.empty() || i < 0 || i >= shape[0])
    throw std::out_of_range(name + ": index " + std::to_string(i) + " outside " + shape_string());
  TensorView v = *this;
  v.shape.erase(v.shape.begin());
  v.name = name + "[" + std::to_string(i) + "]";
  if (storage) {
    shift_origin(v, 0, i);
    v.steps.erase(v.steps.begin());
  } else {
    v.data = data + static_cast<std::size_t>(i) * v.nbytes();
  }
  return v;
}

TensorView TensorView::slice0(int64_t begin, int64_t end) const {
  if (shape.empty() || begin < 0 || end < begin || end > shape[0])
    throw std::out_of_range(name + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside " + shape_string());
  TensorView v = *this;
  v.shape[0] = end - begin;
  v.name = name + "[" + std::to_string(begin) + ":" + std::to_string(end) + "]";
  if (storage) {
    shift_origin(v, 0, begin);
  } else {
    const std::size_t row_bytes = shape[0] == 0 ? 0 : nbytes() / static_cast<std::size_t>(shape[0]);
    v.data = data + static_cast<std::size_t>(begin) * row_bytes;
  }
  return v;
}

TensorView TensorView::every0(int64_t start, int64_t step) const {
  if (shape.empty() || step < 1 || start < 0 || start >= std::max<int64_t>(shape[0], 1))
    throw std::out_of_range(name + ": every " + std::to_string(step) + "th row from " +
                            std::to_string(start) + " outside " + shape_string());
  TensorView v = mapped();
  shift_origin(v, 0, start);
  v.steps[0][0] *= step;
  v.steps[0][1] *= step;
  v.shape[0] = (shape[0] - start + step - 1) / step;
  v.name = name + "[" + std::to_string(start) + "::" + std::to_string(step) + "]";
  return v;
}

TensorView TensorView::transposed() const {
  if (shape.size() < 2)
    throw std::out_of_range(name + ": cannot transpose a tensor of shape " + shape_string());
  TensorView v = mapped();
  const std::size_t n = shape.size();
  std::swap(v.shape[n - 1], v.shape[n - 2]);
  std::swap(v.steps[n - 1], v.steps[n - 2]);
  v.name = name + ".T";
  return v;
}

namespace {

void check_range(const TensorView& v, int64_t offset, int64_t count) {
  if (offset < 0 || count < 0 || offset + count > v.numel())
    throw std::out_of_range(v.name + ": elements [" + std::to_string(offset) + ", " +
                            std::to_string(offset + count) + ") outside " + v.shape_string());
}

// Walks elements [offset, offset + count) of a mapped view as runs along its last dimension:
// run(storage row, storage col, row step, col step, length, destination offset).
template <class Run>
void for_each_run(const TensorView& v, int64_t offset, int64_t count, Run run) {
  const std::size_t n = v.shape.size();
  if (n == 0) {
    if (count > 0) run(v.origin_row, v.origin_col, 0, 1, 1, 0);
    return;
  }
  int64_t small[8];
  std::vector<int64_t> big(n > 8 ? n : 0);
  int64_t* idx = n > 8 ? big.data() : small;
  int64_t rest = offset;
  for (std::size_t k = n; k-- > 0;) {
    idx[k] = v.shape[k] == 0 ? 0 : rest % v.shape[k];
    rest = v.shape[k] == 0 ? 0 : rest / v.shape[k];
  }
  int64_t done = 0;
  while (done < count) {
    int64_t r = v.origin_row, c = v.origin_col;
    for (std::size_t k = 0; k < n; ++k) {
      r += idx[k] * v.steps[k][0];
      c += idx[k] * v.steps[k][1];
    }
    const int64_t len = std::min(count - done, v.shape[n - 1] - idx[n - 1]);
    run(r, c, v.steps[n - 1][0], v.steps[n - 1][1], len, done);
    done += len;
    idx[n - 1] += len;
    for (std::size_t k = n - 1; k > 0 && idx[k] >= v.shape[k]; --k) {
      idx[k] = 0;
      ++idx[k - 1];
    }
  }
}

}  // namespace

namespace {

// Elements [offset, offset + count) of a mapped view in T (float or double): runs along a
// storage row decode together, strided runs (transposed views) element by element.
template <class T>
void read_mapped(const TensorView& v, int64_t offset, int64_t count, T* dst) {
  const StoredMatrix& s = *v.storage;
  for_each_run(v, offset, count,
               [&](int64_t r, int64_t c, int64_t dr, int64_t dc, int64_t len, int64_t at) {
                 if (dr == 0 && dc == 1) {
                   if constexpr (std::is_same_v<T, float>)
                     s.run_float(r, c, len, dst + at);
                   else
                     s.run_double(r, c, len, dst + at);
                   return;
                 }
                 for (int64_t j = 0; j < len; ++j) {
                   if constexpr (std::is_same_v<T, float>)
                     dst[at + j] = s.element_float(r + j * dr, c + j * dc);
                   else
                     dst[at + j] = s.element_double(r + j * dr, c + j * dc);
                 }
               });
}

}  // namespace

void TensorView::read_float(int64_t offset, int64_t count, float* dst) const {
  check_range(*this, offset, count);
  if (storage) return read_mapped(*this, offset, count, dst);
  convert_to_float(dtype, data + static_cast<std::size_t>(offset) * dtype_size(dtype), dst,
                   static_cast<std::size_t>(count));
}

void TensorView::read_double(int64_t offset, int64_t count, double* dst) const {
  check_range(*this, offset, count);
  if (storage) return read_mapped(*this, offset, count, dst);
  convert_to_double(dtype, data + static_cast<std::size_t>(offset) * dtype_size(dtype), dst,
                    static_cast<std::size_t>(count));
}

}  // namespace moeprobe
