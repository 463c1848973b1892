// A CUDA backend for tests, in any configuration, or nullptr with the reason a test skips with:
// the build has no CUDA backend, or no device is usable here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kernels/backend.h"
#ifdef MOEPROBE_WITH_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace moeprobe::test {

enum class Gemm { Auto, Float32, Float64 };

// chunk_bytes 0 keeps the default staging chunk.
inline std::unique_ptr<Backend> make_test_cuda_backend(std::size_t chunk_bytes, Gemm gemm,
                                                       std::string* why_not) {
#ifdef MOEPROBE_WITH_CUDA
  CudaBackendOptions options;
  if (chunk_bytes) options.chunk_bytes = chunk_bytes;
  options.cosine_gemm = gemm == Gemm::Float32   ? CudaBackendOptions::CosineGemm::Float32
                        : gemm == Gemm::Float64 ? CudaBackendOptions::CosineGemm::Float64
                                                : CudaBackendOptions::CosineGemm::Auto;
  std::string why;
  auto backend = make_cuda_backend(options, &why);
  if (!backend) *why_not = "CUDA backend unavailable: " + why;
  return backend;
#else
  (void)chunk_bytes;
  (void)gemm;
  *why_not =
      "built without the CUDA backend (MOEPROBE_WITH_CUDA is undefined; configure with "
      "-DMOEPROBE_CUDA=ON on a machine with nvcc)";
  return nullptr;
#endif
}

}  // namespace moeprobe::test
