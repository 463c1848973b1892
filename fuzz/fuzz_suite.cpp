// A suite YAML: parsed and validated against the registered metrics (every hypothesis's params
// parsed into its metric's typed value), then planned for a 4-layer model.
#include "fuzz/fuzz_util.h"
#include "metrics/metric.h"
#include "suite/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string text = fuzz::as_text(data, size);
  return fuzz::run_contract([&] {
    const Suite s = parse_suite(text, "suite.yaml", find_metric);
    for (const auto& h : s.hypotheses) {
      std::string error;
      (void)h.layers.resolve(4, &error);
      (void)h.layers.resolve(1000, &error);
    }
  });
}
