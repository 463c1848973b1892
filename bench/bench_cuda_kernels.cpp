// CUDA matrix_set_stats on layer-sized bf16 expert sets, timed with CUDA events, against a plain
// host->device copy of the same bytes: the analysis streams every byte over PCIe once, so the copy
// is the floor, and the counter `x_copy` says how far above it a full pass (Gram, standardized
// Gram, mean neurons) runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#ifdef MOEPROBE_WITH_CUDA
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

// A plain copy of the set's bytes (pageable host memory, as the mmap is) to one device buffer.
float copy_ms(const HostSet& set, void* device, cudaEvent_t start, cudaEvent_t stop) {
  return time_ms(start, stop, [&] {
    std::size_t offset = 0;
    for (const auto& m : set.data) {
      const std::size_t bytes = m.size() * sizeof(uint16_t);
      cudaMemcpy(static_cast<char*>(device) + offset, m.data(), bytes, cudaMemcpyHostToDevice);
      offset += bytes;
    }
  });
}

// Args: n matrices, rows, cols, axis (0 rows, 1 cols).
void BM_CudaMatrixSetStats(benchmark::State& state) {
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
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(set.bytes));
  state.counters["copy_ms"] = floor_ms;
  state.counters["x_copy"] = mean_ms / floor_ms;
  state.counters["copy_GBps"] = static_cast<double>(set.bytes) / (floor_ms * 1e6);
  state.SetLabel(backend->device());
}

// The floor alone, as its own benchmark so it shows up in comparisons over time.
void BM_CudaHostToDeviceCopy(benchmark::State& state) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const HostSet set =
      make_bf16_set(static_cast<int>(state.range(0)), state.range(1), state.range(2));
  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  void* device = nullptr;
  BENCH_CUDA_CHECK(cudaMalloc(&device, set.bytes));
  copy_ms(set, device, start, stop);
  for (auto _ : state) state.SetIterationTime(copy_ms(set, device, start, stop) / 1e3);
  cudaFree(device);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(set.bytes));
}

#else

void BM_CudaMatrixSetStats(benchmark::State& state) {
  state.SkipWithError("no CUDA device: built without the CUDA backend");
}
void BM_CudaHostToDeviceCopy(benchmark::State& state) {
  state.SkipWithError("no CUDA device: built without the CUDA backend");
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

}  // namespace
}  // namespace moeprobe

BENCHMARK_MAIN();
