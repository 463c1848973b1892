// Error checks for CUDA runtime and cuBLAS calls: a failure throws std::runtime_error naming the
// call, the file and the line, so a report's ERROR says which step broke on which GPU.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace moeprobe::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  throw std::runtime_error(std::string("CUDA error: ") + call + " failed at " + file + ":" +
                           std::to_string(line) + ": " + cudaGetErrorName(err) + ": " +
                           cudaGetErrorString(err));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call,
                                            const char* file, int line) {
  throw std::runtime_error(std::string("cuBLAS error: ") + call + " failed at " + file + ":" +
                           std::to_string(line) + ": " + cublasGetStatusName(status) + ": " +
                           cublasGetStatusString(status));
}

}  // namespace moeprobe::cuda

#define MOEPROBE_CUDA_CHECK(call)                                                   \
  do {                                                                              \
    cudaError_t moeprobe_err_ = (call);                                             \
    if (moeprobe_err_ != cudaSuccess)                                               \
      ::moeprobe::cuda::throw_cuda_error(moeprobe_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define MOEPROBE_CUBLAS_CHECK(call)                                                      \
  do {                                                                                   \
    cublasStatus_t moeprobe_status_ = (call);                                            \
    if (moeprobe_status_ != CUBLAS_STATUS_SUCCESS)                                       \
      ::moeprobe::cuda::throw_cublas_error(moeprobe_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch errors (bad configuration, too many resources) surface here.
#define MOEPROBE_CUDA_CHECK_LAUNCH() MOEPROBE_CUDA_CHECK(cudaGetLastError())
