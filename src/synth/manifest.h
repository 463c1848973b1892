// synth.json: what a synthetic model plants and the calibrated parameters, per MoE layer (what
// the tests and `moeprobe run` compare against the recipe's expectations).
#pragma once

#include <filesystem>

#include "synth/expert_generator.h"

namespace moeprobe::synth {

// Writes out_dir/synth.json and appends the layer reports to result.layers.
void write_manifest(const SynthModel& m, const ExpertGenerator& gen,
                    const std::filesystem::path& out_dir, SynthResult& result);

}  // namespace moeprobe::synth
