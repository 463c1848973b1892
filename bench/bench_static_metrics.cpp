// Static-analysis primitives: matrix_set_stats (CPU vs float64 reference) on a layer-sized BF16
// matrix set, beside a raw read of the same bytes (the memory-bandwidth ceiling), and the A2
// neuron matching (neuron cosines + linear assignment) for DeepSeekMoE-sized experts.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "io/dtype.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "metrics/linear_assignment.h"

namespace moeprobe {
namespace {

// N matrices [rows, cols] of uniform random BF16 values in one buffer, cached per shape.
struct Set {
  std::vector<uint16_t> bytes;
  std::vector<TensorView> views;
};

const Set& bf16_set(int n, int64_t rows, int64_t cols) {
  static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<Set>> cache;
  auto& slot = cache[{n, rows, cols}];
  if (!slot) {
    slot = std::make_unique<Set>();
    const std::size_t per = static_cast<std::size_t>(rows * cols);
    slot->bytes.resize(per * n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> tmp(per);
    for (int a = 0; a < n; ++a) {
      for (auto& x : tmp) x = u(rng);
      convert_from_float(DType::BF16, tmp.data(), slot->bytes.data() + a * per, per);
      TensorView v;
      v.name = "expert" + std::to_string(a);
      v.dtype = DType::BF16;
      v.shape = {rows, cols};
      v.data = reinterpret_cast<const unsigned char*>(slot->bytes.data() + a * per);
      slot->views.push_back(v);
    }
  }
  return *slot;
}

void set_bytes(benchmark::State& state, const Set& s) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.bytes.size() * sizeof(uint16_t)));
}

// The ceiling: sum the buffer as 64-bit words, one thread.
void BM_RawRead(benchmark::State& state) {
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const std::size_t words = s.bytes.size() / 4;
  for (auto _ : state) {
    uint64_t sum = 0;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(s.bytes.data());
    for (std::size_t i = 0; i < words; ++i) {
      uint64_t w;
      std::memcpy(&w, p + 8 * i, 8);
      sum += w;
    }
    benchmark::DoNotOptimize(sum);
  }
  set_bytes(state, s);
}

template <class B>
void BM_MatrixSetStats(benchmark::State& state) {
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  MatrixSetRequest req{true, state.range(3) != 0, state.range(3) != 0};
  B backend;
  for (auto _ : state)
    benchmark::DoNotOptimize(backend.matrix_set_stats(s.views, NeuronAxis::Rows, req));
  set_bytes(state, s);
  state.counters["experts"] = static_cast<double>(state.range(0));
}

// args: experts, I, H, full request (gram + standardised gram + mean neurons) or gram only.
BENCHMARK(BM_RawRead)
    ->Args({64, 1408, 2048})
    ->Args({8, 1408, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_MatrixSetStats, CpuBackend)
    ->Args({64, 1408, 2048, 1})
    ->Args({64, 1408, 2048, 0})
    ->Args({8, 1408, 2048, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_MatrixSetStats, ReferenceBackend)
    ->Args({8, 1408, 2048, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// A2 for one expert pair: the I x I neuron cosines (I^2 H multiply-adds) ...
void BM_NeuronCosine(benchmark::State& state) {
  const Set& s = bf16_set(2, state.range(0), state.range(1));
  CpuBackend backend;
  for (auto _ : state)
    benchmark::DoNotOptimize(backend.neuron_cosine(s.views[0], s.views[1], NeuronAxis::Rows));
  state.counters["GMAC/s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * state.range(0) * state.range(1) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_NeuronCosine)
    ->Args({352, 2048})
    ->Args({704, 2048})
    ->Args({1408, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ... and the O(I^3) assignment on them (random neurons: the hard, unstructured case).
void BM_Assignment(benchmark::State& state) {
  const Set& s = bf16_set(2, state.range(0), 2048);
  const Matrix c = CpuBackend().neuron_cosine(s.views[0], s.views[1], NeuronAxis::Rows);
  for (auto _ : state) benchmark::DoNotOptimize(maximize_assignment(c));
}
BENCHMARK(BM_Assignment)
    ->Arg(352)
    ->Arg(704)
    ->Arg(1408)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace moeprobe

BENCHMARK_MAIN();
