#include "kernels/backend.h"

#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.h"
#include "kernels/cpu/all_experts_cpu.h"
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
