// Google Benchmark JSON (`perf-gate` input): parsed, then gated against itself and against a
// fixed small baseline with the default thresholds.
#include "fuzz/fuzz_util.h"
#include "perf/benchmark_json.h"
#include "perf/gate.h"
#include "perf/gate_report.h"
#include "perf/thresholds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string text = fuzz::as_text(data, size);
  return fuzz::run_contract([&] {
    const perf::BenchmarkFile f = perf::parse_benchmark_json(text, "current.json");
    // Overrides make the gate match every name against a glob and a regex.
    const perf::Thresholds t = perf::parse_thresholds(
        "alpha: 0.05\noverrides:\n  - {glob: \"BM_*/1024*\", threshold: 0.1}\n"
        "  - {regex: \"(real|cpu)_time$\", min_effect_ns: 5}\n",
        "thresholds.yaml");
    const perf::GateResult g = perf::run_gate(f, f, t);
    (void)perf::render_gate_markdown(g);
    (void)perf::render_gate_json(g);
  });
}
