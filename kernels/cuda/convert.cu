// Staged chunk -> float32/float64 on the device: plain arrays widened element by element,
// quantised arrays (FP8 codes times block or per-channel scales, MXFP4 nibbles times E8M0
// exponents) decoded a view row at a time, with the decoders the CPU reader uses
// (io/float_codes.h through kernels/staged_decode.h). The host never converts these.
#include "kernels/cuda/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/convert.h"
#include "kernels/staged_decode.h"

namespace moeprobe::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T load_as(const unsigned char* base, int code, int64_t i);
template <>
__device__ __forceinline__ float load_as<float>(const unsigned char* base, int code, int64_t i) {
  return staged::load_element_float(base, code, i);
}
template <>
__device__ __forceinline__ double load_as<double>(const unsigned char* base, int code, int64_t i) {
  return staged::load_element_double(base, code, i);
}

// blockIdx.y is the array; plain arrays are a grid-stride loop over elements, quantised ones over
// view rows (blocks) and their columns (threads), so the row's stored position and scale row are
// found once per row.
template <typename T>
__global__ void decode_chunk_kernel(const unsigned char* chunk, T* dst, int64_t dst_ld) {
  const staged::ArrayDesc d = reinterpret_cast<const staged::ArrayDesc*>(chunk)[blockIdx.y];
  T* out = dst + static_cast<int64_t>(blockIdx.y) * dst_ld;
  if (d.kind == staged::kPlain) {
    const unsigned char* base = chunk + d.codes;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < d.count;
         i += step)
      out[i] = load_as<T>(base, d.code, i);
    return;
  }
  const int64_t rows = staged::chunk_rows(d);
  for (int64_t j = blockIdx.x; j < rows; j += gridDim.x) {
    const staged::ChunkRow r = staged::chunk_row(d, j);
    for (int64_t w = r.w0 + threadIdx.x; w < r.w1; w += blockDim.x)
      out[r.out + w] = staged::chunk_element<T>(chunk, d, r, w);
  }
}

__global__ void float_to_double_kernel(const float* src, int64_t count, double* dst) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step)
    dst[i] = static_cast<double>(src[i]);
}

}  // namespace

template <typename T>
void launch_decode_chunk(const unsigned char* chunk, int n, int64_t max_count, T* dst,
                         int64_t dst_ld, cudaStream_t stream) {
  if (n <= 0 || max_count <= 0) return;
  constexpr int kThreads = 256;
  // gridDim.y carries the array index (at most 65535 arrays per set).
  const dim3 grid(grid_for(max_count, kThreads, 4096), static_cast<unsigned>(n));
  decode_chunk_kernel<T><<<grid, kThreads, 0, stream>>>(chunk, dst, dst_ld);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

template void launch_decode_chunk<float>(const unsigned char*, int, int64_t, float*, int64_t,
                                         cudaStream_t);
template void launch_decode_chunk<double>(const unsigned char*, int, int64_t, double*, int64_t,
                                          cudaStream_t);

void launch_float_to_double(const float* src, int64_t count, double* dst, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  float_to_double_kernel<<<grid_for(count, kThreads, 8192), kThreads, 0, stream>>>(src, count, dst);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

}  // namespace moeprobe::cuda
