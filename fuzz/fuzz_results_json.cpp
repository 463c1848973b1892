// results.json (`report`, `compare`): parsed with the shared depth-limited parser, mapped to a
// RunResult, re-rendered in every report format and compared with itself.
// Schema 3 keeps numeric tables in a tables file beside results.json. The input is the JSON only,
// read beside one fixed, valid tables file written once into the scratch directory: its tensors
// cover every stored dtype, NaN, an infinity (refused), a [2, 0] matrix, columns of records and a
// BF16 tensor (refused), so mutated stubs and references reach every check of the reader against
// a header (the safetensors reader itself is fuzz_safetensors_header's). An accepted input must
// also come back through the writer: its results.json and tables file, written and read again,
// are accepted (anything else is a writer bug, reported like an exit 3).
#include <cmath>
#include <limits>

#include "fuzz/fuzz_util.h"
#include "io/safetensors_writer.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "suite/compare.h"
#include "util/input_file.h"

namespace {

using namespace moeprobe;

// The tensors seeds in corpus/results_json/ refer to (tables_v3.json).
void write_fixed_tables_file(const std::filesystem::path& path) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> m = {1, 0.5f, nan, 0.5f, 1, 0.25f, nan, 0.25f, 1};
  const std::vector<int32_t> i = {3, 1, 0, 7};
  const std::vector<int64_t> q = {1, -2, 3, 4, 5, 6};
  const std::vector<double> d = {1e300, 0.5, -1e-300, 2};
  const std::vector<float> inf2 = {0.5f, inf};
  const std::vector<int32_t> a = {1, 2, 2};
  const std::vector<float> tau = {0.5f, nan, -1};
  const std::vector<uint16_t> bf = {0x3f80, 0, 0, 0x3f80};
  SafetensorsWriter w(path, {{"m@0", DType::F32, {3, 3}},
                             {"i@0", DType::I32, {2, 2}},
                             {"q@0", DType::I64, {2, 3}},
                             {"d@0", DType::F64, {2, 2}},
                             {"e@0", DType::F32, {2, 0}},
                             {"inf@0", DType::F32, {1, 2}},
                             {"pairs@0/a", DType::I32, {3}},
                             {"pairs@0/tau", DType::F32, {3}},
                             {"bf@0", DType::BF16, {2, 2}}});
  w.write("m@0", m.data(), m.size() * 4);
  w.write("i@0", i.data(), i.size() * 4);
  w.write("q@0", q.data(), q.size() * 8);
  w.write("d@0", d.data(), d.size() * 8);
  w.write("e@0", nullptr, 0);
  w.write("inf@0", inf2.data(), inf2.size() * 4);
  w.write("pairs@0/a", a.data(), a.size() * 4);
  w.write("pairs@0/tau", tau.data(), tau.size() * 4);
  w.write("bf@0", bf.data(), bf.size() * 2);
  w.finish();
}

const std::string& input_path() {
  static const std::string path = [] {
    write_fixed_tables_file(fuzz::scratch_dir() / kTablesFileName);
    return (fuzz::scratch_dir() / "results.json").string();
  }();
  return path;
}

// What the writer makes of an accepted result reads back.
void check_round_trip(const RunResult& r) {
  const auto dir = fuzz::scratch_dir() / "written";
  std::filesystem::create_directories(dir);
  try {
    ResultsDocument doc = results_document(r);
    doc.tables.write(dir / kTablesFileName);
    fuzz::write_file(dir / "results.json", render_results_json(std::move(doc)));
    (void)load_results((dir / "results.json").string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moeprobe fuzz: the written results.json of an accepted one fails: %s\n",
                 e.what());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::as_text(data, size);
  const std::string& file = input_path();
  return fuzz::run_contract([&] {
    const RunResult r = results_from_json(parse_json(text, file), file);
    (void)results_from_json(parse_json(text, file), file, DetailTables::Skip);
    check_round_trip(r);
    (void)render_junit(r);
    (void)render_markdown(r);
    (void)render_html(r);
    const Comparison c = compare_results(r, r, {});
    (void)render_comparison_markdown(c, "a.json", "b.json");
  });
}
