// Issue 8's performance check: `capture` of the paper's 10 probe lines on a Mixtral-8x7B-shaped
// checkpoint (fixtures/recipes/mixtral_8x7b_shape.yaml, from $MOEPROBE_BENCH_MODEL), side by side
// in one run with its two floors:
//   (a) reading the same weight bytes (every decoder-layer tensor, plus the gathered embedding
//       rows) from the page cache, and
//   (b) the same matrix products as single large float32 GEMMs through the same BLAS
//       (cblas_sgemm): q/k/v/o over all tokens, QK^T and AV per sequence and head, the router,
//       and per expert its act/up/down over exactly the tokens routed to it (counted from the
//       captured MoE inputs and the router, as the forward pass routes them).
// Prints capture / (a + b) (target <= 1.5) and the capture's peak anonymous resident memory
// (target <= 1.5 GB: one decoder layer's weights live). Skips without LibTorch or the model.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/ceilings.h"
#include "bench/rss_anon.h"
#include "forward/forward.h"
#include "forward/forward_config.h"
#include "io/safetensors.h"
#include "model/moe_model.h"
#include "model/router.h"
#include "probe/capture.h"
#include "util/data_dir.h"

namespace fs = std::filesystem;
using namespace moeprobe;

namespace {

fs::path g_model, g_acts;
double g_capture_s = 0, g_read_s = 0, g_gemm_s = 0;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ProbeSequences paper_probe() {
  return text_probe(g_model, data_dir() / kPaperLongInputFile, kPaperLongInputLines);
}

bool ready(benchmark::State& state) {
  if (!forward_available()) {
    state.SkipWithError("built without LibTorch");
    return false;
  }
  if (g_model.empty()) {
    state.SkipWithError(
        "set MOEPROBE_BENCH_MODEL to a checkpoint made by `moeprobe synth "
        "fixtures/recipes/mixtral_8x7b_shape.yaml --out DIR`");
    return false;
  }
  return true;
}

void BM_Capture(benchmark::State& state) {
  if (!ready(state)) return;
  const auto model = MoeModel::open(g_model);
  const ProbeSequences probe = paper_probe();
  bench::PeakRssAnon peak;
  CaptureSummary s;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    s = capture_activations(*model, g_model.string(), probe, g_acts);
    g_capture_s = since(t0);
  }
  state.counters["tokens"] = static_cast<double>(s.tokens);
  state.counters["peak_rss_anon_MB"] = static_cast<double>(peak.stop()) / 1e6;
}

void BM_ReadWeightBytes(benchmark::State& state) {
  if (!ready(state)) return;
  const auto model = MoeModel::open(g_model);
  int64_t tokens = 0;
  for (const auto& seq : paper_probe().ids) tokens += static_cast<int64_t>(seq.size());
  struct Range {
    fs::path file;
    uint64_t offset, size;
  };
  std::vector<Range> ranges;
  for (const auto& shard : model->checkpoint().shards())
    for (const TensorEntry& e : shard->entries()) {
      const uint64_t base = 8 + shard->header_size() + e.begin;
      if (e.name.rfind("model.layers.", 0) == 0)
        ranges.push_back({shard->path(), base, e.end - e.begin});
      if (e.name == model->family().dense.embed) {  // the gathered rows
        const uint64_t row = (e.end - e.begin) / static_cast<uint64_t>(e.shape[0]);
        for (int64_t t = 0; t < tokens; ++t)
          ranges.push_back(
              {shard->path(), base + static_cast<uint64_t>(t % e.shape[0]) * row, row});
      }
    }
  std::vector<char> buffer(64 << 20);
  uint64_t total = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    total = 0;
    int fd = -1;
    fs::path open_file;
    for (const Range& r : ranges) {
      if (r.file != open_file) {
        if (fd >= 0) ::close(fd);
        fd = ::open(r.file.c_str(), O_RDONLY);
        open_file = r.file;
      }
      for (uint64_t got_total = 0; got_total < r.size;) {
        const uint64_t n = std::min<uint64_t>(buffer.size(), r.size - got_total);
        const ssize_t got = ::pread(fd, buffer.data(), n, static_cast<off_t>(r.offset + got_total));
        if (got <= 0) break;
        got_total += static_cast<uint64_t>(got);
        benchmark::DoNotOptimize(buffer.data());
      }
      total += r.size;
    }
    if (fd >= 0) ::close(fd);
    g_read_s = since(t0);
  }
  bench::report_work(state, static_cast<double>(total), 0);
}

// Tokens routed to each expert per MoE layer, from the captured inputs (run BM_Capture first).
std::vector<std::vector<int64_t>> routed_counts(const MoeModel& model) {
  const SafetensorsFile acts(g_acts);
  const RouterRule rule = read_forward_config(model).router;
  std::vector<std::vector<int64_t>> counts;
  for (int l : model.config().moe_layers) {
    const TensorView x = acts.view("layers." + std::to_string(l) + ".moe_input");
    const int64_t T = x.dim(0), H = x.dim(1);
    const MoeLayer layer = model.layer(l);
    const int E = layer.num_experts();
    std::vector<float> xs(static_cast<std::size_t>(T * H)), w(static_cast<std::size_t>(E * H)),
        logits(static_cast<std::size_t>(T * E));
    x.read_float(0, T * H, xs.data());
    layer.router.read_float(0, E * H, w.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), E,
                static_cast<int>(H), 1.0f, xs.data(), static_cast<int>(H), w.data(),
                static_cast<int>(H), 0.0f, logits.data(), E);
    std::vector<int> chosen;
    std::vector<float> weights;
    route_tokens<float>(rule, logits.data(), T, nullptr, chosen, weights);
    std::vector<int64_t> c(static_cast<std::size_t>(E), 0);
    for (int e : chosen) ++c[static_cast<std::size_t>(e)];
    counts.push_back(c);
  }
  return counts;
}

void BM_SameGemms(benchmark::State& state) {
  if (!ready(state)) return;
  if (!fs::exists(g_acts)) {
    state.SkipWithError("run BM_Capture first (the routing comes from its output)");
    return;
  }
  const auto model = MoeModel::open(g_model);
  const ProbeSequences probe = paper_probe();
  const auto counts = routed_counts(*model);
  const auto& cfg = model->config();
  const int64_t H = cfg.hidden_size, I = cfg.expert_intermediate_size;
  const nlohmann::json config = nlohmann::json::parse(std::ifstream(g_model / "config.json"));
  const int64_t heads = config.at("num_attention_heads"), kv = config.at("num_key_value_heads");
  const int64_t hd = config.value("head_dim", H / heads);
  int64_t T = 0, longest = 0;
  for (const auto& s : probe.ids) {
    T += static_cast<int64_t>(s.size());
    longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
  }
  std::vector<float> x(static_cast<std::size_t>(T * std::max(H, I)), 0.5f),
      y(static_cast<std::size_t>(T * std::max(H, I)));
  std::vector<float> w(static_cast<std::size_t>(std::max(H * H, H * I)), 0.25f);
  std::vector<float> scores(static_cast<std::size_t>(longest * longest));
  double flops = 0;
  // C[m, n] = A[m, k] B[n, k]^T, as torch::matmul(x, w.t()) computes a linear layer.
  auto gemm = [&](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
    if (m == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a, static_cast<int>(k), b, static_cast<int>(k), 0.0f, c,
                static_cast<int>(n));
    flops += 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  };
  for (auto _ : state) {
    flops = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t l = 0; l < cfg.moe_layers.size(); ++l) {
      gemm(T, heads * hd, H, x.data(), w.data(), y.data());  // q
      gemm(T, kv * hd, H, x.data(), w.data(), y.data());     // k
      gemm(T, kv * hd, H, x.data(), w.data(), y.data());     // v
      for (const auto& s : probe.ids) {
        const int64_t n = static_cast<int64_t>(s.size());
        for (int64_t h = 0; h < heads; ++h) {
          gemm(n, n, hd, x.data(), w.data(), scores.data());  // Q K^T
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n),
                      static_cast<int>(hd), static_cast<int>(n), 1.0f, scores.data(),
                      static_cast<int>(n), w.data(), static_cast<int>(hd), 0.0f, y.data(),
                      static_cast<int>(hd));  // A V
          flops += 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(hd);
        }
      }
      gemm(T, H, heads * hd, x.data(), w.data(), y.data());                              // o
      gemm(T, static_cast<int64_t>(counts[l].size()), H, x.data(), w.data(), y.data());  // router
      for (int64_t n : counts[l]) {
        gemm(n, I, H, x.data(), w.data(), y.data());  // act
        gemm(n, I, H, x.data(), w.data(), y.data());  // up
        gemm(n, H, I, x.data(), w.data(), y.data());  // down
      }
    }
    g_gemm_s = since(t0);
  }
  bench::report_work(state, 0, flops);
}

}  // namespace

BENCHMARK(BM_Capture)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_ReadWeightBytes)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_SameGemms)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (const char* m = std::getenv("MOEPROBE_BENCH_MODEL")) g_model = m;
  g_acts = fs::temp_directory_path() /
           ("moeprobe-bench-acts-" + std::to_string(::getpid()) + ".safetensors");
  bench::measure_cpu_ceilings();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  fs::remove(g_acts, ec);
  if (g_capture_s > 0 && g_read_s > 0 && g_gemm_s > 0)
    std::printf("capture %.2f s, read %.2f s, gemm %.2f s: capture / (read + gemm) = %.2f\n",
                g_capture_s, g_read_s, g_gemm_s, g_capture_s / (g_read_s + g_gemm_s));
  return 0;
}
