#include "forward/forward_config.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {
namespace {

using nlohmann::json;

class ForwardKeys {
 public:
  ForwardKeys(const json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  bool present(const std::string& key) const {
    return j_.is_object() && j_.contains(key) && !j_[key].is_null();
  }
  double number(const std::string& key, double fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_number())
      throw InputError(path_, key, "expected a number, got " + json_excerpt(j_[key]));
    return j_[key].get<double>();
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_number_integer())
      throw InputError(path_, key, "expected an integer, got " + json_excerpt(j_[key]));
    return j_[key].get<int64_t>();
  }
  int64_t required_int(const std::string& key) const {
    if (!present(key)) throw InputError(path_, key, "missing (the forward pass needs it)");
    return integer(key, 0);
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_boolean())
      throw InputError(path_, key, "expected true or false, got " + json_excerpt(j_[key]));
    return j_[key].get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_string())
      throw InputError(path_, key, "expected a string, got " + json_excerpt(j_[key]));
    return j_[key].get<std::string>();
  }
  const json& raw(const std::string& key) const { return j_[key]; }

 private:
  const json& j_;
  std::string path_;
};

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// rope_scaling (transformers < 5) or rope_parameters (>= 5; it may also carry rope_theta).
void read_rope_scaling(const ForwardKeys& r, ForwardConfig& fc, double& mscale_all_dim) {
  std::string key;
  for (const char* k : {"rope_parameters", "rope_scaling"})
    if (r.present(k)) {
      key = k;
      break;
    }
  mscale_all_dim = 0;
  if (key.empty()) return;
  const json& rs = r.raw(key);
  if (!rs.is_object())
    throw InputError(r.path(), key, "expected an object, got " + json_excerpt(rs));
  const ForwardKeys s(rs, r.path());
  if (s.present("rope_theta")) fc.rope.theta = s.number("rope_theta", fc.rope.theta);
  std::string type = s.string("rope_type", s.string("type", "default"));
  RopeConfig& rope = fc.rope;
  rope.type = type;
  if (type == "default") return;
  if (type == "linear") {
    rope.factor = s.number("factor", 1.0);
    return;
  }
  if (type != "yarn")
    throw InputError(
        r.path(), key + ".rope_type",
        "rope scaling \"" + type + "\" is not implemented (default, linear, yarn are)");
  rope.factor = s.number("factor", 1.0);
  rope.original_max_positions =
      s.number("original_max_position_embeddings", static_cast<double>(fc.max_positions));
  rope.beta_fast = s.number("beta_fast", 32.0);
  rope.beta_slow = s.number("beta_slow", 1.0);
  const double mscale = s.number("mscale", 0.0);
  mscale_all_dim = s.number("mscale_all_dim", 0.0);
  if (s.present("attention_factor"))
    rope.attention_factor = s.number("attention_factor", 1.0);
  else if (mscale != 0 && mscale_all_dim != 0)
    rope.attention_factor =
        yarn_mscale(rope.factor, mscale) / yarn_mscale(rope.factor, mscale_all_dim);
  else
    rope.attention_factor = yarn_mscale(rope.factor, 1.0);
  rope.truncate = s.boolean("truncate", true);
}

// GLM-4.5 rotates the first partial_rotary_factor of each head (HF's default 0.5 for glm4_moe);
// the other families' modeling files rotate whole heads, so the key is refused for them.
int64_t rotary_dims(const ForwardKeys& r, const std::string& family, int64_t head_dim) {
  const bool partial = family == "glm4_moe";
  double factor = partial ? 0.5 : 1.0;
  std::string key = "partial_rotary_factor";
  factor = r.number(key, factor);
  for (const char* k : {"rope_parameters", "rope_scaling"})
    if (r.present(k) && r.raw(k).is_object() && r.raw(k).contains(key)) {
      factor = ForwardKeys(r.raw(k), r.path()).number(key, factor);
      key = std::string(k) + "." + key;
    }
  if (!partial && factor != 1.0)
    throw InputError(r.path(), key,
                     "partial rotary is implemented for glm4_moe only (family " + family + ")");
  const auto dims = static_cast<int64_t>(static_cast<double>(head_dim) * factor);
  if (!(factor > 0 && factor <= 1) || dims < 2 || dims % 2 != 0)
    throw InputError(r.path(), key,
                     "expected a factor in (0, 1] giving an even number of rotated dimensions of "
                     "head_dim " +
                         std::to_string(head_dim) + ", got " + std::to_string(factor));
  return dims;
}

// Sliding windows per layer. Qwen's use_sliding_window switches on a per-layer schedule
// (max_window_layers) that is not implemented; layer_types (gpt-oss, transformers >= 4.56) names
// each layer's attention; otherwise Mixtral's sliding_window applies to every layer. gpt-oss
// without layer_types alternates like HF's GptOssConfig: sliding on even layers.
std::vector<int64_t> layer_windows(const ForwardKeys& r, const std::string& family, int layers) {
  std::vector<int64_t> windows(static_cast<std::size_t>(layers), 0);
  const bool gpt_oss = family == "gpt_oss";
  if (r.present("use_sliding_window") && r.boolean("use_sliding_window", false))
    throw InputError(r.path(), "use_sliding_window",
                     "the per-layer sliding-window schedule is not implemented");
  auto window = [&]() {
    const int64_t w = r.integer("sliding_window", gpt_oss ? 128 : 0);
    if (w <= 0)
      throw InputError(r.path(), "sliding_window",
                       "expected a positive window for the sliding_attention layers");
    return w;
  };
  if (r.present("layer_types")) {
    const json& types = r.raw("layer_types");
    if (!types.is_array() || types.size() != static_cast<std::size_t>(layers))
      throw InputError(r.path(), "layer_types",
                       "expected one entry per decoder layer (" + std::to_string(layers) +
                           "), got " + json_excerpt(types));
    for (int l = 0; l < layers; ++l) {
      const json& t = types[static_cast<std::size_t>(l)];
      if (t == "sliding_attention")
        windows[static_cast<std::size_t>(l)] = window();
      else if (t != "full_attention")
        throw InputError(
            r.path(), "layer_types[" + std::to_string(l) + "]",
            "expected \"sliding_attention\" or \"full_attention\", got " + json_excerpt(t));
    }
  } else if (gpt_oss) {
    for (int l = 0; l < layers; l += 2) windows[static_cast<std::size_t>(l)] = window();
  } else if (!r.present("use_sliding_window")) {
    std::fill(windows.begin(), windows.end(), r.integer("sliding_window", 0));
  }
  return windows;
}

}  // namespace

ForwardConfig read_forward_config(const MoeModel& model) {
  const Checkpoint& ck = model.checkpoint();
  const Family& fam = model.family();
  const ModelConfig& mc = model.config();
  const ForwardKeys r(ck.config(), ck.config_path().string());
  ForwardConfig fc;
  fc.family = fam.name;
  fc.config_path = r.path();
  if (fam.name == "llama4")
    throw InputError(r.path(), "model_type",
                     "the forward pass of family llama4 (chunked attention with NoPE layers, "
                     "L2-normed q/k, temperature tuning, input-scaled routing) is not implemented");
  fc.num_layers = mc.num_layers;
  fc.hidden = mc.hidden_size;
  fc.vocab = r.required_int("vocab_size");
  fc.max_positions = r.integer("max_position_embeddings", 0);
  fc.rms_eps = r.number("rms_norm_eps", 1e-6);
  fc.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  fc.activation = fam.activation;
  const bool grok = fam.name == "grok1";
  const std::string act = r.string("hidden_act", grok ? "gelu" : "silu");
  // Grok's experts are GELU (the family file says so); every other family here is SiLU.
  if (grok ? act != "gelu" : act != "silu" && act != "swish")
    throw InputError(r.path(), "hidden_act",
                     "\"" + act + "\" is not implemented (" + (grok ? "gelu" : "silu") +
                         " is, for this family)");
  if (r.boolean("mlp_bias", false))
    throw InputError(r.path(), "mlp_bias", "MLP biases are not implemented");
  fc.heads = static_cast<int>(r.required_int("num_attention_heads"));
  fc.kv_heads = static_cast<int>(r.integer("num_key_value_heads", fc.heads));
  if (fc.heads <= 0 || fc.kv_heads <= 0 || fc.heads % fc.kv_heads != 0)
    throw InputError(r.path(), "num_key_value_heads",
                     "expected a positive divisor of num_attention_heads");

  fc.rope.theta = r.number("rope_theta", 10000.0);
  double mscale_all_dim = 0;
  read_rope_scaling(r, fc, mscale_all_dim);

  const auto extra = fam.dense.extra.find("kv_a_proj_with_mqa");
  if (extra != fam.dense.extra.end() && r.present("kv_lora_rank")) {
    fc.attention = AttentionKind::Latent;
    fc.q_lora_rank = r.integer("q_lora_rank", 0);
    fc.kv_lora_rank = r.required_int("kv_lora_rank");
    fc.qk_nope_dim = r.required_int("qk_nope_head_dim");
    fc.qk_rope_dim = r.required_int("qk_rope_head_dim");
    fc.v_head_dim = r.required_int("v_head_dim");
    fc.rope.dim = fc.qk_rope_dim;
    // HF's DeepSeek-V3 config may say rope_interleave: false (rotate halves instead of pairs).
    fc.rope.interleaved = r.boolean("rope_interleave", true);
    // DeepSeek's softmax scale carries YaRN's mscale squared (mscale_all_dim).
    double scale = 1.0 / std::sqrt(static_cast<double>(fc.qk_nope_dim + fc.qk_rope_dim));
    if (fc.rope.type == "yarn" && mscale_all_dim != 0) {
      const double m = yarn_mscale(fc.rope.factor, mscale_all_dim);
      scale *= m * m;
    }
    fc.attention_scale = scale;
  } else {
    fc.head_dim = r.integer("head_dim", 0);
    if (fc.head_dim <= 0) fc.head_dim = fc.hidden / fc.heads;
    fc.rope.dim = fc.head_dim;
    fc.attention_scale = 1.0 / std::sqrt(static_cast<double>(fc.head_dim));
  }
  if (grok) {
    // hpcai-tech's Grok1Config: every multiplier defaults to 1 (the checkpoint's config.json
    // sets 78.38..., 0.577..., 30 and 0.0883... = 1/sqrt(128)).
    fc.embedding_multiplier = r.number("embedding_multiplier_scale", 1.0);
    fc.output_multiplier = r.number("output_multiplier_scale", 1.0);
    fc.attention_scale = r.number("attn_output_multiplier", 1.0);
    fc.attention_logit_cap = r.number("max_attn_value", 1.0);
    if (fc.attention_logit_cap <= 0)
      throw InputError(r.path(), "max_attn_value", "expected a positive soft cap");
    fc.sandwich_norms = true;
  }
  if (fc.attention == AttentionKind::Standard)
    fc.rope.dim = rotary_dims(r, fam.name, fc.head_dim);
  else if (r.present("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
    throw InputError(r.path(), "partial_rotary_factor", "partial rotary is not implemented");

  // q/k norm: per head (Qwen3) or over the whole projection (OLMoE), told apart by its size.
  // GLM-4.5 has it per head when use_qk_norm says so (and its tensors are not read otherwise).
  const auto qn = fam.dense.extra.find("q_norm");
  const bool glm = fam.name == "glm4_moe";
  if (glm && r.boolean("use_qk_norm", false)) {
    const std::string name =
        qn == fam.dense.extra.end() ? std::string("q_norm") : expand_pattern(qn->second, 0);
    const TensorEntry* e = ck.has(name) ? ck.entry(name) : nullptr;
    if (!e || e->shape != std::vector<int64_t>{fc.head_dim})
      throw InputError(r.path(), "use_qk_norm",
                       "expected per-head norm weights " + name + " of [" +
                           std::to_string(fc.head_dim) + "] elements");
    fc.qk_norm = QkNorm::PerHead;
  } else if (!glm && qn != fam.dense.extra.end() && fc.attention == AttentionKind::Standard) {
    const std::string name = expand_pattern(qn->second, 0);
    if (ck.has(name)) {
      const int64_t n = ck.entry(name)->shape.empty() ? 0 : ck.entry(name)->shape[0];
      if (n == fc.head_dim)
        fc.qk_norm = QkNorm::PerHead;
      else if (n == fc.head_dim * fc.heads)
        fc.qk_norm = QkNorm::Whole;
      else
        throw InputError(ck.shard_of(name).string(), name,
                         "expected head_dim or heads x head_dim elements");
    }
  }
  fc.clip_qkv = r.number("clip_qkv", 0.0);

  fc.layer_windows = layer_windows(r, fam.name, fc.num_layers);
  if (fam.name == "gpt_oss") {
    fc.attention_sinks = true;
    if (fam.dense.extra.find("sinks") == fam.dense.extra.end())
      throw InputError(fam.source.string(), "dense.extra.sinks",
                       "the gpt_oss family file must name the attention sinks tensor");
  }
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (r.present(key)) throw InputError(r.path(), key, "logit soft-capping is not implemented");

  RoutingConvention routing = mc.routing;
  // HF's DeepseekV2Moe never renormalises (norm_topk_prob is ignored there).
  if (fam.name == "deepseek_v2") routing.renormalize = false;
  fc.router = make_router_rule(routing, mc.num_experts, ck.config(), r.path());
  return fc;
}

std::vector<double> rope_inverse_frequencies(const RopeConfig& rope) {
  const int64_t half = rope.dim / 2;
  std::vector<double> inv(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(rope.theta, static_cast<double>(2 * i) / static_cast<double>(rope.dim));
  if (rope.type == "linear") {
    for (double& f : inv) f /= rope.factor;
  } else if (rope.type == "yarn") {
    const double pi = 3.14159265358979323846;
    const auto correction_dim = [&](double rotations) {
      return (static_cast<double>(rope.dim) *
              std::log(rope.original_max_positions / (rotations * 2 * pi))) /
             (2 * std::log(rope.theta));
    };
    double low = correction_dim(rope.beta_fast), high = correction_dim(rope.beta_slow);
    if (rope.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(rope.dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolation = 1.0 - ramp;
      inv[i] = inv[i] / rope.factor * (1.0 - extrapolation) + inv[i] * extrapolation;
    }
  }
  return inv;
}

}  // namespace moeprobe
