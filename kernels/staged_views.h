// How a TensorView travels to the GPU: the staging plan of the CUDA backend, in plain host code so
// it is tested without a device (tests/kernels/test_staged_views.cpp).
//
// A chunk of a view (its flattened elements [first, first + count)) is staged in one of three ways
// (Mode):
//   Raw       a plain view: its bytes, one copy.
//   RowRuns   a mapped view (kernels/staged_decode.h) whose every row is a run of one stored row:
//             FP8 block-scaled and per-channel views, MXFP4 views, their index0/slice0 sub-views,
//             gpt-oss's interleaved gate/up halves (every0: every other stored row) and strided
//             views of plain tensors. The runs' raw codes are copied, followed by the rows of the
//             scale grid the chunk touches, and the device decodes them: 1 byte per element for
//             FP8 (plus 4 / (128 * 128) for the scales), 0.5 + 1/32 for MXFP4.
//   HostF32   everything else, decoded on the host into float32 by TensorView::read_float: the
//             transposed views (Llama-4's [E, H, 2I] fused experts), whose rows are columns of the
//             stored tensor, so a row's codes are one element per stored row and its scales one per
//             block row; and MXFP4 views whose runs start at odd nibbles (no real layout has them).
//             Gathering such elements touches every one on the host anyway; their cost is 4 bytes
//             per element over PCIe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/tensor_view.h"
#include "kernels/staged_decode.h"

namespace moeprobe::staged {

// One piece of a chunk: `bytes` from `src` (the mmap) to `offset` in the staging buffer; or, when
// `view` is set, its elements from `first` on decoded to float32 there (bytes / 4 of them).
struct Piece {
  std::size_t offset = 0;
  const unsigned char* src = nullptr;
  std::size_t bytes = 0;
  const TensorView* view = nullptr;
  int64_t first = 0;
};

// Copies the pieces into dst, with a few threads when there is enough to share: a single thread
// reading a cold mmap falls well short of the PCIe bandwidth the device copy could use.
void gather(unsigned char* dst, const std::vector<Piece>& pieces);

enum class Mode { Raw, RowRuns, HostF32 };
Mode stage_mode(const TensorView& v);
// Chunks of v must start at multiples of this, and end at one or at the end of v (2 for MXFP4
// staged raw: a chunk starts at a whole byte; else 1).
int64_t stage_unit(const TensorView& v);
// Bytes over PCIe per element, for sizing chunks (the scale rows of a chunk add a little).
double staged_bytes_per_element(const TensorView& v);

struct ArrayPlan {
  ArrayDesc desc;
  std::vector<Piece> pieces;  // within [offset, offset + bytes)
  std::size_t bytes = 0;
};
// Elements [first, first + count) of v staged at `offset` of a chunk (offset a multiple of 16).
// Throws std::logic_error when first or count break stage_unit.
ArrayPlan plan_array(const TensorView& v, std::size_t offset, int64_t first, int64_t count);
// The largest plan_array(v, ., f, min(len, numel - f)).bytes over the chunks f = 0, len, 2 len...
std::size_t max_array_bytes(const TensorView& v, int64_t len);

// A chunk of a set of same-sized views: the n descriptors at byte 0, array r at
// header + r * stride (both multiples of 256).
struct ChunkLayout {
  int64_t len = 0;  // elements of each view per chunk (the last chunk may hold fewer)
  std::size_t header = 0, stride = 0;
  std::size_t bytes(int n) const { return header + stride * static_cast<std::size_t>(n); }
};
// About chunk_bytes over PCIe per chunk, summed over the views; len a multiple of `unit` (1, or a
// row for reductions that need whole rows) and of every stage_unit, or all numel elements.
ChunkLayout chunk_layout(const std::vector<TensorView>& views, std::size_t chunk_bytes,
                         int64_t unit);
// Elements [f0, f0 + count) of every view: descs[r] and the pieces (descs' own bytes first, so
// descs must stay put until the chunk is gathered).
void plan_chunk(const std::vector<TensorView>& views, const ChunkLayout& layout, int64_t f0,
                int64_t count, std::vector<ArrayDesc>& descs, std::vector<Piece>& pieces);

// Row i of a matrix as a [1, cols] matrix view (plain or mapped): gram_rows streams a router's
// rows as a set.
TensorView row_as_matrix(const TensorView& m, int64_t i);

}  // namespace moeprobe::staged
