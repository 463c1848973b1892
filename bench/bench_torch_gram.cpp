// LibTorch (ATen, CPU) beside the moeprobe CPU backend in one executable, on the same in-memory
// BF16 matrix sets: the Gram of N flattened matrices (convert to float, stack [N, D],
// X X^T; whole or in row chunks), and the full request the static metrics make (Gram,
// standardised Gram, mean neurons), written the way one would in PyTorch.
//
// Only ATen is included (not torch/torch.h) to keep the compile affordable.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "bench/bench_sets.h"
#include "bench/ceilings.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeprobe {
namespace {

using bench::bf16_set;
using bench::Set;

// The set as a [N, rows, cols] BF16 tensor over our buffer (no copy).
at::Tensor as_tensor(const Set& s) {
  return at::from_blob(const_cast<uint16_t*>(s.bytes.data()), {s.n, s.rows, s.cols},
                       at::TensorOptions().dtype(at::kBFloat16));
}

// bytes/s, FLOP/s and the ratios to the ceilings (bench/ceilings.h). grams: how many N x N Grams
// the benchmark computes (2 N^2 D FLOPs each, GEMM-equivalent), mean: whether it sums columns.
void finish(benchmark::State& state, const Set& s, int grams, bool mean) {
  const double n = static_cast<double>(s.n), d = static_cast<double>(s.rows * s.cols);
  bench::report_work(state, static_cast<double>(s.size()),
                     grams * 2 * n * n * d + (mean ? n * d : 0));
  state.counters["threads"] = at::get_num_threads();
}

void set_threads() {
  at::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}

// args: experts, rows, cols, chunk rows (0: convert the whole set at once).
void BM_TorchGram(benchmark::State& state) {
  set_threads();
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const at::Tensor all = as_tensor(s);
  const int64_t chunk = state.range(3) > 0 ? state.range(3) : s.rows;
  for (auto _ : state) {
    at::Tensor g = at::zeros({s.n, s.n}, at::kDouble);
    for (int64_t r = 0; r < s.rows; r += chunk) {
      const at::Tensor x =
          all.narrow(1, r, std::min(chunk, s.rows - r)).reshape({s.n, -1}).to(at::kFloat);
      g += at::mm(x, x.t()).to(at::kDouble);  // float32 GEMM per chunk, chunks added in float64
    }
    benchmark::DoNotOptimize(g.data_ptr<double>());
  }
  finish(state, s, 1, false);
}

// The conversion alone (BF16 -> float32, chunk by chunk), to see where BM_TorchGram's time goes.
void BM_TorchConvert(benchmark::State& state) {
  set_threads();
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const at::Tensor all = as_tensor(s);
  const int64_t chunk = state.range(3) > 0 ? state.range(3) : s.rows;
  for (auto _ : state)
    for (int64_t r = 0; r < s.rows; r += chunk) {
      const at::Tensor x = all.narrow(1, r, std::min(chunk, s.rows - r)).to(at::kFloat);
      benchmark::DoNotOptimize(x.data_ptr<float>());
    }
  finish(state, s, 0, false);
}

// Gram + standardised Gram (z-scores across the N matrices per position, sample std, constant
// positions zeroed) + mean neurons (mean over rows), chunk by chunk.
void BM_TorchFull(benchmark::State& state) {
  set_threads();
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const at::Tensor all = as_tensor(s);
  const int64_t chunk = state.range(3) > 0 ? state.range(3) : s.rows;
  for (auto _ : state) {
    at::Tensor g = at::zeros({s.n, s.n}, at::kDouble), gs = at::zeros({s.n, s.n}, at::kDouble);
    at::Tensor colsum = at::zeros({s.n, s.cols}, at::kDouble);
    for (int64_t r = 0; r < s.rows; r += chunk) {
      const at::Tensor x3 = all.narrow(1, r, std::min(chunk, s.rows - r)).to(at::kFloat);
      colsum += x3.sum(1).to(at::kDouble);
      const at::Tensor x = x3.reshape({s.n, -1});
      g += at::mm(x, x.t()).to(at::kDouble);
      const at::Tensor sd = x.std(0, /*unbiased=*/true, /*keepdim=*/true);
      const at::Tensor z = at::where(sd > 0, (x - x.mean(0, true)) / sd, at::zeros_like(x));
      gs += at::mm(z, z.t()).to(at::kDouble);
    }
    colsum /= static_cast<double>(s.rows);
    benchmark::DoNotOptimize(g.data_ptr<double>());
    benchmark::DoNotOptimize(gs.data_ptr<double>());
    benchmark::DoNotOptimize(colsum.data_ptr<double>());
  }
  finish(state, s, 2, true);
}

// moeprobe's CPU backend on the same bytes: Gram only (what BM_TorchGram computes) and the full
// request (what BM_TorchFull computes).
void BM_MoeprobeGram(benchmark::State& state) {
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const bool full = state.range(3) != 0;
  CpuBackend backend;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        backend.matrix_set_stats(s.views, NeuronAxis::Rows, {true, full, full}));
  finish(state, s, full ? 2 : 1, full);
}

BENCHMARK(BM_TorchGram)
    ->Args({8, 14336, 4096, 256})
    ->Args({8, 14336, 4096, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TorchConvert)
    ->Args({8, 14336, 4096, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MoeprobeGram)->Args({8, 14336, 4096, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TorchFull)->Args({8, 14336, 4096, 256})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MoeprobeGram)->Args({8, 14336, 4096, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace moeprobe

MOEPROBE_BENCH_MAIN()
