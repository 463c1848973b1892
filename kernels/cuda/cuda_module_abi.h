// The interface of the CUDA backend module (lib/moeprobe/libmoeprobe_cuda.so), the only code that
// links the CUDA runtime and cuBLAS. As a module it is loaded when a command asks for a CUDA
// backend (--device cuda|auto), so a machine without the CUDA libraries still runs every other
// command (auto falls back to the CPU naming the reason), and commands that never touch a GPU
// do not pay cuBLAS's start-up (~0.1 s, ~200 MB of resident pages). The module links the
// shared core, so C++ types cross this boundary unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/cuda/cuda_backend.h"

namespace moeprobe {

// Bumped whenever this struct or a type passed through it changes layout.
constexpr std::uint32_t kCudaModuleAbiVersion = 1;

struct CudaModuleApi {
  std::uint32_t abi_version;
  std::size_t sizeof_options;  // checked on load: refuses a module from another build
  std::unique_ptr<Backend> (*make)(const CudaBackendOptions& options, std::string* why_not);
};

}  // namespace moeprobe

extern "C" const moeprobe::CudaModuleApi* moeprobe_cuda_module_api();
#define MOEPROBE_CUDA_MODULE_API_SYMBOL "moeprobe_cuda_module_api"
#define MOEPROBE_CUDA_MODULE_FILE "libmoeprobe_cuda.so"
