// The run engine: opens the model (header validation only), then plan (suite/plan.h: which
// measurements on which layers, what each layer computes), stream (suite/stream.h: one layer at a
// time, its bytes read once) and judge (suite/judge.h: aggregate, interval, outcome).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "suite/result.h"
#include "suite/schema.h"

namespace moeprobe {

struct RunOptions {
  std::filesystem::path model_dir;
  std::filesystem::path reference_model;  // dense model giving ctx.reference_ffn; empty: none
  std::string layers;                     // --layers: restricts every hypothesis's selection
  std::string device = "auto";            // auto | cpu | cuda | reference
  std::optional<uint64_t> seed;           // overrides the suite's interval seed
  std::ostream* log = nullptr;            // progress and notices (stderr in the CLI)
  // --activations: "synthetic[:TOKENS]" or an activations file; empty: the suite's probe, if any.
  // It overrides every hypothesis's probe.
  std::string activations;
  // Text probes captured before the run (cli/probe_text_option.h): the probe as the suite or a
  // hypothesis writes it (its JSON dump) -> its activations file.
  std::map<std::string, std::filesystem::path> probe_files;
  // True when `activations` is such a temporary capture (--probe-text / --probe-tokens).
  bool activations_captured = false;
  // --compare-model (router regression) and its own activations (empty: route the same inputs).
  std::filesystem::path compare_model, compare_activations;
  std::size_t all_experts_block_bytes = 0;  // scratch per token block of the all-experts pass
};

RunResult run_suite(const Suite& suite, const RunOptions& options);

}  // namespace moeprobe
