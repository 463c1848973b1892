// config.json of a synthetic model (and of its dense reference and dequantised twin).
#pragma once

#include <nlohmann/json.hpp>

#include "synth/synth_model.h"

namespace moeprobe::synth {

// Each canonical size under the family's first config key for it; a size the family has no key
// for must equal the family's default (InputError otherwise: the checkpoint could not say it).
// reference: the dense reference model's config in family f (no MoE keys).
nlohmann::ordered_json model_config(const SynthModel& m, const Family& f, bool reference);

// The recipe's quantization_config (FP8 blocks, MXFP4) added to a config; unchanged without one.
nlohmann::ordered_json with_quantization(nlohmann::ordered_json config, const Quantization& q);

}  // namespace moeprobe::synth
