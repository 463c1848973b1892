// matrix_set_stats on quantised expert sets beside the same set in BF16, in one run: FP8 E4M3
// with one F32 scale per 128x128 block (DeepSeek-V3 / Kimi-K2) and MXFP4 (gpt-oss: E2M1 pairs
// and one E8M0 scale per 32 values). The values are the BF16 set's, quantised. bytes_per_second
// counts the bytes a format stores (codes + scales), so "time per byte read" compares directly:
// the issue asks FP8 and MXFP4 to be no slower per byte than BF16.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <tuple>

#include "bench/bench_sets.h"
#include "bench/ceilings.h"
#include "io/dtype.h"
#include "kernels/cpu/cpu_backend.h"
#include "synth/quantize.h"

namespace moeprobe {
namespace {

struct QuantSet {
  std::vector<std::vector<uint8_t>> codes, e8m0;
  std::vector<std::vector<float>> scales;
  std::vector<TensorView> views;
  double bytes = 0;
};

// scheme 0: BF16 (the bench_sets views), 1: FP8 block 128x128, 2: MXFP4.
const std::vector<TensorView>& views_of(int scheme, int n, int64_t rows, int64_t cols,
                                        double* bytes) {
  bench::Set& s = bench::bf16_set(n, rows, cols);
  if (scheme == 0) {
    *bytes = static_cast<double>(s.size());
    return s.views;
  }
  static std::map<std::tuple<int, int, int64_t, int64_t>, std::unique_ptr<QuantSet>> cache;
  auto& slot = cache[{scheme, n, rows, cols}];
  if (!slot) {
    slot = std::make_unique<QuantSet>();
    QuantSet& q = *slot;
    q.codes.resize(n);
    q.e8m0.resize(n);
    q.scales.resize(n);
    std::vector<float> x(static_cast<std::size_t>(rows * cols)), deq;
    for (int a = 0; a < n; ++a) {
      s.views[a].read_float(0, rows * cols, x.data());
      auto st = std::make_shared<StoredMatrix>();
      st->name = "expert" + std::to_string(a);
      st->rows = st->rows_per_matrix = rows;
      st->cols = cols;
      if (scheme == 1) {
        synth::quantize_fp8_blocks(x.data(), 1, rows, cols, 128, 128, q.codes[a], q.scales[a], deq);
        st->scheme = QuantScheme::Fp8Block;
        st->code_dtype = DType::F8_E4M3;
        st->codes = q.codes[a].data();
        st->scale_dtype = DType::F32;
        st->scales = reinterpret_cast<const unsigned char*>(q.scales[a].data());
        st->block_rows = st->block_cols = 128;
        q.bytes += static_cast<double>(q.codes[a].size() + 4 * q.scales[a].size());
      } else {
        synth::quantize_mxfp4(x.data(), rows, cols, q.codes[a], q.e8m0[a], deq);
        st->scheme = QuantScheme::Mxfp4;
        st->code_dtype = DType::U8;
        st->codes = q.codes[a].data();
        st->scale_dtype = DType::U8;
        st->scales = q.e8m0[a].data();
        st->block_rows = 1;
        st->block_cols = 32;
        q.bytes += static_cast<double>(q.codes[a].size() + q.e8m0[a].size());
      }
      st->scale_rows_per_matrix = (rows + st->block_rows - 1) / st->block_rows;
      st->scale_cols = (cols + st->block_cols - 1) / st->block_cols;
      TensorView v;
      v.name = st->name;
      v.dtype = st->code_dtype;
      v.shape = {rows, cols};
      v = v.mapped();
      v.storage = std::move(st);
      q.views.push_back(std::move(v));
    }
  }
  *bytes = slot->bytes;
  return slot->views;
}

// Args: scheme (0 BF16, 1 FP8, 2 MXFP4), experts, rows, cols. The full request (Gram,
// standardised Gram, mean neurons), as the suite's A1/A3/A5 metrics ask.
void BM_QuantizedSetStats(benchmark::State& state) {
  double bytes = 0;
  const auto& views = views_of(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                               state.range(2), state.range(3), &bytes);
  CpuBackend backend;
  for (auto _ : state)
    benchmark::DoNotOptimize(backend.matrix_set_stats(views, NeuronAxis::Rows, {true, true, true}));
  bench::report_work(state, bytes, 0);
  const double elems = static_cast<double>(state.range(1) * state.range(2) * state.range(3));
  state.counters["elements/s"] =
      benchmark::Counter(elems, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_per_element"] = bytes / elems;
}

void args(benchmark::internal::Benchmark* b) {
  for (int scheme : {0, 1, 2}) b->Args({scheme, 8, 2048, 1024});
  for (int scheme : {0, 1, 2}) b->Args({scheme, 8, 4096, 2048});
}

BENCHMARK(BM_QuantizedSetStats)->Apply(args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace moeprobe

MOEPROBE_BENCH_MAIN()
