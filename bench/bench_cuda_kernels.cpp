// CUDA matrix_set_stats on layer-sized bf16 expert sets, timed with CUDA events (manual time, after
// a warm-up), against the ceilings measured in the same process before the benchmarks run:
// - a plain host->device copy of the same bytes: the analysis streams every byte over PCIe once,
//   so the copy is the floor; `x_copy` says how far above it a full pass runs;
// - a device-to-device copy (read + write bandwidth of device memory): `x_read`;
// - cuBLAS SGEMM of order 4096 (FP32, default math, as the backend's cublasGemmEx): `x_gemm`.
// Every x_ ratio is time / time at the ceiling (1 = at the ceiling, lower is better). Without a
// device every benchmark skips with the reason.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#ifdef MOEPROBE_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_backend.h"
#endif

namespace moeprobe {
namespace {

#ifdef MOEPROBE_WITH_CUDA

// A set of n bf16 matrices [rows, cols] in host memory (the stand-in for mmap views), filled by
// a cheap generator: values in about [-0.03, 0.03], like trained weights.
struct HostSet {
  std::vector<std::vector<uint16_t>> data;
  std::vector<TensorView> views;
  std::size_t bytes = 0;
};

HostSet make_bf16_set(int n, int64_t rows, int64_t cols) {
  HostSet set;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int r = 0; r < n; ++r) {
    std::vector<uint16_t> m(static_cast<std::size_t>(rows * cols));
    for (uint16_t& x : m) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      // bf16: sign, exponent 2^-6 .. 2^-9, random mantissa.
      const uint16_t sign = static_cast<uint16_t>((state >> 63) << 15);
      const uint16_t exponent = static_cast<uint16_t>((121 - ((state >> 40) & 3)) << 7);
      x = static_cast<uint16_t>(sign | exponent | ((state >> 20) & 0x7F));
    }
    set.data.push_back(std::move(m));
    TensorView v;
    v.name = "expert" + std::to_string(r);
    v.file = "memory";
    v.dtype = DType::BF16;
    v.shape = {rows, cols};
    v.data = reinterpret_cast<const unsigned char*>(set.data.back().data());
    set.views.push_back(v);
    set.bytes += set.data.back().size() * sizeof(uint16_t);
  }
  return set;
}

#define BENCH_CUDA_CHECK(call)                                                             \
  do {                                                                                     \
    cudaError_t err_ = (call);                                                             \
    if (err_ != cudaSuccess) {                                                             \
      state.SkipWithError((std::string(#call) + ": " + cudaGetErrorString(err_)).c_str()); \
      return;                                                                              \
    }                                                                                      \
  } while (0)

// Milliseconds between two events around a host-synchronous piece of work.
template <typename F>
float time_ms(cudaEvent_t start, cudaEvent_t stop, F&& work) {
  cudaEventRecord(start);
  work();
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  return ms;
}

// One warm-up run of `work`, then one timed run per benchmark iteration (manual time); returns
// the mean milliseconds of an iteration.
template <typename F>
double timed_iterations(benchmark::State& state, cudaEvent_t start, cudaEvent_t stop, F&& work) {
  time_ms(start, stop, work);
  double total_ms = 0;
  for (auto _ : state) {
    const float ms = time_ms(start, stop, work);
    state.SetIterationTime(ms / 1e3);
    total_ms += ms;
  }
  return total_ms / static_cast<double>(state.iterations());
}

// Device ceilings, measured once by main() before any benchmark runs.
struct GpuCeilings {
  bool ok = false;
  std::string why_not;  // when !ok: the reason every benchmark skips
  std::string device;
  double read_bytes_per_s = 0;   // device-memory traffic of a D2D copy: 2 x bytes / time
  double sgemm_flops_per_s = 0;  // cuBLAS SGEMM, order kGemmOrder
};
GpuCeilings g_ceilings;

constexpr std::size_t kCopyBytes = std::size_t{1} << 30;
constexpr int kGemmOrder = 4096;

// Best of five event-timed runs after one warm-up run.
template <typename F>
float best_ms(cudaEvent_t start, cudaEvent_t stop, F&& work) {
  time_ms(start, stop, work);
  float best = 1e30f;
  for (int i = 0; i < 5; ++i) best = std::min(best, time_ms(start, stop, work));
  return best;
}

std::string measure_gpu_ceilings(GpuCeilings& c) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0)
    return std::string("no CUDA device: ") +
           (err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount returned 0");
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  c.device = prop.name;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, kCopyBytes) != cudaSuccess || cudaMalloc(&b, kCopyBytes) != cudaSuccess)
    return "cannot allocate 2 GiB on the device for the copy ceiling";
  cudaMemset(a, 1, kCopyBytes);
  const float copy =
      best_ms(start, stop, [&] { cudaMemcpy(b, a, kCopyBytes, cudaMemcpyDeviceToDevice); });
  c.read_bytes_per_s = 2.0 * static_cast<double>(kCopyBytes) / (copy * 1e-3);
  cudaFree(b);
  cudaFree(a);

  const std::size_t elems = static_cast<std::size_t>(kGemmOrder) * kGemmOrder;
  float *ma = nullptr, *mb = nullptr, *mc = nullptr;
  cudaMalloc(&ma, elems * 4);
  cudaMalloc(&mb, elems * 4);
  cudaMalloc(&mc, elems * 4);
  cudaMemset(ma, 0, elems * 4);
  cudaMemset(mb, 0, elems * 4);
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return "cublasCreate failed";
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  const float one = 1.0f, zero = 0.0f;
  const float gemm = best_ms(start, stop, [&] {
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, kGemmOrder, kGemmOrder, kGemmOrder, &one, ma,
                kGemmOrder, mb, kGemmOrder, &zero, mc, kGemmOrder);
  });
  c.sgemm_flops_per_s =
      2.0 * kGemmOrder * kGemmOrder * static_cast<double>(kGemmOrder) / (gemm * 1e-3);
  cublasDestroy(h);
  cudaFree(ma);
  cudaFree(mb);
  cudaFree(mc);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const cudaError_t last = cudaGetLastError();
  if (last != cudaSuccess)
    return std::string("ceiling measurement failed: ") + cudaGetErrorString(last);
  c.ok = true;
  return "";
}

// Ratios and rates from the mean time of one iteration (manual time: computed here, not left to
// the library's rate counters).
void report_gpu_work(benchmark::State& state, double mean_ms, double bytes, double flops) {
  const double s = mean_ms * 1e-3;
  if (bytes > 0) {
    state.SetBytesProcessed(static_cast<int64_t>(bytes * static_cast<double>(state.iterations())));
    state.counters["x_read"] = s / (bytes / g_ceilings.read_bytes_per_s);
  }
  if (flops > 0) {
    state.counters["FLOP/s"] = flops / s;
    state.counters["x_gemm"] = s / (flops / g_ceilings.sgemm_flops_per_s);
  }
}

#define BENCH_REQUIRE_DEVICE()                         \
  do {                                                 \
    if (!g_ceilings.ok) {                              \
      state.SkipWithError(g_ceilings.why_not.c_str()); \
      return;                                          \
    }                                                  \
  } while (0)

// A plain copy of the set's bytes (pageable host memory, as the mmap is) to one device buffer.
void copy_set(const HostSet& set, void* device) {
  std::size_t offset = 0;
  for (const auto& m : set.data) {
    const std::size_t bytes = m.size() * sizeof(uint16_t);
    cudaMemcpy(static_cast<char*>(device) + offset, m.data(), bytes, cudaMemcpyHostToDevice);
    offset += bytes;
  }
}

float copy_ms(const HostSet& set, void* device, cudaEvent_t start, cudaEvent_t stop) {
  return time_ms(start, stop, [&] { copy_set(set, device); });
}

// Args: n matrices, rows, cols, axis (0 rows, 1 cols).
void BM_CudaMatrixSetStats(benchmark::State& state) {
  BENCH_REQUIRE_DEVICE();
  std::string why;
  auto backend = make_cuda_backend(&why);
  if (!backend) {
    state.SkipWithError(why.c_str());  // "no CUDA device: ..."
    return;
  }
  const int n = static_cast<int>(state.range(0));
  const HostSet set = make_bf16_set(n, state.range(1), state.range(2));
  const NeuronAxis axis = state.range(3) == 0 ? NeuronAxis::Rows : NeuronAxis::Cols;
  MatrixSetRequest req;
  req.gram = req.standardized_gram = req.mean_neuron = true;

  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  void* device = nullptr;
  BENCH_CUDA_CHECK(cudaMalloc(&device, set.bytes));
  // The copy floor: best of three, after a warm-up that faults the host pages in.
  copy_ms(set, device, start, stop);
  float floor_ms = 1e30f;
  for (int i = 0; i < 3; ++i) floor_ms = std::min(floor_ms, copy_ms(set, device, start, stop));
  BENCH_CUDA_CHECK(cudaFree(device));
  backend->matrix_set_stats(set.views, axis, req);  // warm-up: pinned buffers, cuBLAS, caches

  double total_ms = 0.0;
  for (auto _ : state) {
    const float ms = time_ms(start, stop, [&] {
      benchmark::DoNotOptimize(backend->matrix_set_stats(set.views, axis, req));
    });
    state.SetIterationTime(ms / 1e3);
    total_ms += ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double mean_ms = total_ms / static_cast<double>(state.iterations());
  // GEMM-equivalent FLOPs: two n x n Grams (plain and standardized) over rows x cols elements.
  const double nn = static_cast<double>(n),
               d = static_cast<double>(state.range(1) * state.range(2));
  report_gpu_work(state, mean_ms, static_cast<double>(set.bytes), 4 * nn * nn * d);
  state.counters["copy_ms"] = floor_ms;
  state.counters["x_copy"] = mean_ms / floor_ms;
  state.counters["copy_GBps"] = static_cast<double>(set.bytes) / (floor_ms * 1e6);
  state.SetLabel(backend->device());
}

// The floor alone, as its own benchmark so it shows up in comparisons over time.
void BM_CudaHostToDeviceCopy(benchmark::State& state) {
  BENCH_REQUIRE_DEVICE();
  const HostSet set =
      make_bf16_set(static_cast<int>(state.range(0)), state.range(1), state.range(2));
  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  void* device = nullptr;
  BENCH_CUDA_CHECK(cudaMalloc(&device, set.bytes));
  const double mean_ms = timed_iterations(state, start, stop, [&] { copy_set(set, device); });
  cudaFree(device);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  // x_read: how far PCIe is below device-memory bandwidth for the same bytes.
  report_gpu_work(state, mean_ms, static_cast<double>(set.bytes), 0);
}

// The ceilings as benchmarks of their own, so a baseline records them (ratios ~1 by construction).
void BM_CudaDeviceCopy(benchmark::State& state) {
  BENCH_REQUIRE_DEVICE();
  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  void *a = nullptr, *b = nullptr;
  BENCH_CUDA_CHECK(cudaMalloc(&a, kCopyBytes));
  BENCH_CUDA_CHECK(cudaMalloc(&b, kCopyBytes));
  auto copy = [&] { cudaMemcpy(b, a, kCopyBytes, cudaMemcpyDeviceToDevice); };
  const double mean_ms = timed_iterations(state, start, stop, copy);
  cudaFree(a);
  cudaFree(b);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  report_gpu_work(state, mean_ms, 2.0 * static_cast<double>(kCopyBytes), 0);
}

void BM_CublasSgemm(benchmark::State& state) {
  BENCH_REQUIRE_DEVICE();
  const int n = static_cast<int>(state.range(0));
  const std::size_t bytes = static_cast<std::size_t>(n) * n * sizeof(float);
  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  float *a = nullptr, *b = nullptr, *c = nullptr;
  BENCH_CUDA_CHECK(cudaMalloc(&a, bytes));
  BENCH_CUDA_CHECK(cudaMalloc(&b, bytes));
  BENCH_CUDA_CHECK(cudaMalloc(&c, bytes));
  cudaMemset(a, 0, bytes);
  cudaMemset(b, 0, bytes);
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    state.SkipWithError("cublasCreate failed");
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  auto gemm = [&] {
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n);
  };
  const double mean_ms = timed_iterations(state, start, stop, gemm);
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  report_gpu_work(state, mean_ms, 0, 2.0 * n * n * static_cast<double>(n));
}

#else

constexpr const char* kNoCuda = "no CUDA device: built without the CUDA backend";
void BM_CudaMatrixSetStats(benchmark::State& state) {
  state.SkipWithError(kNoCuda);
}
void BM_CudaHostToDeviceCopy(benchmark::State& state) {
  state.SkipWithError(kNoCuda);
}
void BM_CudaDeviceCopy(benchmark::State& state) {
  state.SkipWithError(kNoCuda);
}
void BM_CublasSgemm(benchmark::State& state) {
  state.SkipWithError(kNoCuda);
}

#endif

// Layer-sized sets: DeepSeekMoE-16B (64 experts, W_up [1408, 2048]; W_down [2048, 1408]) and
// Mixtral 8x7B (8 experts + the Mistral FFN, W_up [14336, 4096]).
void layer_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "rows", "cols", "axis"});
  b->Args({64, 1408, 2048, 0});
  b->Args({64, 2048, 1408, 1});
  b->Args({9, 14336, 4096, 0});
}

BENCHMARK(BM_CudaMatrixSetStats)->Apply(layer_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaHostToDeviceCopy)
    ->Apply(layer_args)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaDeviceCopy)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CublasSgemm)->Arg(4096)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moeprobe

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifdef MOEPROBE_WITH_CUDA
  auto& c = moeprobe::g_ceilings;
  c.why_not = moeprobe::measure_gpu_ceilings(c);
  if (c.ok) {
    std::fprintf(
        stderr, "ceilings on %s: device copy %.0f GB/s (read + write), cuBLAS SGEMM %.1f TFLOP/s\n",
        c.device.c_str(), c.read_bytes_per_s * 1e-9, c.sgemm_flops_per_s * 1e-12);
    benchmark::AddCustomContext("gpu", c.device);
    benchmark::AddCustomContext("ceiling_d2d_GBps", std::to_string(c.read_bytes_per_s * 1e-9));
    benchmark::AddCustomContext("ceiling_sgemm_TFLOPps",
                                std::to_string(c.sgemm_flops_per_s * 1e-12));
  } else {
    std::fprintf(stderr, "bench_cuda_kernels: %s: every benchmark skips\n", c.why_not.c_str());
  }
#else
  std::fprintf(stderr,
               "bench_cuda_kernels: built without the CUDA backend: every benchmark skips\n");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
