// Mapped TensorViews (quantised FP8/MXFP4 weights, strided or transposed fused sub-views) in the
// CUDA staging pipeline. Their elements are not a byte range of the mmap, so the host thread that
// fills a pinned staging buffer dequantises them block by block (TensorView::read_float) into
// float32 there, and the device sees a plain F32 array; plain views are staged as raw bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/tensor_view.h"
#include "kernels/cuda/staging.h"

namespace moeprobe::cuda {

// Bytes per element and dtype code of a view as staged (F32 for a mapped view).
std::size_t staged_element_size(const TensorView& v);
int staged_dtype_code(const TensorView& v);
// Elements [first, first + count) of v at `offset` in the staging buffer.
Piece staged_piece(const TensorView& v, std::size_t offset, int64_t first, int64_t count);
// Row i of a matrix as a [1, cols] matrix view (plain or mapped).
TensorView row_as_matrix(const TensorView& m, int64_t i);

}  // namespace moeprobe::cuda
