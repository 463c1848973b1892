// moeprobe report results.json --out DIR: regenerates the human-readable reports from a run's JSON.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "reports/json_report.h"
#include "reports/write_reports.h"
#include "util/registry.h"

namespace moeprobe::cli {
namespace {

struct ReportArgs {
  std::string results, out, formats = "html,md,junit";
};

}  // namespace

CommandRun setup_report(CLI::App* sub) {
  auto args = std::make_shared<ReportArgs>();
  sub->add_option("results", args->results, "results.json of a run (its tables file beside it)")
      ->required();
  sub->add_option("--out", args->out, "Report directory (created if missing)")->required();
  sub->add_option("--format", args->formats, "Comma list of " + entry_names(report_formats()))
      ->capture_default_str();
  return [args]() {
    const auto formats = parse_report_formats(args->formats);
    const RunResult result = load_results(args->results);
    write_reports(result, args->out, formats, {args->results});
    std::cout << "Wrote " << args->formats << " reports to " << args->out << "/\n";
    return 0;
  };
}

}  // namespace moeprobe::cli
