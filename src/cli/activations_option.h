// `run --activations FILE|synthetic[:TOKENS]`: the probe the dynamic metrics run on (see
// probe/probe_source.h). Kept apart from run.cpp so the options of other branches merge cleanly.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace moeprobe::cli {

inline void add_activations_option(CLI::App* run, std::string& activations) {
  run->add_option(
      "--activations", activations,
      "Probe activations for the dynamic metrics: an activations file "
      "(layers.{L}.moe_input), or 'synthetic[:TOKENS]' for x ~ N(0, I) through each "
      "layer's norm weight (not text; default 512 tokens). Overrides the suite's probe");
}

}  // namespace moeprobe::cli
