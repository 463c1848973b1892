// make_cuda_backend (kernels/cuda/cuda_backend.h) in builds with CUDA: loads the CUDA backend
// module on first use (see kernels/cuda/cuda_module_abi.h for why it is a module) and asks it for
// a backend. Compiled into the core, which has no CUDA dependency of its own.
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_module_abi.h"
#include "util/error.h"
#include "util/module_path.h"

namespace moeprobe {
namespace {

struct LoadedCudaModule {
  const CudaModuleApi* api = nullptr;
  std::string failure;  // why it could not be loaded, when api is null
};

// Loaded once per process, never unloaded (device state and cuBLAS handles outlive any call).
const LoadedCudaModule& loaded_cuda_module() {
  static LoadedCudaModule module;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path;
    try {
      path = module_path(MOEPROBE_CUDA_MODULE_FILE).string();
    } catch (const InputError& e) {
      module.failure = e.what();
      return;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      // Typically the CUDA runtime or cuBLAS is not installed on this machine.
      module.failure = "cannot load the CUDA backend module: " + std::string(dlerror());
      return;
    }
    using Entry = const CudaModuleApi* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, MOEPROBE_CUDA_MODULE_API_SYMBOL));
    const CudaModuleApi* api = entry ? entry() : nullptr;
    if (!api || api->abi_version != kCudaModuleAbiVersion ||
        api->sizeof_options != sizeof(CudaBackendOptions)) {
      module.failure = path + ": not the CUDA backend module of this moeprobe build";
      return;
    }
    module.api = api;
  });
  return module;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(std::string* why_not) {
  return make_cuda_backend(CudaBackendOptions{}, why_not);
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options,
                                           std::string* why_not) {
  const LoadedCudaModule& module = loaded_cuda_module();
  if (!module.api) {
    if (why_not) *why_not = module.failure;
    return nullptr;
  }
  return module.api->make(options, why_not);
}

}  // namespace moeprobe
