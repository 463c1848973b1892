// The all-experts pass of one real checkpoint layer, as `moeprobe run` does it for the dynamic
// metrics (synthetic Gaussian probe -> routing -> all-experts evaluation through
// compute_layer_statistics on the CPU backend), with the peak anonymous resident memory sampled
// every 20 ms. The checkpoint is file-backed (RssFile, the page cache) and does not count.
//
//   MOEPROBE_BENCH_MODEL=DIR [MOEPROBE_BENCH_TOKENS=2400] build/bin/bench_all_experts
//
// Counters: tokens/s, FLOP/s, x_gemm against the float32 GEMM ceiling, peak_rss_anon_MB.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "bench/ceilings.h"
#include "bench/rss_anon.h"
#include "kernels/cpu/cpu_backend.h"
#include "metrics/layer_statistics.h"
#include "model/moe_model.h"
#include "probe/activations.h"

namespace moeprobe {
namespace {

using bench::rss_anon_bytes;

// Samples RssAnon every 20 ms while alive; peak() is the largest value seen.
class RssSampler {
 public:
  RssSampler()
      : thread_([this] {
          while (!stop_) {
            peak_ = std::max<int64_t>(peak_, rss_anon_bytes());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  int64_t peak() const { return std::max<int64_t>(peak_, rss_anon_bytes()); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{0};
  std::thread thread_;
};

void BM_AllExpertsLayer(benchmark::State& state) {
  const char* dir = std::getenv("MOEPROBE_BENCH_MODEL");
  if (!dir) {
    state.SkipWithError("set MOEPROBE_BENCH_MODEL to a checkpoint directory");
    return;
  }
  const char* tok = std::getenv("MOEPROBE_BENCH_TOKENS");
  const int64_t tokens = tok ? std::atoll(tok) : 2400;
  RssSampler rss;
  const int64_t rss_before = rss_anon_bytes();
  auto model = MoeModel::open(dir);
  const int L = model->config().moe_layers.front();
  auto probe = ProbeActivations::synthetic(*model, tokens, 1);
  const RouterRule rule =
      make_router_rule(model->config().routing, model->config().num_experts,
                       model->checkpoint().config(), model->checkpoint().config_path().string());
  CpuBackend cpu;
  LayerPlan plan;
  plan.add({Intermediate::ExpertOutputs});
  plan.add({Intermediate::ActiveNeurons, MatrixKind::Act, 0, 1e-3});
  double flops = 0;
  for (auto _ : state) {
    const MoeLayer layer = model->layer(L);
    const LayerActivations acts = probe->layer(L);
    LayerInputs in;
    in.layer = &layer;
    in.activations = &acts;
    in.probe = &probe->info();
    in.router_rule = &rule;
    const LayerStatistics ls = compute_layer_statistics(in, plan, cpu);
    const AllExpertsStats& s = expert_outputs(ls);
    double per_token = 0;
    for (int64_t w : s.entity_neurons) per_token += 6.0 * static_cast<double>(w) * layer.hidden();
    flops = tokens * (per_token + double(s.entities) * s.entities * layer.hidden());
    benchmark::DoNotOptimize(s.norms.data());
  }
  bench::report_work(state, 0, flops);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * tokens);
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["peak_rss_anon_MB"] = static_cast<double>(rss.peak()) / (1 << 20);
  state.counters["rss_anon_before_MB"] = static_cast<double>(rss_before) / (1 << 20);
  state.counters["threads"] = cpu.threads();
}

BENCHMARK(BM_AllExpertsLayer)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace moeprobe

MOEPROBE_BENCH_MAIN();
