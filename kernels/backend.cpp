#include "kernels/backend.h"

#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "util/error.h"

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

std::unique_ptr<Backend> make_backend(const std::string& device, std::string* notice) {
  if (notice) notice->clear();
  if (device == "reference") return std::make_unique<ReferenceBackend>();
  if (device == "cpu") return std::make_unique<CpuBackend>();
  if (device != "cuda" && device != "auto")
    throw InputError("", "--device",
                     "expected one of auto, cpu, cuda, reference; got '" + device + "'");
  std::string why_not;
#ifdef MOEPROBE_WITH_CUDA
  if (auto cuda = make_cuda_backend(&why_not)) return cuda;
#else
  why_not = "this build has no CUDA support";
#endif
  if (device == "cuda")
    throw InputError(
        "", "--device",
        "cuda requested but no CUDA device is usable (" + why_not + "); use --device cpu or auto");
  if (notice) *notice = "moeprobe: no CUDA device (" + why_not + "); using the CPU backend";
  return std::make_unique<CpuBackend>();
}

}  // namespace moeprobe
