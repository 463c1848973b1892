#include "kernels/staged_views.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "util/parallel_for.h"

namespace moeprobe::staged {

void gather(unsigned char* dst, const std::vector<Piece>& pieces) {
  std::size_t total = 0;
  for (const Piece& p : pieces) total += p.bytes;
  constexpr std::size_t kPerThread = std::size_t{8} << 20;
  const std::size_t hw = static_cast<std::size_t>(default_threads());
  const std::size_t nthreads =
      std::min<std::size_t>({std::size_t{8}, hw, std::max<std::size_t>(1, total / kPerThread)});
  // Thread t copies bytes [t*total/nthreads, (t+1)*total/nthreads) of the concatenated pieces.
  auto copy_range = [&](std::size_t begin, std::size_t end) {
    std::size_t base = 0;
    for (const Piece& p : pieces) {
      const std::size_t lo = std::max(begin, base), hi = std::min(end, base + p.bytes);
      if (lo < hi && p.view) {
        // The elements whose first byte lies in [lo, hi): disjoint across threads.
        const int64_t e0 = static_cast<int64_t>((lo - base + 3) / 4);
        const int64_t e1 = static_cast<int64_t>((hi - base + 3) / 4);
        if (e1 > e0)
          p.view->read_float(p.first + e0, e1 - e0, reinterpret_cast<float*>(dst + p.offset) + e0);
      } else if (lo < hi) {
        std::memcpy(dst + p.offset + (lo - base), p.src + (lo - base), hi - lo);
      }
      base += p.bytes;
      if (base >= end) break;
    }
  };
  if (nthreads <= 1) {
    copy_range(0, total);
    return;
  }
  moeprobe::parallel_for(static_cast<int64_t>(nthreads), static_cast<int>(nthreads),
                         [&](int64_t t) {
                           const std::size_t k = static_cast<std::size_t>(t);
                           copy_range(k * total / nthreads, (k + 1) * total / nthreads);
                         });
}

namespace {

// A mapped view whose rows are runs of stored rows: view element (j, w) is stored element
// (row0 + j * row_step, col0 + j * col_step + w).
struct RowGeometry {
  int64_t width = 0, row0 = 0, row_step = 0, col0 = 0, col_step = 0;
};

bool row_geometry(const TensorView& v, RowGeometry& g) {
  if (!v.storage || v.steps.size() != v.shape.size()) return false;
  const std::array<int64_t, 2> unit_col{0, 1};
  g.row0 = v.origin_row;
  g.col0 = v.origin_col;
  if (v.shape.size() == 2) {
    if (v.steps[1] != unit_col) return false;
    g.width = v.shape[1];
    g.row_step = v.steps[0][0];
    g.col_step = v.steps[0][1];
  } else if (v.shape.size() == 1) {
    if (v.steps[0] != unit_col) return false;
    g.width = v.shape[0];
  } else {
    return false;  // the kernels take matrices; other ranks keep the host path
  }
  return g.width > 0 && g.row_step >= 0 && g.col_step >= 0;
}

// The scale-grid row of stored row r (the grid restarts every rows_per_matrix rows).
int64_t scale_row(const StoredMatrix& s, int64_t r) {
  return (r / s.rows_per_matrix) * s.scale_rows_per_matrix + (r % s.rows_per_matrix) / s.block_rows;
}

std::size_t round16(std::size_t v) {
  return (v + 15) / 16 * 16;
}

}  // namespace

Mode stage_mode(const TensorView& v) {
  if (v.plain()) return Mode::Raw;
  RowGeometry g;
  if (!row_geometry(v, g)) return Mode::HostF32;
  const StoredMatrix& s = *v.storage;
  switch (s.scheme) {
    case QuantScheme::None:
      return dtype_is_float(s.code_dtype) ? Mode::RowRuns : Mode::HostF32;
    case QuantScheme::Fp8Block:
      return Mode::RowRuns;
    case QuantScheme::Mxfp4:
      // Every run must start at a whole byte of the nibble stream.
      return g.width % 2 == 0 && g.col0 % 2 == 0 && g.col_step % 2 == 0 && s.cols % 2 == 0
                 ? Mode::RowRuns
                 : Mode::HostF32;
  }
  return Mode::HostF32;
}

int64_t stage_unit(const TensorView& v) {
  return v.quant_scheme() == QuantScheme::Mxfp4 && stage_mode(v) == Mode::RowRuns ? 2 : 1;
}

double staged_bytes_per_element(const TensorView& v) {
  switch (stage_mode(v)) {
    case Mode::Raw:
      return static_cast<double>(dtype_size(v.dtype));
    case Mode::HostF32:
      return 4.0;
    case Mode::RowRuns:
      break;
  }
  return v.quantized() ? v.storage->bytes_per_element()
                       : static_cast<double>(dtype_size(v.storage->code_dtype));
}

ArrayPlan plan_array(const TensorView& v, std::size_t offset, int64_t first, int64_t count) {
  const int64_t numel = v.numel();
  if (first < 0 || count < 0 || first + count > numel)
    throw std::logic_error(v.name + ": staged elements [" + std::to_string(first) + ", " +
                           std::to_string(first + count) + ") outside " + v.shape_string());
  ArrayPlan p;
  ArrayDesc& d = p.desc;
  d.count = count;
  d.codes = static_cast<int64_t>(offset);
  const Mode mode = stage_mode(v);
  if (mode == Mode::Raw || mode == Mode::HostF32) {
    const bool raw = mode == Mode::Raw;
    d.code = static_cast<int>(raw ? v.dtype : DType::F32);
    p.bytes = static_cast<std::size_t>(count) * (raw ? dtype_size(v.dtype) : sizeof(float));
    Piece piece;
    piece.offset = offset;
    piece.bytes = p.bytes;
    if (raw)
      piece.src = v.data + static_cast<std::size_t>(first) * dtype_size(v.dtype);
    else {
      piece.view = &v;
      piece.first = first;
    }
    if (count > 0) p.pieces.push_back(piece);
    return p;
  }

  const StoredMatrix& s = *v.storage;
  const int64_t unit = stage_unit(v);
  if (first % unit != 0 || (count % unit != 0 && first + count != numel))
    throw std::logic_error(v.name + ": MXFP4 chunks must start and end at whole bytes");
  RowGeometry g;
  row_geometry(v, g);
  const int64_t W = g.width;
  const int64_t j0 = first / W;
  d.kind = s.scheme == QuantScheme::Fp8Block ? kFp8
           : s.scheme == QuantScheme::Mxfp4  ? kMxfp4
                                             : kPlain;
  d.code = static_cast<int>(s.code_dtype);
  d.first_col = first - j0 * W;
  d.width = W;
  d.row0 = g.row0 + j0 * g.row_step;
  d.row_step = g.row_step;
  d.col0 = g.col0 + j0 * g.col_step;
  d.col_step = g.col_step;
  if (count == 0) return p;
  const int64_t j1 = (first + count - 1) / W;

  // The codes: one run per view row, in chunk order; adjacent runs (a contiguous view) merge.
  const bool nibbles = s.scheme == QuantScheme::Mxfp4;
  const std::size_t esize = nibbles ? 1 : dtype_size(s.code_dtype);
  std::size_t code_bytes = 0;
  for (int64_t j = j0; j <= j1; ++j) {
    const int64_t w0 = j == j0 ? d.first_col : 0;
    const int64_t w1 = std::min(W, first + count - j * W);
    const int64_t linear = (g.row0 + j * g.row_step) * s.cols + g.col0 + j * g.col_step + w0;
    const unsigned char* src =
        s.codes + static_cast<std::size_t>(nibbles ? linear / 2 : linear) * esize;
    const std::size_t bytes =
        static_cast<std::size_t>(nibbles ? (w1 - w0 + 1) / 2 : w1 - w0) * esize;
    if (!p.pieces.empty() && p.pieces.back().src + p.pieces.back().bytes == src) {
      p.pieces.back().bytes += bytes;
    } else {
      Piece piece;
      piece.offset = offset + code_bytes;
      piece.src = src;
      piece.bytes = bytes;
      p.pieces.push_back(piece);
    }
    code_bytes += bytes;
  }
  p.bytes = code_bytes;
  if (s.scheme == QuantScheme::None) return p;

  // The scale rows of the first to the last stored row touched: one contiguous range of the grid.
  d.scale_code = static_cast<int>(s.scale_dtype);
  d.rows_per_matrix = s.rows_per_matrix;
  d.block_rows = s.block_rows;
  d.block_cols = s.block_cols;
  d.scale_rows_per_matrix = s.scale_rows_per_matrix;
  d.scale_cols = s.scale_cols;
  const int64_t g0 = scale_row(s, d.row0), g1 = scale_row(s, g.row0 + j1 * g.row_step);
  d.scale_row0 = g0;
  const std::size_t ssize = dtype_size(s.scale_dtype);
  const std::size_t scales_at = offset + round16(code_bytes);
  Piece piece;
  piece.offset = scales_at;
  piece.src = s.scales + static_cast<std::size_t>(g0 * s.scale_cols) * ssize;
  piece.bytes = static_cast<std::size_t>((g1 - g0 + 1) * s.scale_cols) * ssize;
  p.pieces.push_back(piece);
  d.scales = static_cast<int64_t>(scales_at);
  p.bytes = scales_at - offset + piece.bytes;
  return p;
}

std::size_t max_array_bytes(const TensorView& v, int64_t len) {
  const int64_t numel = v.numel();
  if (numel == 0 || len <= 0) return 0;
  if (stage_mode(v) != Mode::RowRuns)
    return static_cast<std::size_t>(std::min(len, numel)) *
           (v.plain() ? dtype_size(v.dtype) : sizeof(float));
  std::size_t most = 0;
  for (int64_t f = 0; f < numel; f += len)
    most = std::max(most, plan_array(v, 0, f, std::min(len, numel - f)).bytes);
  return most;
}

ChunkLayout chunk_layout(const std::vector<TensorView>& views, std::size_t chunk_bytes,
                         int64_t unit) {
  ChunkLayout c;
  if (views.empty()) return c;
  const int64_t numel = views[0].numel();
  double per_element = 0.0;
  for (const TensorView& v : views) {
    per_element += staged_bytes_per_element(v);
    unit = std::lcm(unit, stage_unit(v));
  }
  int64_t len = static_cast<int64_t>(static_cast<double>(chunk_bytes) / per_element) / unit * unit;
  c.len = std::min(std::max(len, unit), std::max<int64_t>(numel, 1));
  auto round256 = [](std::size_t v) { return (v + 255) / 256 * 256; };
  c.header = round256(views.size() * sizeof(ArrayDesc));
  for (const TensorView& v : views) c.stride = std::max(c.stride, max_array_bytes(v, c.len));
  c.stride = round256(std::max<std::size_t>(c.stride, 1));
  return c;
}

void plan_chunk(const std::vector<TensorView>& views, const ChunkLayout& layout, int64_t f0,
                int64_t count, std::vector<ArrayDesc>& descs, std::vector<Piece>& pieces) {
  descs.resize(views.size());
  pieces.clear();
  Piece table;
  table.src = reinterpret_cast<const unsigned char*>(descs.data());
  table.bytes = descs.size() * sizeof(ArrayDesc);
  pieces.push_back(table);
  for (std::size_t r = 0; r < views.size(); ++r) {
    ArrayPlan a = plan_array(views[r], layout.header + r * layout.stride, f0, count);
    if (a.bytes > layout.stride)
      throw std::logic_error(views[r].name + ": staged chunk exceeds its planned stride");
    descs[r] = a.desc;
    pieces.insert(pieces.end(), a.pieces.begin(), a.pieces.end());
  }
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

}  // namespace moeprobe::staged
