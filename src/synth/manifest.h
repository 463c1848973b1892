// synth.json: what was planted and the calibrated parameters, per MoE layer.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "synth/generator.h"
#include "synth/synth_model.h"

namespace moeprobe::synth {

nlohmann::ordered_json synth_manifest(const Model& m, const std::vector<LayerReport>& layers);

}  // namespace moeprobe::synth
