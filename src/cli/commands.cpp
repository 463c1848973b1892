// The subcommand registry: every subcommand once, with its one-line description, in --help order.
#include "cli/command.h"

namespace moeprobe::cli {

const std::vector<Command>& command_registry() {
  static const std::vector<Command> table = {
      {"inspect",
       "Show how moeprobe reads a checkpoint: family, layout, MoE layers, experts, routing",
       setup_inspect},
      {"run", "Judge a suite's hypotheses on a checkpoint and write reports", setup_run},
      {"forward",
       "Run the LibTorch forward pass on token ids and print the logits of every position",
       setup_forward},
      {"capture", "Run a probe through the forward pass and write every MoE layer's input",
       setup_capture},
      {"synth", "Write a synthetic MoE checkpoint with planted findings", setup_synth},
      {"tokenize", "Print the token ids of a text (tokenizer.json or tokenizer.model)",
       setup_tokenize},
      {"compare", "Metric drift between two runs' results.json", setup_compare},
      {"report", "Regenerate reports from a results.json", setup_report},
      {"list", "List the bundled metrics, families, suites or recipes", setup_list},
      {"perf-gate", "Benchmark regressions between two Google Benchmark JSON files",
       setup_perf_gate},
  };
  return table;
}

}  // namespace moeprobe::cli
