// The run engine: opens the model (header validation only), then streams its MoE layers one at a
// time. For each layer it builds the MoeLayer view and one LayerContext (a fresh cache), measures
// every distinct (metric, params) the suite needs on that layer, so the layer's bytes are read
// once, and drops the layer before the next. Then it judges every hypothesis.
//
// Metrics must not keep references to the LayerContext or MoeLayer in their Resampler: both are
// gone when the bootstrap runs (the model, and so the mmap, stays open until the end).
#pragma once

#include <filesystem>
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
};

RunResult run_suite(const Suite& suite, const RunOptions& options);

}  // namespace moeprobe
