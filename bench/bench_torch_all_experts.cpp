// The all-experts evaluation (every expert on every token, per-token output norms, the E x E
// cosine and angular matrices, active-neuron counts) side by side in one process: moeprobe's CPU
// primitive (kernels/cpu/all_experts_cpu.h) and the same computation in LibTorch ops as a PyTorch
// user would write it (per-expert matmuls on weights converted to float32, SiLU, a stacked
// [T, E, H] output, norms, a batched cosine matrix), with the machine's float32 GEMM rate
// (bench/ceilings.h) as the ceiling. Counters: tokens/s (items_per_second), FLOP/s, x_gemm.
//
// Only ATen is included. The executable links none of the tokenizer code (Debian's
// libsentencepiece and LibTorch's protobuf crash one process): only the kernels are pulled out
// of the core archive, and the link uses --as-needed.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <thread>

#include "bench/all_experts_problem.h"
#include "bench/ceilings.h"
#include "kernels/cpu/all_experts_cpu.h"
#include "util/parallel_for.h"

namespace moeprobe {
namespace {

using bench::all_experts_problem;
using bench::AllExpertsProblem;

int threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void finish(benchmark::State& state, const AllExpertsProblem& p) {
  bench::report_work(state, 0, p.flops());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * p.T);
}

// args: experts, tokens, hidden, intermediate
void BM_AllExpertsMoeprobe(benchmark::State& state) {
  const AllExpertsProblem& p = all_experts_problem(static_cast<int>(state.range(0)), state.range(1),
                                                   state.range(2), state.range(3));
  for (auto _ : state) {
    AllExpertsStats s = cpu_all_experts(p.req, threads());
    benchmark::DoNotOptimize(s.norms.data());
  }
  finish(state, p);
}

void BM_AllExpertsTorch(benchmark::State& state) {
  at::set_num_threads(threads());
  const AllExpertsProblem& p = all_experts_problem(static_cast<int>(state.range(0)), state.range(1),
                                                   state.range(2), state.range(3));
  const int64_t T = p.T, H = p.H, I = p.I, E = p.E;
  auto bf16 = [](const TensorView& v) {
    return at::from_blob(const_cast<unsigned char*>(v.data), {v.dim(0), v.dim(1)},
                         at::TensorOptions().dtype(at::kBFloat16));
  };
  const at::Tensor x = at::from_blob(const_cast<float*>(p.x.data()), {T, H}, at::kFloat);
  for (auto _ : state) {
    std::vector<at::Tensor> outs;
    at::Tensor active = at::zeros({T, E}, at::kLong);
    for (int64_t e = 0; e < E; ++e) {
      const ExpertWeights& w = p.req.entities[static_cast<std::size_t>(e)].parts[0];
      const at::Tensor a = at::silu(at::mm(x, bf16(w.act).to(at::kFloat).t()));
      const at::Tensor u = at::mm(x, bf16(w.up).to(at::kFloat).t());
      active.select(1, e).copy_((a.abs() > 1e-3).sum(1));
      outs.push_back(at::mm(a * u, bf16(w.down).to(at::kFloat).t()));
    }
    const at::Tensor y = at::stack(outs, 1);   // [T, E, H]
    const at::Tensor norms = y.norm(2, {-1});  // [T, E]
    const at::Tensor yn = y / norms.unsqueeze(-1).clamp_min(1e-8);
    const at::Tensor cos = at::bmm(yn, yn.transpose(1, 2));  // [T, E, E]
    const at::Tensor ang = 1 - at::acos(cos.clamp(-1, 1)) / 3.14159265358979323846;
    const at::Tensor off = 1 - at::eye(E, at::kFloat);
    const at::Tensor mean_cos = (cos * off).sum({1, 2}) / (E * (E - 1.0));
    const at::Tensor mean_ang = (ang * off).sum({1, 2}) / (E * (E - 1.0));
    const at::Tensor sums = at::stack({cos.sum(0), ang.sum(0)}).to(at::kDouble);
    benchmark::DoNotOptimize(mean_cos.data_ptr<float>());
    benchmark::DoNotOptimize(mean_ang.data_ptr<float>());
    benchmark::DoNotOptimize(sums.data_ptr<double>());
    benchmark::DoNotOptimize(active.data_ptr<int64_t>());
  }
  finish(state, p);
  (void)I;
}

// Mixtral-like (8 wide experts) and DeepSeek-like (64 narrow experts), scaled to run in a second.
#define ALL_EXPERTS_SHAPES(b)         \
  BENCHMARK(b)                        \
      ->Args({8, 256, 1024, 2048})    \
      ->Args({64, 256, 1024, 256})    \
      ->Unit(benchmark::kMillisecond) \
      ->UseRealTime()
ALL_EXPERTS_SHAPES(BM_AllExpertsMoeprobe);
ALL_EXPERTS_SHAPES(BM_AllExpertsTorch);

}  // namespace
}  // namespace moeprobe

MOEPROBE_BENCH_MAIN();
