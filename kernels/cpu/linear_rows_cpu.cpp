// Router logits on the CPU: x [T, H] times w [N, H]^T through cblas_dgemm on float64 row blocks
// (routing decisions are made on these values, so they are not rounded to float32).
#include <cblas.h>

#include <algorithm>

#include "kernels/backend_checks.h"
#include "kernels/cpu/all_experts_cpu.h"
#include "kernels/cpu/cpu_backend.h"
#include "util/error.h"

namespace moeprobe {

Matrix CpuBackend::linear_rows(const TensorView& x, const TensorView& w) {
  check_linear_rows(x, w);
  const int64_t T = x.rows(), N = w.rows(), H = x.cols();
  std::vector<double> wd(static_cast<std::size_t>(N * H));
  w.read_double(0, N * H, wd.data());
  Matrix out(T, N);
  constexpr int64_t kBlock = 512;
  std::vector<double> xd(static_cast<std::size_t>(std::min(T, kBlock) * H));
  for (int64_t t0 = 0; t0 < T; t0 += kBlock) {
    const int64_t nb = std::min(kBlock, T - t0);
    x.read_double(t0 * H, nb * H, xd.data());
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nb), static_cast<int>(N),
                static_cast<int>(H), 1.0, xd.data(), static_cast<int>(H), wd.data(),
                static_cast<int>(H), 0.0, out.data.data() + t0 * N, static_cast<int>(N));
  }
  return out;
}

AllExpertsStats CpuBackend::all_experts(const AllExpertsRequest& request) {
  return cpu_all_experts(request, threads_);
}

}  // namespace moeprobe
