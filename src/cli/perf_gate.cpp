// moeprobe perf-gate BASELINE.json CURRENT.json: did a change make a benchmark slower, with
// statistics? Google Benchmark JSON in, a Markdown table (and JSON beside it) out; exit 1 only
// for a significant slowdown beyond its threshold, never with --report-only.
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "perf/benchmark_json.h"
#include "perf/gate.h"
#include "perf/gate_report.h"
#include "perf/thresholds.h"
#include "reports/atomic_write.h"
#include "util/data_dir.h"
#include "util/error.h"

namespace moeprobe::cli {
namespace {

struct PerfGateArgs {
  std::string baseline, current, thresholds, out, time;
  bool report_only = false;
};

}  // namespace

CommandRun setup_perf_gate(CLI::App* sub) {
  auto args = std::make_shared<PerfGateArgs>();
  sub->add_option("baseline", args->baseline, "Benchmark JSON of the baseline")->required();
  sub->add_option("current", args->current, "Benchmark JSON of the change under test")->required();
  sub->add_option("--thresholds", args->thresholds,
                  "Thresholds YAML (default: configs/perf/default.yaml)");
  sub->add_option("--out", args->out, "Write the Markdown table here, and FILE.json beside it");
  sub->add_option("--time", args->time, "Time to test: real (default) or cpu; overrides the YAML")
      ->check(CLI::IsMember({"real", "cpu"}));
  sub->add_flag("--report-only", args->report_only, "Always exit 0 unless the input is bad");
  return [args]() {
    namespace fs = std::filesystem;
    // Without --thresholds: configs/perf/default.yaml of the working directory (a checkout), then
    // the bundled perf/default.yaml (installed or build tree), else the same values built in.
    perf::Thresholds thresholds;
    if (!args->thresholds.empty()) {
      thresholds = perf::load_thresholds(args->thresholds);
    } else {
      std::vector<fs::path> candidates{fs::path("configs/perf/default.yaml")};
      try {
        candidates.push_back(data_subdir("perf") / "default.yaml");
      } catch (const InputError&) {
        // No bundled data beside this binary: the built-in defaults apply.
      }
      for (const fs::path& file : candidates)
        if (fs::exists(file)) {
          thresholds = perf::load_thresholds(file);
          break;
        }
    }
    if (!args->time.empty())
      thresholds.time = args->time == "cpu" ? perf::TimeField::Cpu : perf::TimeField::Real;
    const perf::BenchmarkFile base = perf::load_benchmark_json(args->baseline);
    const perf::BenchmarkFile cur = perf::load_benchmark_json(args->current);
    const perf::GateResult result = perf::run_gate(base, cur, thresholds);
    for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";
    const std::string md = perf::render_gate_markdown(result);
    std::cout << md;
    if (!args->out.empty()) {
      const fs::path out(args->out);
      fs::path json_name = out.filename();
      json_name.replace_extension(".json");
      if (json_name == out.filename()) json_name += ".json";  // --out x.json: x.json.json
      write_files_atomically(
          out.has_parent_path() ? out.parent_path() : ".",
          {{out.filename().string(), md}, {json_name.string(), perf::render_gate_json(result)}},
          {args->baseline, args->current, args->thresholds});
    }
    if (args->report_only) return 0;
    return result.regressed() ? 1 : 0;
  };
}

}  // namespace moeprobe::cli
