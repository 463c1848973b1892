// dtype conversion on the device (convert.cu) and the host entry that streams a whole tensor to
// the device converted (convert.cpp). Launchers only enqueue work on `stream` and check the
// launch; none synchronises.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "io/tensor_view.h"

namespace moeprobe::cuda {

class CudaContext;

// Converts `n` arrays of `len` elements each into dst (row r of dst = array r, leading dimension
// dst_ld). Array r starts at src + r * src_stride bytes and has element type dtype_codes[r]
// (a device array of static_cast<int>(DType)); or, when dtype_codes is null, uniform_code.
void launch_convert_to_float(const unsigned char* src, std::size_t src_stride,
                             const int* dtype_codes, int uniform_code, int n, int64_t len,
                             float* dst, int64_t dst_ld, cudaStream_t stream);
void launch_convert_to_double(const unsigned char* src, int dtype_code, int64_t len, double* dst,
                              cudaStream_t stream);
// dst[i] = double(src[i]).
void launch_float_to_double(const float* src, int64_t count, double* dst, cudaStream_t stream);
// True for the dtypes the kernels convert: F32, F16, BF16, F64, F8_E4M3, F8_E5M2.
bool device_converts(int dtype_code);

// Streams the whole tensor through the staging pipeline into dst (numel elements of T, T = float
// or double), converting on the device. Enqueued on the context's compute stream.
template <typename T>
void upload_converted(CudaContext& ctx, const TensorView& v, T* dst);

}  // namespace moeprobe::cuda
