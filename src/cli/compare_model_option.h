// `run --compare-model BASELINE [--compare-activations FILE]`: router regression against a
// baseline checkpoint (suite/baseline_router.h). Kept apart from run.cpp so the options of other
// branches merge cleanly.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "suite/runner.h"

namespace moeprobe::cli {

struct CompareModelArgs {
  std::string model, activations;
};

inline void add_compare_model_options(CLI::App* run, CompareModelArgs& args) {
  run->add_option("--compare-model", args.model,
                  "Baseline checkpoint for router regression: the routing-comparison metrics "
                  "(routing_top1_agreement, ...) route the same probe through both models");
  run->add_option("--compare-activations", args.activations,
                  "The baseline's own activations of the same probe tokens (default: the "
                  "baseline routes the candidate's MoE inputs)")
      ->needs(run->get_option("--compare-model"));
}

inline void apply_compare_model_options(const CompareModelArgs& args, RunOptions& opt) {
  opt.compare_model = args.model;
  opt.compare_activations = args.activations;
}

}  // namespace moeprobe::cli
