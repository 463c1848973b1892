// Decoding of staged chunks on the device (convert.cu) and the host entry that streams a whole
// tensor to the device decoded (convert.cpp). Launchers only enqueue work on `stream` and check
// the launch; none synchronises.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "io/tensor_view.h"

namespace moeprobe::cuda {

class CudaContext;

// Decodes the n arrays of a staged chunk (kernels/staged_decode.h: descriptors at byte 0, planned
// by kernels/staged_views.h) into dst: array r's elements become row r of dst (leading dimension
// dst_ld), at most max_count of them. Plain arrays are widened (bf16, f16, f8, f64 to float),
// quantised ones multiplied out code by scale. T = float or double (F64 arrays and quantised
// products stay exact in double, as TensorView::read_double gives them).
template <typename T>
void launch_decode_chunk(const unsigned char* chunk, int n, int64_t max_count, T* dst,
                         int64_t dst_ld, cudaStream_t stream);
// dst[i] = double(src[i]).
void launch_float_to_double(const float* src, int64_t count, double* dst, cudaStream_t stream);

// Streams the whole tensor through the staging pipeline into dst (numel elements of T, T = float
// or double), decoding on the device. Enqueued on the context's compute stream.
template <typename T>
void upload_converted(CudaContext& ctx, const TensorView& v, T* dst);

}  // namespace moeprobe::cuda
