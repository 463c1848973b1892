#include "synth/manifest.h"

namespace moeprobe::synth {

nlohmann::ordered_json synth_manifest(const Model& m, const std::vector<LayerReport>& reports) {
  using ojson = nlohmann::ordered_json;
  const Recipe& r = m.r;
  ojson manifest;
  manifest["recipe"] = r.name;
  manifest["family"] = m.fam.name;
  manifest["layout"] = m.layout.name;
  manifest["seed"] = r.seed;
  manifest["dtype"] = dtype_name(r.dtype);
  manifest["rng"] = r.fast_rng ? "fast" : "exact";
  ojson layers = ojson::array();
  for (const LayerReport& rep : reports) {
    ojson jl = {{"layer", rep.layer},
                {"similarity", rep.similarity},
                {"keep_order", rep.keep_order},
                {"output_scale", rep.output_scale}};
    if (!rep.dark_experts.empty()) jl["dark_experts"] = rep.dark_experts;
    if (!rep.base_weight.empty()) jl["base_weight"] = rep.base_weight;
    if (rep.mean_neuron > 0) jl["mean_neuron"] = rep.mean_neuron;
    if (rep.router_r2_target >= 0)
      jl["router_r2"] = {{"target", rep.router_r2_target},
                         {"planted", rep.router_r2},
                         {"alpha", rep.router_alpha}};
    if (rep.norm_target >= 0)
      jl["norm_routing"] = {{"target", rep.norm_target},
                            {"calibrated", rep.norm_achieved},
                            {"amplitude", rep.norm_amplitude}};
    if (rep.activation_ratio_target >= 0)
      jl["activation_ratio"] = {{"target", rep.activation_ratio_target},
                                {"dead_fraction", rep.dead_fraction}};
    layers.push_back(jl);
  }
  manifest["layers"] = layers;
  if (!r.expect.empty()) manifest["expect"] = r.expect;
  return manifest;
}

}  // namespace moeprobe::synth
