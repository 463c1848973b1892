// moeprobe run SUITE.yaml --model DIR: judges a suite's hypotheses on a checkpoint and writes
// results.json, junit.xml, summary.md and report.html into --out.
#include <iostream>
#include <memory>

#include "cli/activations_option.h"
#include "cli/command.h"
#include "cli/compare_model_option.h"
#include "metrics/metric.h"
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
};

CommandRegistrar registrar(20, [](CLI::App& app) -> CommandRun {
  auto args = std::make_shared<RunArgs>();
  auto* sub =
      app.add_subcommand("run", "Judge a suite's hypotheses on a checkpoint and write reports");
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
    const RunResult result = run_suite(suite, opt);
    write_reports(result, args->out, {"json", "junit", "md", "html"});
    std::cout << render_markdown(result) << "\nReports in " << args->out << "/\n";
    return run_exit_code(result, args->strict);
  };
});

}  // namespace
}  // namespace moeprobe::cli
