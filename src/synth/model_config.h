// config.json of a synthetic model: each canonical size under the family's first config key for
// it. A size the family has no key for must equal the family's default (the checkpoint could not
// say otherwise), else InputError naming the recipe.
#pragma once

#include <nlohmann/json.hpp>

#include "synth/synth_model.h"

namespace moeprobe::synth {

// reference: the dense reference model's config (family f = m.ref_fam, no expert sizes).
nlohmann::ordered_json model_config(const Model& m, const Family& f, bool reference);

}  // namespace moeprobe::synth
