// dtype -> float32/float64 conversion of staged raw bytes, on the device (the host never converts
// a whole tensor).
#include "kernels/cuda/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/convert.h"

namespace moeprobe::cuda {
namespace {

__global__ void convert_set_kernel(const unsigned char* src, std::size_t src_stride,
                                   const int* dtype_codes, int uniform_code, int64_t len,
                                   float* dst, int64_t dst_ld) {
  const int r = blockIdx.y;
  const int code = dtype_codes ? dtype_codes[r] : uniform_code;
  const unsigned char* base = src + static_cast<std::size_t>(r) * src_stride;
  float* out = dst + static_cast<int64_t>(r) * dst_ld;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < len; i += step)
    out[i] = load_float(base, code, i);
}

__global__ void convert_double_kernel(const unsigned char* src, int code, int64_t len,
                                      double* dst) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < len; i += step)
    dst[i] = load_double(src, code, i);
}

__global__ void float_to_double_kernel(const float* src, int64_t count, double* dst) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step)
    dst[i] = static_cast<double>(src[i]);
}

}  // namespace

bool device_converts(int code) {
  return code == kF32 || code == kF16 || code == kBF16 || code == kF64 || code == kF8E4M3 ||
         code == kF8E5M2;
}

void launch_convert_to_float(const unsigned char* src, std::size_t src_stride,
                             const int* dtype_codes, int uniform_code, int n, int64_t len,
                             float* dst, int64_t dst_ld, cudaStream_t stream) {
  if (n <= 0 || len <= 0) return;
  constexpr int kThreads = 256;
  // gridDim.y carries the array index (at most 65535 arrays per set).
  const dim3 grid(grid_for(len, kThreads, 4096), static_cast<unsigned>(n));
  convert_set_kernel<<<grid, kThreads, 0, stream>>>(src, src_stride, dtype_codes, uniform_code, len,
                                                    dst, dst_ld);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

void launch_convert_to_double(const unsigned char* src, int dtype_code, int64_t len, double* dst,
                              cudaStream_t stream) {
  if (len <= 0) return;
  constexpr int kThreads = 256;
  convert_double_kernel<<<grid_for(len, kThreads, 8192), kThreads, 0, stream>>>(src, dtype_code,
                                                                                len, dst);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

void launch_float_to_double(const float* src, int64_t count, double* dst, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  float_to_double_kernel<<<grid_for(count, kThreads, 8192), kThreads, 0, stream>>>(src, count, dst);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

}  // namespace moeprobe::cuda
