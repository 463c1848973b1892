#include "kernels/cuda/context.h"

namespace moeprobe::cuda {

CudaContext::CudaContext(const CudaBackendOptions& options) : options_(options) {
  if (options_.chunk_bytes < 256) options_.chunk_bytes = 256;
  MOEPROBE_CUDA_CHECK(cudaSetDevice(options_.device));
  cudaDeviceProp prop{};
  MOEPROBE_CUDA_CHECK(cudaGetDeviceProperties(&prop, options_.device));
  num_sms_ = prop.multiProcessorCount;
  int ratio = 0;
  MOEPROBE_CUDA_CHECK(
      cudaDeviceGetAttribute(&ratio, cudaDevAttrSingleToDoublePrecisionPerfRatio, options_.device));
  full_rate_fp64_ = ratio > 0 && ratio <= 2;
  std::string name = prop.name;
  if (name.rfind("NVIDIA", 0) != 0) name = "NVIDIA " + name;
  const double gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  description_ = name + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
                 std::to_string(static_cast<long long>(gib + 0.5)) + " GiB)";

  MOEPROBE_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  MOEPROBE_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_stream_, cudaStreamNonBlocking));
  staging_ = std::make_unique<StagingPipeline>(copy_stream_, compute_stream_);
  MOEPROBE_CUBLAS_CHECK(cublasCreate(&cublas_));
  MOEPROBE_CUBLAS_CHECK(cublasSetStream(cublas_, compute_stream_));
  // Default math: no TF32 down-conversion of float32 products (that needs an explicit opt-in).
  MOEPROBE_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
}

CudaContext::~CudaContext() {
  cudaSetDevice(options_.device);
  if (copy_stream_) cudaStreamSynchronize(copy_stream_);
  if (compute_stream_) cudaStreamSynchronize(compute_stream_);
  if (cublas_) cublasDestroy(cublas_);
  scratch_.clear();
  staging_.reset();
  if (copy_stream_) cudaStreamDestroy(copy_stream_);
  if (compute_stream_) cudaStreamDestroy(compute_stream_);
}

void CudaContext::begin_call() {
  MOEPROBE_CUDA_CHECK(cudaSetDevice(options_.device));
  MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));
  staging_->reset();
}

}  // namespace moeprobe::cuda
