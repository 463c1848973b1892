// CudaBackend: the Backend interface over one CudaContext. Each primitive's host code lives beside
// its kernels (matrix_set_stats.cpp, gram.cpp, neuron_cosine.cpp); this file only serialises the
// calls and settles the device between them. A new primitive adds its own <name>.h/.cu/.cpp and
// one override here.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_module_abi.h"

#include <mutex>
#include <string>
#include <utility>

#include "kernels/cuda/all_experts.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/gram.h"
#include "kernels/cuda/matrix_set_stats.h"
#include "kernels/cuda/neuron_cosine.h"

namespace moeprobe {
namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options) : ctx_(options) {}

  std::string name() const override { return "cuda"; }
  std::string device() const override { return ctx_.description(); }

  MatrixSetStats matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                  const MatrixSetRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_.begin_call();
    return cuda::matrix_set_stats(ctx_, mats, axis, request);
  }

  Matrix gram_rows(const TensorView& m) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_.begin_call();
    return cuda::gram_rows(ctx_, m);
  }

  Matrix neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_.begin_call();
    return cuda::neuron_cosine(ctx_, a, b, axis);
  }

  AllExpertsStats all_experts(const AllExpertsRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_.begin_call();
    return cuda::all_experts(ctx_, request);
  }

 private:
  cuda::CudaContext ctx_;
  std::mutex mutex_;
};

}  // namespace

// The module's implementation has a name of its own: the core's loader (kernels/cuda_module.cpp)
// defines make_cuda_backend, and that would interpose on a same-named function here.
std::unique_ptr<Backend> create_cuda_backend(const CudaBackendOptions& options,
                                             std::string* why_not) {
  auto fail = [why_not](std::string why) -> std::unique_ptr<Backend> {
    if (why_not) *why_not = std::move(why);
    return nullptr;
  };
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // reset the last-error state so later runtime calls start clean
    return fail(std::string("no CUDA device: cudaGetDeviceCount returned ") +
                cudaGetErrorString(err));
  }
  if (count == 0) return fail("no CUDA device: cudaGetDeviceCount returned 0 devices");
  if (options.device < 0 || options.device >= count)
    return fail("no CUDA device " + std::to_string(options.device) + ": " + std::to_string(count) +
                " device(s) present");
  try {
    return std::make_unique<CudaBackend>(options);
  } catch (const std::exception& e) {
    return fail(std::string("CUDA device unusable: ") + e.what());
  }
}

}  // namespace moeprobe

extern "C" const moeprobe::CudaModuleApi* moeprobe_cuda_module_api() {
  static const moeprobe::CudaModuleApi api{moeprobe::kCudaModuleAbiVersion,
                                           sizeof(moeprobe::CudaBackendOptions),
                                           &moeprobe::create_cuda_backend};
  return &api;
}
