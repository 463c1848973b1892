#include "kernels/backend.h"

#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.h"
#include "kernels/backend_registry.h"
#include "kernels/cpu/all_experts_cpu.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "util/error.h"
#include "util/registry.h"

#ifdef MOEPROBE_WITH_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace moeprobe {

std::vector<double> Backend::neuron_norms(const TensorView& m, NeuronAxis axis) {
  check_matrix(m);
  const int64_t rows = m.rows(), cols = m.cols();
  std::vector<double> sq(static_cast<std::size_t>(axis == NeuronAxis::Rows ? rows : cols), 0.0);
  std::vector<double> row(static_cast<std::size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    m.read_double(r * cols, cols, row.data());
    for (int64_t c = 0; c < cols; ++c)
      sq[static_cast<std::size_t>(axis == NeuronAxis::Rows ? r : c)] += row[c] * row[c];
  }
  for (double& v : sq) v = std::sqrt(v);
  return sq;
}

const std::vector<BackendEntry>& backend_registry() {
  static const std::vector<BackendEntry> table = {
      {"cpu", "the fast CPU path: float32 blocks summed in float64, AVX2, all cores",
       [](std::string*) -> std::unique_ptr<Backend> { return std::make_unique<CpuBackend>(); }},
      {"cuda", "NVIDIA GPU: staged double-buffered copies, device reductions, cuBLAS",
       [](std::string* why_not) -> std::unique_ptr<Backend> {
#ifdef MOEPROBE_WITH_CUDA
         return make_cuda_backend(why_not);
#else
         *why_not = "this build has no CUDA support";
         return nullptr;
#endif
       }},
      {"reference", "float64 loops, slow and obviously right (the oracle of the tests)",
       [](std::string*) -> std::unique_ptr<Backend> {
         return std::make_unique<ReferenceBackend>();
       }},
  };
  return table;
}

Matrix Backend::linear_rows(const TensorView& x, const TensorView& w) {
  check_linear_rows(x, w);
  const int64_t T = x.rows(), N = w.rows(), H = x.cols();
  std::vector<double> wd(static_cast<std::size_t>(N * H)), row(static_cast<std::size_t>(H));
  w.read_double(0, N * H, wd.data());
  Matrix out(T, N);
  for (int64_t t = 0; t < T; ++t) {
    x.read_double(t * H, H, row.data());
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < H; ++k) s += wd[static_cast<std::size_t>(n * H + k)] * row[k];
      out(t, n) = s;
    }
  }
  return out;
}

AllExpertsStats Backend::all_experts(const AllExpertsRequest& request) {
  return cpu_all_experts(request, 0);
}

std::unique_ptr<Backend> make_backend(const std::string& device, std::string* notice) {
  if (notice) notice->clear();
  std::string why_not;
  if (device == "auto") {
    // The fastest usable backend: CUDA when a device is present, else the CPU.
    if (auto cuda = find_entry(backend_registry(), "cuda")->make(&why_not)) return cuda;
    // One clause: the reason often starts with "no CUDA device" itself.
    for (const char* said : {"no CUDA device: ", "no CUDA device "})
      if (why_not.rfind(said, 0) == 0) why_not.erase(0, std::string(said).size());
    if (notice) *notice = "moeprobe: no CUDA device (" + why_not + "), using the CPU backend";
    return find_entry(backend_registry(), "cpu")->make(nullptr);
  }
  const BackendEntry* entry = find_entry(backend_registry(), device);
  if (!entry)
    throw InputError(
        "", "--device",
        "expected one of auto, " + entry_names(backend_registry()) + "; got '" + device + "'");
  if (auto backend = entry->make(&why_not)) return backend;
  throw InputError(
      "", "--device",
      device + " requested but it cannot run here (" + why_not + "); use --device cpu or auto");
}

}  // namespace moeprobe
