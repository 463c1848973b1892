// moeprobe compare BASELINE.json CURRENT.json: metric drift between two runs, for regression tests
// of router designs and training changes. Exit 1 on drift or an outcome change.
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "reports/atomic_write.h"
#include "reports/json_report.h"
#include "suite/compare.h"

namespace moeprobe::cli {
namespace {

struct CompareArgs {
  std::string baseline, current, out;
  double abs = -1, rel = -1;
};

}  // namespace

CommandRun setup_compare(CLI::App* sub) {
  auto args = std::make_shared<CompareArgs>();
  sub->add_option("baseline", args->baseline, "results.json of the baseline run")->required();
  sub->add_option("current", args->current, "results.json of the current run")->required();
  sub->add_option("--abs", args->abs, "Absolute tolerance (overrides each hypothesis's)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--rel", args->rel, "Relative tolerance (overrides each hypothesis's)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "Also write the Markdown table to this file");
  return [args]() {
    // Values only: a results.json compares without its tables file.
    const RunResult base = load_results(args->baseline, DetailTables::Skip);
    const RunResult cur = load_results(args->current, DetailTables::Skip);
    CompareOptions opt;
    if (args->abs >= 0) opt.abs = args->abs;
    if (args->rel >= 0) opt.rel = args->rel;
    const Comparison c = compare_results(base, cur, opt);
    const std::string md = render_comparison_markdown(c, args->baseline, args->current);
    std::cout << md;
    if (!args->out.empty()) {
      const std::filesystem::path out(args->out);
      write_files_atomically(out.has_parent_path() ? out.parent_path() : ".",
                             {{out.filename().string(), md}}, {args->baseline, args->current});
    }
    return c.failed() ? 1 : 0;
  };
}

}  // namespace moeprobe::cli
