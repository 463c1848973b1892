// The LibTorch forward pass (see forward.h). The math follows the Hugging Face transformers
// modeling files of each family: RMSNorm, RoPE (halves, or interleaved pairs for DeepSeek MLA),
// GQA/MHA or multi-head latent attention, and the MoE block through model/router.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "forward/forward.h"
#include "forward/forward_config.h"
#include "forward/forward_module_abi.h"
#include "io/quantization.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using torch::Tensor;

// A float32 tensor over a checkpoint tensor: zero-copy for aligned F32 (the mmap is never
// written), converted otherwise.
Tensor to_tensor(const TensorView& v) {
  const std::vector<int64_t> shape(v.shape.begin(), v.shape.end());
  if (v.plain() && v.dtype == DType::F32 &&
      reinterpret_cast<std::uintptr_t>(v.data) % alignof(float) == 0)
    return torch::from_blob(const_cast<unsigned char*>(v.data), shape, torch::kFloat32);
  Tensor t = torch::empty(shape, torch::kFloat32);
  v.read_float(0, v.numel(), t.data_ptr<float>());
  return t;
}

Tensor dense(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b = std::nullopt) {
  Tensor y = torch::matmul(x, w.t());
  return b ? y + *b : y;
}

Tensor rms_norm(const Tensor& x, const Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

Tensor activate(const Tensor& x, Activation a) {
  switch (a) {
    case Activation::SiLU:
      return torch::silu(x);
    case Activation::GELU:
      return torch::gelu(x);
    case Activation::GELUTanh:
      return torch::gelu(x, "tanh");
    case Activation::ClampedSwiGLU:  // glu() below: the gate needs the spec's alpha and limit
      throw std::logic_error("forward: clamped SwiGLU goes through glu()");
  }
  return x;
}

// The product the down projection reads (model/activation.h): act(a) * u, or gpt-oss's
// (clamp(u, -limit, limit) + 1) * g * sigmoid(alpha g) with g = min(a, limit).
Tensor glu(const Tensor& a, const Tensor& u, const ActivationSpec& spec) {
  if (spec.kind != Activation::ClampedSwiGLU) return activate(a, spec.kind) * u;
  const Tensor g = a.clamp_max(spec.limit);
  return (u.clamp(-spec.limit, spec.limit) + 1) * g * torch::sigmoid(g * spec.alpha);
}

std::optional<Tensor> optional_tensor(const std::optional<TensorView>& v) {
  if (!v) return std::nullopt;
  return to_tensor(*v);
}

// E(x) = W_down glu(W_act x + b_act, W_up x + b_up) + b_down (biases where the family has them).
Tensor expert_forward(const ExpertWeights& e, const Tensor& x, const ActivationSpec& spec) {
  return dense(glu(dense(x, to_tensor(e.act), optional_tensor(e.act_bias)),
                   dense(x, to_tensor(e.up), optional_tensor(e.up_bias)), spec),
               to_tensor(e.down), optional_tensor(e.down_bias));
}

Tensor moe_forward(const MoeLayer& layer, const RouterRule& rule, const Tensor& x) {
  const int64_t n = x.size(0);
  const int experts = layer.num_experts();
  if (experts != rule.num_experts)
    throw InputError(layer.router.file, layer.router.name,
                     "router has " + std::to_string(experts) + " experts, the rule expects " +
                         std::to_string(rule.num_experts));
  std::optional<Tensor> router_bias;
  if (layer.router_bias) router_bias = to_tensor(*layer.router_bias);
  const Tensor logits = dense(x, to_tensor(layer.router), router_bias).contiguous();
  std::vector<float> selection_bias;
  if (layer.score_correction_bias) {
    selection_bias.resize(static_cast<std::size_t>(experts));
    layer.score_correction_bias->read_float(0, experts, selection_bias.data());
  }
  std::vector<int> chosen;
  std::vector<float> weights;
  route_tokens<float>(rule, logits.data_ptr<float>(), n,
                      selection_bias.empty() ? nullptr : selection_bias.data(), chosen, weights);

  const int k = rule.convention.top_k;
  std::vector<std::vector<int64_t>> tokens(static_cast<std::size_t>(experts));
  std::vector<std::vector<float>> token_weights(static_cast<std::size_t>(experts));
  for (int64_t t = 0; t < n; ++t)
    for (int i = 0; i < k; ++i) {
      const int e = chosen[static_cast<std::size_t>(t * k + i)];
      tokens[e].push_back(t);
      token_weights[e].push_back(weights[static_cast<std::size_t>(t * k + i)]);
    }
  Tensor out = torch::zeros_like(x);
  // One expert's weights live at a time.
  for (int e = 0; e < experts; ++e) {
    if (tokens[e].empty()) continue;
    const Tensor idx = torch::tensor(tokens[e], torch::kLong);
    const Tensor w = torch::tensor(token_weights[e], torch::kFloat32).unsqueeze(1);
    const Tensor y =
        expert_forward(layer.experts[e], x.index_select(0, idx), layer.activation_spec);
    out.index_add_(0, idx, y * w);
  }
  for (const ExpertWeights& s : layer.shared) {
    Tensor y = expert_forward(s, x, layer.activation_spec);
    if (layer.shared_gate) y = y * torch::sigmoid(dense(x, to_tensor(*layer.shared_gate)));
    out = out + y;
  }
  return out;
}

// cos/sin [positions, dim/2], times YaRN's attention factor.
struct RopeTables {
  Tensor cos, sin;
};

RopeTables rope_tables(const RopeConfig& rope, int64_t positions) {
  const std::vector<double> inv = rope_inverse_frequencies(rope);
  const int64_t half = static_cast<int64_t>(inv.size());
  RopeTables t{torch::empty({positions, half}, torch::kFloat32),
               torch::empty({positions, half}, torch::kFloat32)};
  float* c = t.cos.data_ptr<float>();
  float* s = t.sin.data_ptr<float>();
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * inv[i];
      c[p * half + i] = static_cast<float>(std::cos(a) * rope.attention_factor);
      s[p * half + i] = static_cast<float>(std::sin(a) * rope.attention_factor);
    }
  return t;
}

// x [T, heads, dim] rotated by position; only the tables' first 2 * half dimensions rotate
// (partial rotary, GLM-4.5), the rest pass through.
Tensor apply_rope(const Tensor& x, const RopeTables& tables, bool interleaved) {
  const int64_t tokens = x.size(0), half = tables.cos.size(1), dim = 2 * half;
  if (x.size(2) > dim)
    return torch::cat({apply_rope(x.slice(-1, 0, dim), tables, interleaved), x.slice(-1, dim)}, -1);
  const Tensor c = tables.cos.slice(0, 0, tokens).unsqueeze(1);
  const Tensor s = tables.sin.slice(0, 0, tokens).unsqueeze(1);
  if (interleaved) {
    const Tensor pairs = x.reshape({tokens, x.size(1), half, 2});
    const Tensor a = pairs.select(-1, 0), b = pairs.select(-1, 1);
    return torch::stack({a * c - b * s, a * s + b * c}, -1).reshape(x.sizes());
  }
  const Tensor a = x.slice(-1, 0, half), b = x.slice(-1, half, dim);
  return torch::cat({a * c - b * s, b * c + a * s}, -1);
}

// q [T, H, d], k [T, KV, d], v [T, KV, dv] → [T, H * dv]; causal, optionally sliding-window,
// scores optionally soft-capped (cap * tanh(s / cap), Grok-1) before the mask, and optionally a
// sink logit per head [H] (gpt-oss) in each softmax whose probability is dropped.
Tensor attend(Tensor q, Tensor k, Tensor v, double scale, int64_t window, double cap = 0,
              const std::optional<Tensor>& sinks = std::nullopt) {
  const int64_t tokens = q.size(0), heads = q.size(1);
  q = q.transpose(0, 1);
  k = k.transpose(0, 1);
  v = v.transpose(0, 1);
  if (k.size(0) != heads) {
    k = k.repeat_interleave(heads / k.size(0), 0);
    v = v.repeat_interleave(heads / v.size(0), 0);
  }
  Tensor scores = torch::matmul(q, k.transpose(1, 2)) * scale;
  if (cap > 0) scores = torch::tanh(scores / cap) * cap;
  const Tensor pos = torch::arange(tokens, torch::kLong);
  const Tensor diff = pos.unsqueeze(1) - pos.unsqueeze(0);  // query - key
  Tensor allowed = diff.ge(0);
  if (window > 0) allowed = allowed.logical_and(diff.lt(window));
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  Tensor probs;
  if (sinks) {
    const Tensor sink = sinks->reshape({heads, 1, 1}).expand({heads, tokens, 1});
    probs = torch::softmax(torch::cat({scores, sink}, -1), -1).slice(-1, 0, tokens);
  } else {
    probs = torch::softmax(scores, -1);
  }
  const Tensor out = torch::matmul(probs, v);
  return out.transpose(0, 1).reshape({tokens, -1});
}

// Looks up one decoder layer's non-MoE tensors.
class LayerTensors {
 public:
  LayerTensors(const Checkpoint& ck, const Family& fam, const QuantConfig& quant, int layer)
      : ck_(ck), fam_(fam), quant_(quant), layer_(layer) {}
  int layer() const { return layer_; }
  // Converted once per layer (every sequence reuses it) and released with this object.
  Tensor get(const std::string& pattern) const { return named(expand_pattern(pattern, layer_)); }
  Tensor extra(const std::string& key) const {
    const auto it = fam_.dense.extra.find(key);
    if (it == fam_.dense.extra.end())
      throw InputError(fam_.source.string(), "dense.extra." + key,
                       "the family file names no tensor for it");
    return get(it->second);
  }
  bool has_extra(const std::string& key) const {
    const auto it = fam_.dense.extra.find(key);
    return it != fam_.dense.extra.end() && ck_.has(expand_pattern(it->second, layer_));
  }
  // The bias beside a weight ("...weight" → "...bias"), when the checkpoint has it.
  std::optional<Tensor> bias_of(const std::string& weight_pattern) const {
    std::string name = expand_pattern(weight_pattern, layer_);
    const std::string suffix = ".weight";
    if (name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      return std::nullopt;
    name.replace(name.size() - suffix.size(), suffix.size(), ".bias");
    if (!ck_.has(name)) return std::nullopt;
    return named(name);
  }
  std::string extra_pattern(const std::string& key) const { return fam_.dense.extra.at(key); }

 private:
  Tensor named(const std::string& name) const {
    auto it = cache_.find(name);
    if (it == cache_.end())
      it = cache_.emplace(name, to_tensor(open_weight(ck_, name, quant_))).first;
    return it->second;
  }
  const Checkpoint& ck_;
  const Family& fam_;
  const QuantConfig& quant_;
  int layer_;
  mutable std::map<std::string, Tensor> cache_;
};

Tensor standard_attention(const ForwardConfig& fc, const LayerTensors& w, const DenseTensorNames& n,
                          const RopeTables& rope, const Tensor& x) {
  const int64_t tokens = x.size(0);
  Tensor q = dense(x, w.get(n.q_proj), w.bias_of(n.q_proj));
  Tensor k = dense(x, w.get(n.k_proj), w.bias_of(n.k_proj));
  Tensor v = dense(x, w.get(n.v_proj), w.bias_of(n.v_proj));
  if (fc.qk_norm == QkNorm::Whole) {
    q = rms_norm(q, w.extra("q_norm"), fc.rms_eps);
    k = rms_norm(k, w.extra("k_norm"), fc.rms_eps);
  }
  if (fc.clip_qkv > 0) {
    q = q.clamp(-fc.clip_qkv, fc.clip_qkv);
    k = k.clamp(-fc.clip_qkv, fc.clip_qkv);
    v = v.clamp(-fc.clip_qkv, fc.clip_qkv);
  }
  q = q.reshape({tokens, fc.heads, fc.head_dim});
  k = k.reshape({tokens, fc.kv_heads, fc.head_dim});
  v = v.reshape({tokens, fc.kv_heads, fc.head_dim});
  if (fc.qk_norm == QkNorm::PerHead) {
    q = rms_norm(q, w.extra("q_norm"), fc.rms_eps);
    k = rms_norm(k, w.extra("k_norm"), fc.rms_eps);
  }
  q = apply_rope(q, rope, fc.rope.interleaved);
  k = apply_rope(k, rope, fc.rope.interleaved);
  std::optional<Tensor> sinks;
  if (fc.attention_sinks) sinks = w.extra("sinks").reshape({fc.heads});
  const Tensor o = attend(q, k, v, fc.attention_scale, fc.layer_windows.at(w.layer()),
                          fc.attention_logit_cap, sinks);
  return dense(o, w.get(n.o_proj), w.bias_of(n.o_proj));
}

// DeepSeek-V2/V3 multi-head latent attention. HF builds q_a_layernorm and kv_a_layernorm with
// the RMSNorm default eps, not rms_norm_eps.
constexpr double kLatentNormEps = 1e-6;

Tensor latent_attention(const ForwardConfig& fc, const LayerTensors& w, const DenseTensorNames& n,
                        const RopeTables& rope, const Tensor& x) {
  const int64_t tokens = x.size(0), heads = fc.heads;
  Tensor q;
  if (fc.q_lora_rank > 0) {
    const Tensor qa = dense(x, w.extra("q_a_proj"), w.bias_of(w.extra_pattern("q_a_proj")));
    q = dense(rms_norm(qa, w.extra("q_a_layernorm"), kLatentNormEps), w.extra("q_b_proj"));
  } else {
    q = dense(x, w.get(n.q_proj));
  }
  q = q.reshape({tokens, heads, fc.qk_nope_dim + fc.qk_rope_dim});
  const Tensor q_nope = q.slice(-1, 0, fc.qk_nope_dim);
  Tensor q_pe = q.slice(-1, fc.qk_nope_dim, fc.qk_nope_dim + fc.qk_rope_dim);

  const Tensor ckv =
      dense(x, w.extra("kv_a_proj_with_mqa"), w.bias_of(w.extra_pattern("kv_a_proj_with_mqa")));
  const Tensor latent = ckv.slice(-1, 0, fc.kv_lora_rank);
  Tensor k_pe = ckv.slice(-1, fc.kv_lora_rank, fc.kv_lora_rank + fc.qk_rope_dim)
                    .reshape({tokens, 1, fc.qk_rope_dim});
  const Tensor kv =
      dense(rms_norm(latent, w.extra("kv_a_layernorm"), kLatentNormEps), w.extra("kv_b_proj"))
          .reshape({tokens, heads, fc.qk_nope_dim + fc.v_head_dim});
  const Tensor k_nope = kv.slice(-1, 0, fc.qk_nope_dim);
  const Tensor value = kv.slice(-1, fc.qk_nope_dim, fc.qk_nope_dim + fc.v_head_dim);

  q_pe = apply_rope(q_pe, rope, fc.rope.interleaved);
  k_pe = apply_rope(k_pe, rope, fc.rope.interleaved).expand({tokens, heads, fc.qk_rope_dim});
  const Tensor query = torch::cat({q_nope, q_pe}, -1);
  const Tensor key = torch::cat({k_nope, k_pe}, -1);
  const Tensor o = attend(query, key, value, fc.attention_scale, fc.layer_windows.at(w.layer()));
  return dense(o, w.get(n.o_proj), w.bias_of(n.o_proj));
}

void check_sequences(const ForwardConfig& fc, int64_t vocab, const std::string& embed_name,
                     const std::vector<std::vector<int64_t>>& sequences) {
  if (sequences.empty()) throw InputError("", "tokens", "no sequence given");
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const auto& seq = sequences[s];
    const std::string where = "sequence " + std::to_string(s);
    if (seq.empty()) throw InputError("", "tokens", where + " is empty");
    if (fc.max_positions > 0 && static_cast<int64_t>(seq.size()) > fc.max_positions)
      throw InputError(fc.config_path, "max_position_embeddings",
                       where + " has " + std::to_string(seq.size()) + " tokens, more than " +
                           std::to_string(fc.max_positions));
    for (std::size_t i = 0; i < seq.size(); ++i)
      if (seq[i] < 0 || seq[i] >= vocab)
        throw InputError("", "tokens",
                         where + " position " + std::to_string(i) + ": token id " +
                             std::to_string(seq[i]) + " outside the vocabulary [0, " +
                             std::to_string(vocab) + ") of " + embed_name);
  }
}

}  // namespace

// The module's implementations have names of their own: the executable exports forward.h's
// names (its loader, forward_module.cpp), and those would interpose on same-named ones here.
std::vector<float> torch_run_moe_block(const MoeLayer& layer, const RouterRule& rule,
                                       const float* x, int64_t tokens) {
  torch::NoGradGuard no_grad;
  const Tensor in =
      torch::from_blob(const_cast<float*>(x), {tokens, layer.hidden()}, torch::kFloat32);
  const Tensor out = moe_forward(layer, rule, in).contiguous();
  return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
}

std::vector<SequenceLogits> torch_run_forward(const MoeModel& model,
                                              const std::vector<std::vector<int64_t>>& sequences,
                                              const ForwardOptions& options) {
  torch::NoGradGuard no_grad;
  const ForwardConfig fc = read_forward_config(model);
  const Checkpoint& ck = model.checkpoint();
  const Family& fam = model.family();
  const DenseTensorNames& names = fam.dense;
  const QuantConfig& quant = model.quantization();
  const TensorView embed = open_weight(ck, names.embed, quant);
  if (embed.rank() != 2 || embed.dim(1) != fc.hidden)
    throw InputError(
        embed.file, embed.name,
        "expected [vocab, " + std::to_string(fc.hidden) + "], got " + embed.shape_string());
  check_sequences(fc, embed.dim(0), embed.name, sequences);

  // The embedding, gathered by row.
  std::vector<Tensor> hidden;
  int64_t longest = 0;
  for (const auto& seq : sequences) {
    const int64_t tokens = static_cast<int64_t>(seq.size());
    longest = std::max(longest, tokens);
    Tensor h = torch::empty({tokens, fc.hidden}, torch::kFloat32);
    for (int64_t i = 0; i < tokens; ++i)
      embed.read_float(seq[i] * fc.hidden, fc.hidden, h.data_ptr<float>() + i * fc.hidden);
    if (fc.embedding_multiplier != 1.0) h = h * fc.embedding_multiplier;
    hidden.push_back(h);
  }
  const RopeTables rope = rope_tables(fc.rope, longest);
  const std::vector<int>& moe_layers = model.config().moe_layers;

  for (int l = 0; l < fc.num_layers; ++l) {
    const LayerTensors w(ck, fam, quant, l);
    const Tensor input_norm = w.get(names.input_norm);
    const Tensor post_norm = w.get(names.post_attention_norm);
    // Sandwich norms (Grok-1): post_attention_norm normalises the attention output and
    // pre_moe_norm the FFN input; otherwise post_attention_norm is the FFN input's norm.
    const Tensor ffn_norm = fc.sandwich_norms ? w.extra("pre_moe_norm") : post_norm;
    std::vector<Tensor> ffn_in;
    for (Tensor& h : hidden) {
      const Tensor x = rms_norm(h, input_norm, fc.rms_eps);
      Tensor att =
          (fc.attention == AttentionKind::Latent ? latent_attention(fc, w, names, rope, x)
                                                 : standard_attention(fc, w, names, rope, x));
      if (fc.sandwich_norms) att = rms_norm(att, post_norm, fc.rms_eps);
      h = h + att;
      ffn_in.push_back(rms_norm(h, ffn_norm, fc.rms_eps));
    }
    const bool is_moe = std::find(moe_layers.begin(), moe_layers.end(), l) != moe_layers.end();
    if (is_moe && options.on_moe_input)
      for (std::size_t s = 0; s < ffn_in.size(); ++s) {
        const Tensor m = ffn_in[s].contiguous();
        options.on_moe_input(l, s, m.data_ptr<float>(), m.size(0), m.size(1));
      }
    // The FFN is per token: all sequences' tokens go through it together, so each expert's
    // weights are converted once per layer.
    const Tensor all = torch::cat(ffn_in, 0);
    Tensor out = is_moe ? moe_forward(model.layer(l), fc.router, all)
                        : expert_forward(model.dense_ffn(l), all, model.activation());
    if (fc.sandwich_norms) out = rms_norm(out, w.extra("post_moe_norm"), fc.rms_eps);
    int64_t row = 0;
    for (Tensor& h : hidden) {
      h = h + out.slice(0, row, row + h.size(0));
      row += h.size(0);
    }
    if (options.on_layer_done) options.on_layer_done(l);
  }

  std::vector<SequenceLogits> result;
  if (!options.logits) return result;
  const Tensor final_norm = to_tensor(ck.tensor(names.final_norm));
  const std::string head_name =
      has_weight(ck, names.lm_head) || !fc.tie_word_embeddings ? names.lm_head : names.embed;
  const TensorView head = open_weight(ck, head_name, quant);
  if (head.rank() != 2 || head.dim(1) != fc.hidden)
    throw InputError(
        head.file, head.name,
        "expected [vocab, " + std::to_string(fc.hidden) + "], got " + head.shape_string());
  const int64_t vocab = head.dim(0);
  std::vector<Tensor> normed;
  for (const Tensor& h : hidden) normed.push_back(rms_norm(h, final_norm, fc.rms_eps));
  std::vector<Tensor> logits;
  for (const Tensor& h : hidden)
    logits.push_back(torch::empty({h.size(0), vocab}, torch::kFloat32));
  // The LM head in row blocks, so a large vocabulary is never converted whole.
  const int64_t block = 8192;
  for (int64_t r0 = 0; r0 < vocab; r0 += block) {
    const int64_t r1 = std::min(vocab, r0 + block);
    const Tensor wblock = to_tensor(head.slice0(r0, r1));
    for (std::size_t s = 0; s < normed.size(); ++s)
      logits[s].slice(1, r0, r1).copy_(fc.output_multiplier != 1.0
                                           ? dense(normed[s], wblock) * fc.output_multiplier
                                           : dense(normed[s], wblock));
  }
  for (const Tensor& t : logits) {
    SequenceLogits sl;
    sl.tokens = t.size(0);
    sl.vocab = vocab;
    sl.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    result.push_back(std::move(sl));
  }
  return result;
}

}  // namespace moeprobe

extern "C" const moeprobe::ForwardModuleApi* moeprobe_forward_module_api() {
  static const moeprobe::ForwardModuleApi api{
      moeprobe::kForwardModuleAbiVersion, sizeof(moeprobe::MoeModel),
      sizeof(moeprobe::ForwardOptions),   sizeof(moeprobe::MoeLayer),
      &moeprobe::torch_run_forward,       &moeprobe::torch_run_moe_block};
  return &api;
}
