// What the forward pass needs to know about a checkpoint beyond its MoE layers: attention shape
// (standard multi-head/GQA or DeepSeek's multi-head latent attention), q/k norms, RoPE and its
// scaling, masks and the LM head, read from config.json and the tensors present. Torch-free, so
// the checks (every option that changes the math is either implemented or rejected with exit 2
// naming the key) run and are tested in builds without LibTorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/moe_model.h"
#include "model/router.h"

namespace moeprobe {

enum class AttentionKind { Standard, Latent };
enum class QkNorm { None, PerHead, Whole };  // Qwen3: RMSNorm per head; OLMoE: over the projection

struct RopeConfig {
  double theta = 10000.0;
  int64_t dim = 0;               // rotated dimensions per head (the first dim; GLM-4.5: partial)
  bool interleaved = false;      // rotate pairs (2i, 2i+1) (DeepSeek MLA) instead of halves
  std::string type = "default";  // default, linear, yarn
  double factor = 1.0;
  // YaRN
  double original_max_positions = 0;
  double beta_fast = 32.0, beta_slow = 1.0;
  double attention_factor = 1.0;  // multiplies cos and sin (YaRN's mscale ratio)
  bool truncate = true;           // floor/ceil the correction range (gpt-oss: truncate false)
};

struct ForwardConfig {
  std::string family, config_path;
  int num_layers = 0;
  int64_t hidden = 0, vocab = 0, max_positions = 0;
  double rms_eps = 1e-6;
  Activation activation = Activation::SiLU;
  AttentionKind attention = AttentionKind::Standard;
  int heads = 0, kv_heads = 0;
  int64_t head_dim = 0;  // standard attention
  // Latent attention (q_lora_rank 0 = a plain q_proj)
  int64_t q_lora_rank = 0, kv_lora_rank = 0, qk_nope_dim = 0, qk_rope_dim = 0, v_head_dim = 0;
  QkNorm qk_norm = QkNorm::None;
  double clip_qkv = 0;  // 0: none (OLMoE clamps q, k, v to ±clip_qkv)
  // Per decoder layer, the sliding window (0: full causal attention): Mixtral's sliding_window
  // applies to every layer, gpt-oss's layer_types alternate sliding and full attention.
  std::vector<int64_t> layer_windows;
  // gpt-oss: one learned logit per head (self_attn.sinks) joins every softmax over the keys and
  // takes its share of the probability mass without contributing a value.
  bool attention_sinks = false;
  double attention_scale = 0;  // softmax scale
  RopeConfig rope;
  bool tie_word_embeddings = false;
  // Grok-1 (hpcai-tech port): embeddings times embedding_multiplier_scale, logits times
  // output_multiplier_scale, attention scores soft-capped as cap * tanh(s / cap) (max_attn_value),
  // and "sandwich" norms: post_attn_norm on the attention output, pre_moe_norm on the MoE input,
  // post_moe_norm on the MoE output.
  double embedding_multiplier = 1.0, output_multiplier = 1.0;
  double attention_logit_cap = 0;  // 0: none
  bool sandwich_norms = false;
  RouterRule router;
};

// Throws InputError naming config.json and the key for a family or option whose math is not
// implemented (rope scaling type, sliding-window layer schedule, activation, ...).
ForwardConfig read_forward_config(const MoeModel& model);

// RoPE inverse frequencies [dim / 2] for the config (default, linear, YaRN).
std::vector<double> rope_inverse_frequencies(const RopeConfig& rope);

}  // namespace moeprobe
