// Everything the CUDA primitives share on one device: its properties, the copy and compute
// streams, the cuBLAS handle, the staging pipeline and named scratch buffers. A primitive's host
// entry point (beside its .cu file) takes the context, enqueues its work on compute_stream and
// leaves the context reusable; the CudaBackend serialises the calls.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/staging.h"

namespace moeprobe::cuda {

class CudaContext {
 public:
  explicit CudaContext(const CudaBackendOptions& options);
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;
  ~CudaContext();

  const CudaBackendOptions& options() const { return options_; }
  const std::string& description() const { return description_; }  // "NVIDIA H100 (sm_90, 80 GiB)"
  int num_sms() const { return num_sms_; }
  bool full_rate_fp64() const {
    return full_rate_fp64_;
  }  // float64 peak = float32 peak (A100, H100)

  cudaStream_t compute_stream() const { return compute_stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  StagingPipeline& staging() { return *staging_; }

  // A device buffer owned by the context, kept across calls. Keys are "<primitive>.<what>" so
  // primitives in different files never share one by accident.
  DeviceBuffer& scratch(const std::string& key) { return scratch_[key]; }

  // Start of a primitive call: a previous call may have thrown with work in flight; settle it
  // before buffers are resized.
  void begin_call();

  // Enqueues a device-to-host copy on the compute stream (synchronise before reading `host`).
  template <typename T>
  void download(T* host, const T* dev, std::size_t count) {
    if (count == 0) return;
    MOEPROBE_CUDA_CHECK(
        cudaMemcpyAsync(host, dev, count * sizeof(T), cudaMemcpyDeviceToHost, compute_stream_));
  }
  void synchronize() { MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_)); }

 private:
  CudaBackendOptions options_;
  std::string description_;
  int num_sms_ = 1;
  bool full_rate_fp64_ = false;
  cudaStream_t copy_stream_ = nullptr;
  cudaStream_t compute_stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<StagingPipeline> staging_;
  std::map<std::string, DeviceBuffer> scratch_;
};

// Rounds v up to a multiple of `to` (staging offsets stay 256-byte aligned).
inline std::size_t round_up(std::size_t v, std::size_t to) {
  return (v + to - 1) / to * to;
}

}  // namespace moeprobe::cuda
