// The CUDA backend of kernels/backend.h. This header is included from host code compiled by the
// C++ compiler, so it names no CUDA type; the implementation lives in kernels/cuda/*.cu|*.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace moeprobe {

// Tuning knobs; the defaults are what make_backend("cuda") uses. Tests shrink chunk_bytes to drive
// the double-buffered pipeline through many chunks on small matrices.
struct CudaBackendOptions {
  int device = 0;
  // Raw input bytes staged per chunk, summed over the N matrices of a set (two such chunks are in
  // flight: one being copied while the other is computed). A chunk always holds whole rows.
  std::size_t chunk_bytes = std::size_t{128} << 20;
  // Precision of the neuron_cosine matrix product. Auto picks float64 on GPUs with full-rate
  // float64 (A100, H100: same peak as float32, and no float32 rounding of near-zero cosines) and
  // float32 compute elsewhere.
  enum class CosineGemm { Auto, Float32, Float64 };
  CosineGemm cosine_gemm = CosineGemm::Auto;
};

// The backend serialises its calls (one primitive at a time per backend object).
// Returns nullptr and explains why in *why_not (when given) if no CUDA device is usable: the build
// cudaGetDeviceCount failed or reported 0 devices, or the device cannot be initialised. Only
// defined when the build has CUDA (MOEPROBE_WITH_CUDA).
std::unique_ptr<Backend> make_cuda_backend(std::string* why_not);
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options, std::string* why_not);

}  // namespace moeprobe
