// Issue 4's performance check: the static part of suites/closer_look.yaml (A2 excluded) on the CPU
// backend versus reading the same tensor bytes into memory, side by side in one run, on a
// Mixtral-8x7B-shaped checkpoint (2 layers, bf16, ~5.6 GB of experts, sharded).
//
// The checkpoint comes from $MOEPROBE_BENCH_MODEL, or is generated once from
// fixtures/recipes/mixtral_8x7b_shape.yaml into a temporary directory (deleted at exit).
// Counters: bytes read, throughput, and the peak anonymous resident memory (RssAnon) sampled
// while the suite runs; the ratio suite/read is printed at the end. Each also reports x_read
// against the in-memory read ceiling (bench/ceilings.h).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/ceilings.h"
#include "bench/rss_anon.h"
#include "metrics/metric.h"
#include "model/moe_model.h"
#include "suite/runner.h"
#include "suite/schema.h"
#include "synth/generator.h"
#include "synth/recipe.h"

namespace fs = std::filesystem;
using namespace moeprobe;

namespace {

fs::path g_model;
double g_read_seconds = 0, g_suite_seconds = 0;

struct ByteRange {
  fs::path file;
  uint64_t offset, size;
};

// The bytes the static metrics read: router and expert tensors of every MoE layer.
std::vector<ByteRange> moe_layer_ranges(const MoeModel& model) {
  std::vector<ByteRange> out;
  const auto& ckpt = model.checkpoint();
  auto add_entry = [&](const std::string& name) {
    const TensorEntry* e = ckpt.entry(name);
    if (!e) return;
    for (const auto& shard : ckpt.shards())
      if (shard->find(name) == e)
        out.push_back({shard->path(), 8 + shard->header_size() + e->begin, e->end - e->begin});
  };
  // A quantised view reads its codes and its scales.
  auto add = [&](const TensorView& v) {
    if (v.quantized()) {
      add_entry(v.storage->name);
      add_entry(v.storage->scale_name);
      return;
    }
    add_entry(v.name.substr(0, v.name.find('[')));
  };
  for (int l : model.config().moe_layers) {
    const MoeLayer layer = model.layer(l);
    add(layer.router);
    for (const auto& ex : layer.experts) {
      add(ex.act);
      add(ex.up);
      add(ex.down);
    }
  }
  return out;
}

void BM_ReadTensorBytes(benchmark::State& state) {
  auto model = MoeModel::open(g_model);
  const auto ranges = moe_layer_ranges(*model);
  std::vector<char> buffer(64 << 20);
  uint64_t total = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    total = 0;
    for (const auto& r : ranges) {
      const int fd = ::open(r.file.c_str(), O_RDONLY);
      for (uint64_t done = 0; done < r.size;) {
        const uint64_t n = std::min<uint64_t>(buffer.size(), r.size - done);
        const ssize_t got = ::pread(fd, buffer.data(), n, static_cast<off_t>(r.offset + done));
        if (got <= 0) break;
        done += static_cast<uint64_t>(got);
        benchmark::DoNotOptimize(buffer.data());
      }
      ::close(fd);
      total += r.size;
    }
    g_read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  state.counters["bytes"] = static_cast<double>(total);
  bench::report_work(state, static_cast<double>(total), 0);
}

// What a loader does: read each MoE layer's bytes into freshly allocated memory (one layer at a
// time, so memory stays bounded like the suite's), paying for the page faults of the new buffer.
void BM_ReadIntoLayerBuffer(benchmark::State& state) {
  auto model = MoeModel::open(g_model);
  const auto ranges = moe_layer_ranges(*model);
  const std::size_t per_layer = ranges.size() / model->config().moe_layers.size();
  uint64_t total = 0;
  for (auto _ : state) {
    total = 0;
    for (std::size_t first = 0; first < ranges.size(); first += per_layer) {
      uint64_t layer_bytes = 0;
      for (std::size_t i = first; i < first + per_layer; ++i) layer_bytes += ranges[i].size;
      std::unique_ptr<char[]> buffer(new char[layer_bytes]);
      uint64_t at = 0;
      for (std::size_t i = first; i < first + per_layer; ++i) {
        const auto& r = ranges[i];
        const int fd = ::open(r.file.c_str(), O_RDONLY);
        for (uint64_t done = 0; done < r.size;) {
          const ssize_t got = ::pread(fd, buffer.get() + at + done, r.size - done,
                                      static_cast<off_t>(r.offset + done));
          if (got <= 0) break;
          done += static_cast<uint64_t>(got);
        }
        ::close(fd);
        at += r.size;
      }
      benchmark::DoNotOptimize(buffer.get());
      total += layer_bytes;
    }
  }
  bench::report_work(state, static_cast<double>(total), 0);
}

void BM_StaticSuiteCpu(benchmark::State& state) {
  Suite suite = load_suite(fs::path(MOEPROBE_SOURCE_DIR) / "suites/closer_look.yaml",
                           [](const std::string& n) { return find_metric(n); });
  std::vector<Hypothesis> kept;
  for (auto& h : suite.hypotheses)
    if (find_metric(h.metric)->analysis() != "A2") kept.push_back(h);
  suite.hypotheses = kept;
  RunOptions options;
  options.model_dir = g_model;
  options.device = "cpu";

  bench::PeakRssAnon peak;
  std::size_t outcomes = 0;
  uint64_t moe_bytes = 0;
  {
    const auto model = MoeModel::open(g_model);
    for (const auto& r : moe_layer_ranges(*model)) moe_bytes += r.size;
  }
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    RunResult result = run_suite(suite, options);
    g_suite_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    outcomes = result.hypotheses.size();
  }
  state.counters["hypotheses"] = static_cast<double>(outcomes);
  state.counters["peak_rss_anon_MB"] = static_cast<double>(peak.stop()) / 1e6;
  // The suite's floor is one read of the router and expert bytes from memory.
  bench::report_work(state, static_cast<double>(moe_bytes), 0);
}

}  // namespace

BENCHMARK(BM_ReadTensorBytes)
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->Iterations(1)
    ->Repetitions(3);
BENCHMARK(BM_ReadIntoLayerBuffer)
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->Iterations(1)
    ->Repetitions(3);
BENCHMARK(BM_StaticSuiteCpu)
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->Iterations(1)
    ->Repetitions(3);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::measure_cpu_ceilings();
  bench::register_ceiling_benchmarks();
  fs::path generated;
  if (const char* env = std::getenv("MOEPROBE_BENCH_MODEL")) {
    g_model = env;
  } else {
    std::random_device rd;
    generated = fs::temp_directory_path() / ("moeprobe-bench-mixtral-" + std::to_string(rd()));
    std::cerr << "generating the Mixtral-shaped checkpoint in " << generated << " ...\n";
    synth::synthesize(synth::load_recipe(fs::path(MOEPROBE_SOURCE_DIR) /
                                         "fixtures/recipes/mixtral_8x7b_shape.yaml"),
                      generated);
    g_model = generated;
  }
  benchmark::RunSpecifiedBenchmarks();
  if (g_read_seconds > 0)
    std::cout << "last repetition: suite " << g_suite_seconds << " s, read " << g_read_seconds
              << " s, ratio " << g_suite_seconds / g_read_seconds << "\n";
  benchmark::Shutdown();
  if (!generated.empty()) fs::remove_all(generated);
  return 0;
}
