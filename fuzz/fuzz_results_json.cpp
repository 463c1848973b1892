// results.json (`report`, `compare`): parsed with the shared depth-limited parser, mapped to a
// RunResult, re-rendered in every report format and compared with itself.
#include "fuzz/fuzz_util.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "suite/compare.h"
#include "util/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string text = fuzz::as_text(data, size);
  return fuzz::run_contract([&] {
    const RunResult r = results_from_json(parse_json(text, "results.json"), "results.json");
    (void)render_results_json(r);
    (void)render_junit(r);
    (void)render_markdown(r);
    (void)render_html(r);
    const Comparison c = compare_results(r, r, {});
    (void)render_comparison_markdown(c, "a.json", "b.json");
  });
}
