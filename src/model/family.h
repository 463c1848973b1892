// A model family (mixtral, qwen2_moe, deepseek_v3, ...) as data, loaded from
// configs/families/<name>.yaml. It says how to recognise the family from config.json, which
// config keys hold the sizes, which layers are MoE, the tensor-name patterns of router, experts
// (per-expert or fused) and shared experts, the activation and the routing convention. Adding a
// family is a YAML file, not code.
//
// Tensor-name patterns use {L} for the decoder layer index and {E} for the expert index, e.g.
//   model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe {

// ClampedSwiGLU is gpt-oss's expert activation: with g = min(W_act x, limit) and
// u = clamp(W_up x, -limit, limit), the product is (u + 1) * g * sigmoid(alpha * g), alpha = 1.702
// (model/activation.h evaluates every kind).
enum class Activation { SiLU, GELU, GELUTanh, ClampedSwiGLU };
const char* activation_name(Activation a);

enum class Scoring { Softmax, Sigmoid };

// How a router turns logits z = W_g x into selected experts and their weights.
struct RoutingConvention {
  Scoring scoring = Scoring::Softmax;
  // true: probabilities over all experts, then top-k (DeepSeek, Qwen, OLMoE, Grok);
  // false: top-k on the logits, then softmax over the k selected (Mixtral). Same selection.
  bool softmax_before_topk = true;
  bool renormalize = false;     // divide the k selected weights by their sum
  bool selection_bias = false;  // e_score_correction_bias added for selection only (V3)
  int n_group = 1;              // group-limited top-k (V3): experts split into n_group groups,
  int topk_group = 1;           //   the best topk_group groups are eligible
  double routed_scaling_factor = 1.0;
  int top_k = 0;
  // false: the weight scales the expert's output (every family but Llama-4); true: it scales the
  // expert's input, E(w x) (Llama-4's top-1 sigmoid router), so expert output norms and router
  // scores are no longer independent quantities.
  bool weight_on_input = false;
};

// Some of the routing fields, as a family file's `routing` section or one entry of its
// `topk_method` map states them; apply() overrides exactly the fields given.
struct RoutingPatch {
  std::optional<Scoring> scoring;
  std::optional<bool> softmax_before_topk, renormalize, selection_bias;
  std::optional<int> n_group, topk_group;
  std::optional<double> routed_scaling_factor;
  std::optional<bool> weight_on_input;
  void apply(RoutingConvention& r) const;
};

// Which decoder layers are MoE, as data (the family's `moe_layers` section). Each field names a
// canonical config size (read through config_keys / config_defaults); an empty field, or a
// value absent from config.json and the defaults, is no condition. Layer L is MoE when
// L >= first, (L + period_offset) % period == 0 and L is not in except.
struct MoeLayerRule {
  std::string first;   // e.g. first_k_dense_replace (DeepSeek)
  std::string period;  // e.g. moe_layer_freq (DeepSeek), decoder_sparse_step (Qwen, offset 1)
  int period_offset = 0;
  std::string except;  // e.g. mlp_only_layers (Qwen): a list of dense layer indices
};

// One way a family's MoE tensors can be named on disk. A family may have several (Mixtral: the
// classic per-expert names, DiscoResearch's mlp.* names, transformers >= 5 fused tensors); the
// first layout whose router tensor exists in the checkpoint is used.
struct ExpertLayout {
  std::string name;
  std::string router;                 // [E, H]
  std::string router_bias;            // optional [E]
  std::string score_correction_bias;  // optional [E] (DeepSeek-V3 selection bias)
  // Per-expert tensors (empty when fused): W_act [I, H], W_up [I, H], W_down [H, I].
  std::string expert_act, expert_up, expert_down;
  // Fused tensors (empty when per-expert): gate_up [E, 2I, H] with act rows first, down [E, H, I].
  std::string fused_gate_up, fused_down;
  bool fused() const { return !fused_gate_up.empty(); }
  // Stored transposed, [E, H, 2I] and [E, I, H] (Llama-4; gpt-oss's dequantised form). MXFP4
  // blocks are always [E, out, in/32, 16], whatever this says.
  bool fused_transposed = false;
  // Act and up interleaved (gpt-oss): act = gate_up rows 0, 2, 4, ..., up = rows 1, 3, 5, ...
  bool gate_up_interleaved = false;
  // Optional expert biases (gpt-oss): [E, 2I] ordered like gate_up's rows, [E, H].
  std::string fused_gate_up_bias, fused_down_bias;
  // Shared experts (optional). Either one fused block (count from config) with act/up/down, or
  // per-shared-expert patterns using {E}.
  std::string shared_act, shared_up, shared_down;
  std::string shared_gate;  // optional [1, H] sigmoid gate on the shared expert (Qwen2-MoE)
};

// Non-MoE tensors a full model has (for the forward pass and for synthetic checkpoints).
struct DenseTensorNames {
  std::string embed, lm_head, final_norm;       // global
  std::string input_norm, post_attention_norm;  // per layer ({L})
  std::string q_proj, k_proj, v_proj, o_proj;   // per layer ({L})
  std::string dense_act, dense_up, dense_down;  // dense FFN layers ({L})
  std::map<std::string, std::string> extra;     // family-specific (MLA, pre/post MoE norms)
};

struct Family {
  std::string name;  // file stem: "mixtral"
  std::string description;
  std::filesystem::path source;  // the YAML it came from
  // Detection: config.json model_type in model_types, or any of architectures listed.
  std::vector<std::string> model_types;
  std::vector<std::string> architectures;
  // config.json key for each canonical size; the first key present wins.
  // Canonical names: num_layers, hidden_size, expert_intermediate_size, num_experts, top_k,
  // num_shared_experts, shared_intermediate_size, first_k_dense_replace, moe_layer_freq,
  // decoder_sparse_step, mlp_only_layers, norm_topk_prob, n_group, topk_group,
  // routed_scaling_factor, scoring_func, topk_method, vocab_size, num_attention_heads,
  // num_key_value_heads, head_dim, rms_norm_eps, rope_theta, intermediate_size (dense FFN).
  std::map<std::string, std::vector<std::string>> config_keys;
  std::map<std::string, nlohmann::json> config_defaults;  // used when no key is present
  Activation activation = Activation::SiLU;
  RoutingConvention routing;  // defaults; config keys (norm_topk_prob, n_group, ...) override
  MoeLayerRule moe_layers;
  // Values of the canonical topk_method and the routing each implies (DeepSeek: greedy,
  // group_limited_greedy, noaux_tc); applied after the config's own routing keys.
  std::map<std::string, RoutingPatch> topk_methods;
  std::vector<ExpertLayout> layouts;
  DenseTensorNames dense;
};

// Loads and validates one family file; throws InputError naming the file and key.
Family load_family(const std::filesystem::path& yaml_path);
// All families in a directory (configs/families by default), sorted by name.
std::vector<Family> load_families(const std::filesystem::path& dir);
// The directory of bundled family files: $MOEPROBE_FAMILIES, else data_dir()/families
// (util/data_dir.h).
std::filesystem::path default_families_dir();
// The family whose model_types/architectures match config.json; throws InputError listing the
// known families when none does. `forced` (from --family) skips detection.
const Family& detect_family(const std::vector<Family>& families, const nlohmann::json& config,
                            const std::string& config_path, const std::string& forced = "");

// Substitutes {L} and {E} in a tensor-name pattern.
std::string expand_pattern(const std::string& pattern, int layer, int expert = -1);
// Whether a pattern has one tensor per expert ({E}), e.g. per-shared-expert blocks.
inline bool has_expert_index(const std::string& pattern) {
  return pattern.find("{E}") != std::string::npos;
}

}  // namespace moeprobe
