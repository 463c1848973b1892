// A synthesis recipe (fixtures/recipes/*.yaml): the model family and shapes of a synthetic MoE
// checkpoint and the findings to plant in it, each with a strength and an optional per-layer
// profile. fixtures/recipes/README.md documents every key, the metric that sees each planted
// finding and the value its strength should give.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace moeprobe::synth {

// A per-layer value: a constant, an explicit list (one value per MoE layer), or a linear ramp from
// `first` to `last` over all MoE layers but the last, which takes `rebound` (default: `last`).
struct Profile {
  double strength = 0.0;
  std::vector<double> values;  // explicit list, when given
  std::optional<double> first, last, rebound;
  // Value at MoE-layer position p of n (0-based).
  double at(int p, int n) const;
};

struct ModelShape {
  int num_layers = 4;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;  // routed expert width
  int num_experts = 8;
  int top_k = 2;
  int num_shared_experts = -1;           // -1: the family's default
  int64_t shared_intermediate_size = 0;  // 0: num_shared_experts * intermediate_size
  int64_t dense_intermediate_size = 0;   // dense FFN layers; 0: 4 * hidden_size
  int first_k_dense_replace = 0;
  int64_t vocab_size = 260;
  int num_attention_heads = 4;
  int num_key_value_heads = 0;  // 0: num_attention_heads
  double router_scale = 1.0;    // router rows have norm ~ router_scale
  // o_proj and every FFN's down projection (experts, shared, dense, reference) x this: with a
  // small value each MoE input of a forward pass is ~ RMSNorm(token embedding), the N(0, I)-like
  // input the dynamic plants are calibrated for, on text as on the synthetic probe.
  double residual_scale = 1.0;
};

struct Plants {
  // A1: experts = sqrt(c) W_F + sqrt(1 - c) noise; absent = scratch (independent) experts.
  std::optional<Profile> upcycling;
  // Heterogeneity of the experts' drift: expert e's shared-base weight is proportional to
  // 1 + spread * u_e (u_e evenly spaced in [-1, 1], shuffled per layer), so pair similarities
  // vary around c with a pattern shared by act, up and down. 0: every pair at c.
  double upcycling_spread = 0.0;
  // A second shared direction G with zero-mean coefficients t_e = sqrt(axis) * u_e * wn (u_e
  // evenly spaced in [-1, 1], shuffled per layer): pair similarities move by t_a t_b, and G is
  // one clean axis of the expert PCA (what makes PCA outliers mean something). 0: none.
  double upcycling_axis = 0.0;
  bool write_reference = false;
  std::string reference_dir = "reference";
  std::string reference_family = "mistral";  // family file the dense reference is written in
  // A2: fraction of neurons left in place (1 = order preserved, 0 = fully permuted per expert).
  std::optional<Profile> neuron_order;
  // A3: planted mean act neuron; strength = mean pairwise cosine of the experts' mean neurons.
  std::optional<Profile> mean_neuron;
  double mean_neuron_energy = 0.02;  // |mu|^2 as a fraction of an act row's energy
  int mean_neuron_rank = 3;
  // A4: per-layer target R^2 between router-row cosines and act mean-neuron cosines.
  std::optional<Profile> router_association;
  // A9/A10: P(argmax router score = argmax expert output norm) on x ~ N(0, I).
  std::optional<Profile> norm_routing;
  // A9: scale of expert outputs per layer (norms growing with depth).
  std::optional<Profile> output_scale;
  // A11: fraction of |act(W_act x)| > 1e-3 on x ~ N(0, I).
  std::optional<Profile> activation_ratio;
  // A1/A5: experts made independent of the shared base (dark crosses) in the given layers.
  std::vector<int> dark_cross_experts;
  std::vector<int> dark_cross_layers;  // MoE-layer positions; empty with experts set = all
  // A12: a hub expert whose router row is `strength` times longer (uneven routing).
  std::optional<int> router_hub_expert;
  double router_hub_strength = 1.0;
};

// Quantised expert weights (recipe key `quantization`): FP8 E4M3 codes with one F32
// weight_scale_inv per block (DeepSeek-V3 style), or MXFP4 blocks/scales (gpt-oss style, fused
// layouts). `twin`, when set, is a directory (relative to the output) that receives the same
// model with the exact dequantised values as F32 and no quantization_config.
struct Quantization {
  std::string scheme;  // "" (none), "fp8", "mxfp4"
  int64_t block_rows = 128, block_cols = 128;
  std::string twin;
};

struct Recipe {
  std::filesystem::path path;  // for error messages
  std::string name, description;
  std::string family;
  std::string layout;  // "classic", "fused" or "" (family default)
  DType dtype = DType::BF16;
  uint64_t seed = 0;
  bool fast_rng = false;
  uint64_t shard_bytes = 2ull << 30;
  ModelShape shape;
  Quantization quant;
  Plants plant;
  std::map<std::string, std::string> expect;  // hypothesis id -> PASS | FAIL
};

struct RecipeOverrides {
  std::optional<uint64_t> seed;
  std::optional<DType> dtype;
  std::optional<int> num_layers;
};

// Parses and validates; throws InputError(recipe file, key [line N], what was expected).
Recipe load_recipe(const std::filesystem::path& path, const RecipeOverrides& overrides = {});
Recipe parse_recipe(const std::string& yaml_text, const std::filesystem::path& path_for_errors,
                    const RecipeOverrides& overrides = {});

// Family-dependent checks (shared experts on a family without them, layout names), done by the
// generator once the family file is loaded. Throws InputError naming the recipe and key.
std::optional<DType> parse_synth_dtype(const std::string& s);  // bf16 | f16 | f32

}  // namespace moeprobe::synth
