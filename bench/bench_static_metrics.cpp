// Static-analysis primitives: matrix_set_stats (CPU vs float64 reference) on layer-sized BF16
// matrix sets beside two baselines for the same bytes: a raw in-memory pass (sum of 64-bit words:
// the memory-bandwidth ceiling) and read(2) of the bytes from a file into a buffer (what a loader
// does: the "reading the same tensor bytes into memory"); then the A2 neuron matching
// (neuron cosines + linear assignment) for DeepSeekMoE-sized experts.
//
// Every benchmark reports bytes/s, FLOP/s where it computes, and its ratio to the ceilings
// measured at start-up (bench/ceilings.h): x_read against the memory read bandwidth, x_gemm
// against float32 GEMM through the same BLAS as LibTorch. The small shapes ({16, 512, 1024},
// 16 MB) are the CI set gated by `moeprobe perf-gate` (scripts/update-perf-baseline.sh).
//
// The Mixtral-layer set (8 experts x [14336, 4096] BF16, 940 MB) is the issue-4 target; the
// BM_MixtralSideBySide benchmark times read(2) and matrix_set_stats in the same iteration and
// reports their ratio.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "bench/bench_sets.h"
#include "bench/ceilings.h"
#include "io/dtype.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "metrics/linear_assignment.h"

namespace moeprobe {
namespace {

using bench::bf16_set;
using bench::Set;

// The set's bytes as a file (in the page cache right after writing it, as a freshly generated or
// recently read checkpoint is).
const std::filesystem::path& set_file(Set& s) {
  if (s.file.empty()) {
    s.file = std::filesystem::temp_directory_path() /
             ("moeprobe_bench_set_" + std::to_string(::getpid()) + ".bin");
    const int fd = ::open(s.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + s.file.string());
    const auto* p = reinterpret_cast<const char*>(s.bytes.data());
    for (std::size_t done = 0; done < s.size();) {
      const ssize_t w = ::write(fd, p + done, std::min<std::size_t>(s.size() - done, 1 << 26));
      if (w <= 0) throw std::runtime_error("write failed");
      done += static_cast<std::size_t>(w);
    }
    ::close(fd);
  }
  return s.file;
}

void set_bytes(benchmark::State& state, const Set& s, double flops = 0) {
  bench::report_work(state, static_cast<double>(s.size()), flops);
}

// GEMM-equivalent FLOPs of a request on n matrices of d elements: 2 n^2 d per Gram (what sgemm
// would do for it), n d for the column sums of the mean neurons.
double request_flops(const Set& s, const MatrixSetRequest& req) {
  const double n = static_cast<double>(s.n), d = static_cast<double>(s.rows * s.cols);
  return (req.gram ? 2 * n * n * d : 0) + (req.standardized_gram ? 2 * n * n * d : 0) +
         (req.mean_neuron ? n * d : 0);
}

uint64_t sum_words(const unsigned char* p, std::size_t words) {
  uint64_t sum = 0;
  for (std::size_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    sum += w;
  }
  return sum;
}

// read(2) of the whole file into buf in 64 MiB calls, as a loader would.
void read_file(const std::filesystem::path& path, unsigned char* buf, std::size_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path.string());
  for (std::size_t done = 0; done < size;) {
    const ssize_t r = ::read(fd, buf + done, std::min<std::size_t>(size - done, 1 << 26));
    if (r <= 0) throw std::runtime_error("read failed");
    done += static_cast<std::size_t>(r);
  }
  ::close(fd);
}

// The in-memory ceiling: sum the buffer as 64-bit words, one thread.
void BM_RawRead(benchmark::State& state) {
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  for (auto _ : state)
    benchmark::DoNotOptimize(
        sum_words(reinterpret_cast<const unsigned char*>(s.bytes.data()), s.size() / 8));
  set_bytes(state, s);
}

// The loader baseline: read(2) the bytes from the (page-cached) file into a buffer.
void BM_ReadFile(benchmark::State& state) {
  Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const auto& path = set_file(s);
  std::vector<unsigned char> buf(s.size());
  for (auto _ : state) {
    read_file(path, buf.data(), buf.size());
    benchmark::ClobberMemory();
  }
  set_bytes(state, s);
}

template <class B>
void BM_MatrixSetStats(benchmark::State& state) {
  const Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const int64_t what = state.range(3);  // bits: 1 Gram, 2 standardised Gram, 4 mean neurons
  MatrixSetRequest req{(what & 1) != 0, (what & 2) != 0, (what & 4) != 0};
  B backend;
  for (auto _ : state)
    benchmark::DoNotOptimize(backend.matrix_set_stats(s.views, NeuronAxis::Rows, req));
  set_bytes(state, s, request_flops(s, req));
  state.counters["experts"] = static_cast<double>(state.range(0));
}

// The full request on the file mapped afresh every iteration (MAP_PRIVATE, like the safetensors
// reader), so page-table population of the page-cached bytes is included.
void BM_MatrixSetStatsMmap(benchmark::State& state) {
  Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const auto& path = set_file(s);
  CpuBackend backend;
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    void* p = ::mmap(nullptr, s.size(), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    ::madvise(p, s.size(), MADV_SEQUENTIAL);
    std::vector<TensorView> views = s.views;
    const std::size_t per = s.size() / views.size();
    for (std::size_t a = 0; a < views.size(); ++a)
      views[a].data = static_cast<const unsigned char*>(p) + a * per;
    benchmark::DoNotOptimize(backend.matrix_set_stats(views, NeuronAxis::Rows, {true, true, true}));
    ::munmap(p, s.size());
  }
  set_bytes(state, s, request_flops(s, {true, true, true}));
}

// Side by side in every iteration: read(2) of the set's bytes into a buffer, then the full
// request on the in-memory set; counters give both times and stats/read.
void BM_SideBySide(benchmark::State& state) {
  Set& s = bf16_set(state.range(0), state.range(1), state.range(2));
  const auto& path = set_file(s);
  std::vector<unsigned char> buf(s.size());
  CpuBackend backend;
  double read_s = 0, stats_s = 0, raw_s = 0;
  using clock = std::chrono::steady_clock;
  for (auto _ : state) {
    auto t0 = clock::now();
    read_file(path, buf.data(), buf.size());
    auto t1 = clock::now();
    benchmark::DoNotOptimize(sum_words(buf.data(), buf.size() / 8));
    auto t2 = clock::now();
    benchmark::DoNotOptimize(
        backend.matrix_set_stats(s.views, NeuronAxis::Rows, {true, true, true}));
    auto t3 = clock::now();
    read_s += std::chrono::duration<double>(t1 - t0).count();
    raw_s += std::chrono::duration<double>(t2 - t1).count();
    stats_s += std::chrono::duration<double>(t3 - t2).count();
  }
  const double it = static_cast<double>(state.iterations());
  state.counters["read_ms"] = 1e3 * read_s / it;
  state.counters["rawsum_ms"] = 1e3 * raw_s / it;
  state.counters["stats_ms"] = 1e3 * stats_s / it;
  state.counters["stats/read"] = stats_s / read_s;
  state.counters["stats/rawsum"] = stats_s / raw_s;
  state.counters["stats_GB/s"] = it * static_cast<double>(s.size()) / stats_s * 1e-9;
  set_bytes(state, s, request_flops(s, {true, true, true}));
}

// args: experts, I, H (, request bits: 1 Gram, 2 standardised Gram, 4 mean neurons; 7 = what
// the static metrics ask for).
// {8, 14336, 4096}: one Mixtral-8x7B matrix type of one layer (940 MB).
BENCHMARK(BM_RawRead)
    ->Args({16, 512, 1024})
    ->Args({64, 1408, 2048})
    ->Args({8, 14336, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReadFile)->Args({8, 14336, 4096})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_MatrixSetStats, CpuBackend)
    ->Args({16, 512, 1024, 7})
    ->Args({16, 512, 1024, 1})
    ->Args({64, 1408, 2048, 7})
    ->Args({64, 1408, 2048, 1})
    ->Args({8, 14336, 4096, 7})
    ->Args({8, 14336, 4096, 1})
    ->Args({8, 14336, 4096, 3})
    ->Args({8, 14336, 4096, 5})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MatrixSetStatsMmap)
    ->Args({8, 14336, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_SideBySide)
    ->Args({8, 14336, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_TEMPLATE(BM_MatrixSetStats, ReferenceBackend)
    ->Args({8, 1408, 2048, 7})
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
  set_bytes(state, s, 2.0 * state.range(0) * state.range(0) * state.range(1));
}
BENCHMARK(BM_NeuronCosine)
    ->Args({128, 1024})
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
  // No FLOP count fits a combinatorial search: its ceiling is one read of the cost matrix.
  bench::report_work(state, static_cast<double>(c.data.size() * sizeof(double)), 0);
}
BENCHMARK(BM_Assignment)
    ->Arg(128)
    ->Arg(352)
    ->Arg(704)
    ->Arg(1408)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace moeprobe

MOEPROBE_BENCH_MAIN()
