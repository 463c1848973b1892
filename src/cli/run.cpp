// moeprobe run SUITE.yaml --model DIR: judges a suite's hypotheses on a checkpoint and writes
// results.json, junit.xml, summary.md and report.html into --out.
#include <iostream>
#include <memory>

#include "cli/activations_option.h"
#include "cli/command.h"
#include "cli/compare_model_option.h"
#include "cli/probe_text_option.h"
#include "metrics/metric.h"
#include "reports/json_report.h"
#include "reports/markdown_report.h"
#include "reports/write_reports.h"
#include "suite/runner.h"
#include "suite/schema.h"

namespace moeprobe::cli {
namespace {

struct RunArgs {
  std::string suite, model, out = "out", layers, device = "auto", reference_model, activations;
  bool strict = false;
  int64_t seed = -1;
  CompareModelArgs compare;
  ProbeTextArgs probe_text;
};

}  // namespace

CommandRun setup_run(CLI::App* sub) {
  auto args = std::make_shared<RunArgs>();
  sub->add_option("suite", args->suite, "Suite YAML (schema moeprobe/suite/v1)")->required();
  sub->add_option("--model", args->model, "Model directory (Hugging Face layout)")->required();
  sub->add_option("--out", args->out, "Report directory (created if missing)")
      ->capture_default_str();
  sub->add_option("--layers", args->layers,
                  "Restrict to these MoE layer positions (\"0:4\", \"[0, -1]\")");
  sub->add_option("--device", args->device, "auto, cpu, cuda or reference")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "reference"}))
      ->capture_default_str();
  sub->add_option("--reference-model", args->reference_model,
                  "Dense reference model (the paper's Mistral-7B)");
  sub->add_flag("--strict", args->strict, "Count INCONCLUSIVE as a failure");
  sub->add_option("--seed", args->seed, "Bootstrap seed (overrides the suite's)")
      ->check(CLI::NonNegativeNumber);
  add_activations_option(sub, args->activations);
  add_compare_model_options(sub, args->compare);
  add_probe_text_options(sub, args->probe_text);
  return [args]() {
    const Suite suite = load_suite(args->suite, find_metric);
    RunOptions opt;
    opt.model_dir = args->model;
    opt.reference_model = args->reference_model;
    opt.layers = args->layers;
    opt.device = args->device;
    opt.activations = args->activations;
    apply_compare_model_options(args->compare, opt);
    if (args->seed >= 0) opt.seed = static_cast<uint64_t>(args->seed);
    opt.log = &std::cerr;
    // Removed when the run ends, whatever the outcome.
    const CapturedProbes captured = capture_text_probes(args->probe_text, suite, opt.activations,
                                                        args->model, args->out, opt.log);
    if (!captured.override_file.empty()) {
      opt.activations = captured.override_file;
      opt.activations_captured = true;
    }
    opt.probe_files = captured.by_probe;
    RunResult result = run_suite(suite, opt);
    // The numbers results.json and its tables file keep: every report shows what `moeprobe
    // report` would regenerate from them.
    keep_tables_as_stored(result);
    write_reports(result, args->out, all_report_formats(), {args->suite});
    std::cout << render_markdown(result) << "\nReports in " << args->out << "/\n";
    return run_exit_code(result, args->strict);
  };
}

}  // namespace moeprobe::cli
