// The ceilings a CPU benchmark is judged against, measured once in the same process before the
// benchmarks run: the memory read bandwidth (every core summing 64-bit words of a buffer far
// larger than the caches) and the float32 GEMM rate of the BLAS LibTorch uses (cblas_sgemm, all
// threads). Each benchmark then reports bytes/s and FLOP/s and, per ceiling that bounds it, a
// ratio counter: x_read = time / (bytes / read bandwidth), x_gemm = time / (FLOPs / GEMM rate),
// both >= 1 in principle and lower is better (1 = at the ceiling).
#pragma once

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "util/blas_kernels.h"

namespace moeprobe::bench {

struct CpuCeilings {
  double read_bytes_per_s = 0;
  double sgemm_flops_per_s = 0;
  std::string blas;  // which BLAS answered cblas_sgemm
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Every core sums its slice of a buffer far larger than the caches, as 64-bit words in four
// chains (so the adds are not the bottleneck).
class ReadBuffer {
 public:
  explicit ReadBuffer(std::size_t bytes) : words_(bytes / 8, 1) {}
  std::size_t bytes() const { return words_.size() * 8; }
  uint64_t pass() const {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<uint64_t> sums(threads);
    std::vector<std::thread> pool;
    const std::size_t n = words_.size();
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const uint64_t* w = words_.data();
        const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
        uint64_t a = 0, b = 0, c = 0, d = 0;
        std::size_t i = begin;
        for (; i + 4 <= end; i += 4) {
          a += w[i];
          b += w[i + 1];
          c += w[i + 2];
          d += w[i + 3];
        }
        for (; i < end; ++i) a += w[i];
        sums[t] = a + b + c + d;
      });
    for (auto& th : pool) th.join();
    uint64_t total = 0;
    for (uint64_t s : sums) total += s;
    return total;
  }

 private:
  std::vector<uint64_t> words_;
};

constexpr std::size_t kReadCeilingBytes = std::size_t{512} << 20;
constexpr int kGemmOrder = 1024;

// C = A B for square float32 matrices of order n, through cblas_sgemm (all BLAS threads).
struct SquareGemm {
  explicit SquareGemm(int order)
      : n(order), a(static_cast<std::size_t>(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size()) {}
  void run() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  double flops() const { return 2.0 * n * n * static_cast<double>(n); }
  int n;
  std::vector<float> a, b, c;
};

// Best of `passes` timed calls after one untimed warm-up (page faults, thread start-up).
template <class F>
double best_seconds(int passes, F&& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < passes; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

inline double measure_read_bandwidth() {
  const ReadBuffer buf(kReadCeilingBytes);
  return static_cast<double>(buf.bytes()) /
         best_seconds(5, [&] { benchmark::DoNotOptimize(buf.pass()); });
}

inline double measure_sgemm_rate() {
  SquareGemm g(kGemmOrder);
  return g.flops() / best_seconds(5, [&] { g.run(); });
}

// OpenBLAS's configuration and the kernel set it runs (util/blas_kernels.h). The benchmarks do not
// start themselves again with better kernels as `moeprobe` does: set OPENBLAS_CORETYPE to compare.
inline std::string blas_name() {
  return blas_description();
}

inline CpuCeilings& cpu_ceilings() {
  static CpuCeilings c;
  return c;
}

// Measures the ceilings and records them in the JSON context (and on stderr).
inline void measure_cpu_ceilings() {
  CpuCeilings& c = cpu_ceilings();
  c.read_bytes_per_s = measure_read_bandwidth();
  c.sgemm_flops_per_s = measure_sgemm_rate();
  c.blas = blas_name();
  char line[256];
  std::snprintf(line, sizeof line, "memory read %.2f GB/s, sgemm %.1f GFLOP/s (%s)",
                c.read_bytes_per_s * 1e-9, c.sgemm_flops_per_s * 1e-9, c.blas.c_str());
  std::fprintf(stderr, "ceilings: %s\n", line);
  benchmark::AddCustomContext("ceiling_read_GBps", std::to_string(c.read_bytes_per_s * 1e-9));
  benchmark::AddCustomContext("ceiling_sgemm_GFLOPps", std::to_string(c.sgemm_flops_per_s * 1e-9));
  benchmark::AddCustomContext("ceiling_blas", c.blas);
}

// The work of one iteration: sets bytes_per_second and FLOP/s, and the ratio to each ceiling that
// bounds it (x_read when bytes > 0, x_gemm when flops > 0). The rates use the benchmark's own
// time (real time with UseRealTime), so ratio = time per iteration / time at the ceiling.
inline void report_work(benchmark::State& state, double bytes, double flops) {
  using benchmark::Counter;
  const CpuCeilings& c = cpu_ceilings();
  if (bytes > 0) {
    state.SetBytesProcessed(static_cast<int64_t>(bytes * static_cast<double>(state.iterations())));
    if (c.read_bytes_per_s > 0)
      state.counters["x_read"] = Counter(bytes / c.read_bytes_per_s,
                                         Counter::kIsIterationInvariantRate | Counter::kInvert);
  }
  if (flops > 0) {
    state.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
    if (c.sgemm_flops_per_s > 0)
      state.counters["x_gemm"] = Counter(flops / c.sgemm_flops_per_s,
                                         Counter::kIsIterationInvariantRate | Counter::kInvert);
  }
}

// The ceilings themselves as benchmarks, so a baseline records them and the gate sees a machine
// change (every x_ ratio moves with it). Their ratios are ~1 by construction.
inline void BM_CeilingRead(benchmark::State& state) {
  static const ReadBuffer buf(kReadCeilingBytes);
  for (auto _ : state) benchmark::DoNotOptimize(buf.pass());
  report_work(state, static_cast<double>(buf.bytes()), 0);
}

inline void BM_CeilingSgemm(benchmark::State& state) {
  SquareGemm g(kGemmOrder);
  for (auto _ : state) g.run();
  report_work(state, 0, g.flops());
}

}  // namespace moeprobe::bench

namespace moeprobe::bench {
inline void register_ceiling_benchmarks() {
  benchmark::RegisterBenchmark("BM_CeilingRead", BM_CeilingRead)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_CeilingSgemm", BM_CeilingSgemm)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}
}  // namespace moeprobe::bench

// main() of a CPU benchmark executable: the ceilings first, then the benchmarks.
#define MOEPROBE_BENCH_MAIN()                                         \
  int main(int argc, char** argv) {                                   \
    benchmark::Initialize(&argc, argv);                               \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    moeprobe::bench::measure_cpu_ceilings();                          \
    moeprobe::bench::register_ceiling_benchmarks();                   \
    benchmark::RunSpecifiedBenchmarks();                              \
    benchmark::Shutdown();                                            \
    return 0;                                                         \
  }
