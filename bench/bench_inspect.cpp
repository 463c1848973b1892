// Cost of `moeprobe inspect` on a multi-GB sharded checkpoint, next to the cost of reading the
// same tensor bytes. Inspect reads config.json and shard headers only, so its time must not grow
// with the checkpoint's size and it must map no shard (counter mapped_shards == 0).
//
// Setup writes a Mixtral-layout checkpoint (BF16, hidden 1024, expert intermediate 3584, 8
// experts, 1 GiB shards) of about MOEPROBE_BENCH_GB GiB (default 4) of zeros into a temp dir,
// deleted at exit. Both report x_read against the memory read ceiling (bench/ceilings.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <benchmark/benchmark.h>

#include "bench/ceilings.h"
#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "model/model_summary.h"
#include "model/moe_model.h"

namespace {

namespace fs = std::filesystem;
using namespace moeprobe;

constexpr int64_t kHidden = 1024, kInter = 3584, kExperts = 8, kVocab = 32000;

class BenchCheckpoint {
 public:
  explicit BenchCheckpoint(double gib) {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("moeprobe-bench-inspect-" + std::to_string(rd()));
    fs::create_directories(dir_);
    const Family fam = load_family(default_families_dir() / "mixtral.yaml");
    const ExpertLayout& lay = fam.layouts.front();  // classic per-expert names
    const uint64_t per_layer = 3ull * kExperts * kHidden * kInter * 2;
    layers_ = std::max(1, static_cast<int>(gib * (1ull << 30) / per_layer + 0.5));

    std::vector<TensorSpec> specs;
    auto add = [&](std::string name, std::vector<int64_t> shape) {
      specs.push_back({std::move(name), DType::BF16, std::move(shape)});
    };
    add(fam.dense.embed, {kVocab, kHidden});
    for (int l = 0; l < layers_; ++l) {
      add(expand_pattern(fam.dense.input_norm, l), {kHidden});
      add(expand_pattern(fam.dense.post_attention_norm, l), {kHidden});
      for (const auto* p :
           {&fam.dense.q_proj, &fam.dense.k_proj, &fam.dense.v_proj, &fam.dense.o_proj})
        add(expand_pattern(*p, l), {kHidden, kHidden});
      add(expand_pattern(lay.router, l), {kExperts, kHidden});
      for (int e = 0; e < kExperts; ++e) {
        add(expand_pattern(lay.expert_act, l, e), {kInter, kHidden});
        add(expand_pattern(lay.expert_up, l, e), {kInter, kHidden});
        add(expand_pattern(lay.expert_down, l, e), {kHidden, kInter});
      }
    }
    add(fam.dense.final_norm, {kHidden});
    add(fam.dense.lm_head, {kVocab, kHidden});

    uint64_t largest = 0;
    for (const auto& s : specs) largest = std::max(largest, s.nbytes());
    const std::vector<unsigned char> zeros(largest, 0);
    ShardedWriter w(dir_, specs, 1ull << 30);
    for (const auto& s : specs) w.write(s.name, zeros.data(), s.nbytes());
    w.finish();

    std::ofstream(dir_ / "config.json")
        << nlohmann::json{{"model_type", "mixtral"},      {"architectures", {"MixtralForCausalLM"}},
                          {"num_hidden_layers", layers_}, {"hidden_size", kHidden},
                          {"intermediate_size", kInter},  {"num_local_experts", kExperts},
                          {"num_experts_per_tok", 2},     {"vocab_size", kVocab},
                          {"num_attention_heads", 8},     {"num_key_value_heads", 8}}
               .dump(2);
  }
  ~BenchCheckpoint() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  int layers() const { return layers_; }

 private:
  fs::path dir_;
  int layers_ = 0;
};

const BenchCheckpoint* g_ckpt = nullptr;

void BM_InspectSummary(benchmark::State& state) {
  uint64_t tensor_bytes = 0;
  std::size_t mapped = 0, json_chars = 0;
  for (auto _ : state) {
    const auto model = MoeModel::open(g_ckpt->dir());
    const nlohmann::json summary = summarize_model(*model);
    json_chars = summary.dump().size();
    tensor_bytes = summary["tensor_bytes"].get<uint64_t>();
    mapped = std::max(mapped, model->checkpoint().mapped_shards());
  }
  if (mapped != 0) state.SkipWithError("inspect mapped a shard: it must read headers only");
  // Against the time to read the bytes it describes: x_read far below 1 is the point.
  moeprobe::bench::report_work(state, static_cast<double>(tensor_bytes), 0);
  state.counters["tensor_bytes"] = static_cast<double>(tensor_bytes);
  state.counters["mapped_shards"] = static_cast<double>(mapped);
  state.counters["json_chars"] = static_cast<double>(json_chars);
}

// Opening the checkpoint and touching every byte of every tensor (8-byte loads, summed so the
// reads cannot be elided): the cost a tool pays if it reads tensor data to describe a model.
void BM_ReadAllTensorBytes(benchmark::State& state) {
  uint64_t tensor_bytes = 0;
  std::size_t mapped = 0;
  for (auto _ : state) {
    Checkpoint ckpt(g_ckpt->dir());
    uint64_t sum = 0;
    tensor_bytes = 0;
    for (const auto& name : ckpt.tensor_names()) {
      const TensorView v = ckpt.tensor(name);
      const std::size_t n = v.nbytes();
      std::size_t i = 0;
      for (; i + 8 <= n; i += 8) {
        uint64_t x;
        std::memcpy(&x, v.data + i, 8);
        sum += x;
      }
      for (; i < n; ++i) sum += v.data[i];
      tensor_bytes += n;
    }
    benchmark::DoNotOptimize(sum);
    mapped = ckpt.mapped_shards();
  }
  moeprobe::bench::report_work(state, static_cast<double>(tensor_bytes), 0);
  state.counters["tensor_bytes"] = static_cast<double>(tensor_bytes);
  state.counters["mapped_shards"] = static_cast<double>(mapped);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  double gib = 4.0;
  if (const char* env = std::getenv("MOEPROBE_BENCH_GB"); env && *env) gib = std::atof(env);
  if (!(gib > 0)) {
    std::cerr << "MOEPROBE_BENCH_GB must be a positive number of GiB\n";
    return 2;
  }
  moeprobe::bench::measure_cpu_ceilings();
  moeprobe::bench::register_ceiling_benchmarks();
  std::cerr << "bench_inspect: writing a ~" << gib << " GiB checkpoint...\n";
  const BenchCheckpoint ckpt(gib);
  g_ckpt = &ckpt;
  std::cerr << "bench_inspect: " << ckpt.layers() << " MoE layers in " << ckpt.dir() << "\n";
  benchmark::RegisterBenchmark("inspect_summary", BM_InspectSummary)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("read_all_tensor_bytes", BM_ReadAllTensorBytes)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
