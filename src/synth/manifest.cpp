#include "synth/manifest.h"

#include <nlohmann/json.hpp>

#include "synth/text_file.h"

namespace moeprobe::synth {

using ojson = nlohmann::ordered_json;

void write_manifest(const SynthModel& m, const ExpertGenerator& gen,
                    const std::filesystem::path& out_dir, SynthResult& result) {
  const Recipe& r = m.r;
  const Family& fam = m.fam;
  const ExpertLayout& lay = m.layout;
  const DType dt = r.dtype;
  ojson manifest;
  manifest["recipe"] = r.name;
  manifest["family"] = fam.name;
  manifest["layout"] = lay.name;
  manifest["seed"] = r.seed;
  manifest["dtype"] = dtype_name(dt);
  manifest["rng"] = r.fast_rng ? "fast" : "exact";
  ojson layers = ojson::array();
  for (int pos = 0; pos < m.n_moe; ++pos) {
    const LayerReport rep = gen.reports().at(pos);
    result.layers.push_back(rep);
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
  write_text(out_dir / "synth.json", manifest.dump(2) + "\n");
}

}  // namespace moeprobe::synth
