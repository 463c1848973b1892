#include "synth/synth_config.h"

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe::synth {

using ojson = nlohmann::ordered_json;

namespace {

const char* torch_dtype(DType d) {
  return d == DType::BF16 ? "bfloat16" : d == DType::F16 ? "float16" : "float32";
}

}  // namespace

ojson model_config(const SynthModel& m, const Family& f, bool reference) {
  const std::string rf = m.r.path.string();
  const int64_t H = m.H, I = m.I, E = m.E;
  const DType dt = m.r.dtype;
  ojson c;
  c["model_type"] = f.model_types.empty() ? f.name : f.model_types[0];
  if (!f.architectures.empty()) c["architectures"] = {f.architectures[0]};
  auto put = [&](const std::string& canon, const ojson& v) {
    if (canon.empty()) return;
    const auto it = f.config_keys.find(canon);
    if (it == f.config_keys.end() || it->second.empty()) {
      const auto d = f.config_defaults.find(canon);
      if (d == f.config_defaults.end()) return;
      const nlohmann::json value = nlohmann::json::parse(v.dump());
      if (value != d->second)
        throw InputError(rf, "model",
                         "family " + f.name + " has no config key for " + canon +
                             "; its value is fixed at " + json_excerpt(d->second) + ", not " +
                             json_excerpt(value));
      return;
    }
    if (!c.contains(it->second[0])) c[it->second[0]] = v;
  };
  put("num_layers", m.L);
  put("hidden_size", H);
  if (reference) {
    put("intermediate_size", I);
  } else {
    put("expert_intermediate_size", I);
    put("intermediate_size", m.dense_I);
    put("num_experts", E);
    put("top_k", m.K);
    if (m.n_shared > 0) {
      put("num_shared_experts", m.n_shared);
      put("shared_intermediate_size", m.shared_I);
    }
    put(f.moe_layers.first, m.first_dense);
    put(f.moe_layers.period, 1);
    put(f.moe_layers.except, ojson::array());
    put("norm_topk_prob", f.routing.renormalize);
    put("scoring_func", f.routing.scoring == Scoring::Sigmoid ? "sigmoid" : "softmax");
  }
  put("vocab_size", m.V);
  put("num_attention_heads", m.heads);
  put("num_key_value_heads", m.kv);
  put("head_dim", m.hd);
  put("rms_norm_eps", 1e-5);
  put("rope_theta", 10000.0);
  c["hidden_act"] =
      f.activation == Activation::GELU || f.activation == Activation::GELUTanh ? "gelu" : "silu";
  if (!reference && has_mla(f)) {
    const MlaDims mla = mla_dims(m);
    c["q_lora_rank"] = mla.q_lora;
    c["kv_lora_rank"] = mla.kv_lora;
    c["qk_nope_head_dim"] = mla.nope;
    c["qk_rope_head_dim"] = mla.rope;
    c["v_head_dim"] = mla.v;
  }
  c["max_position_embeddings"] = 4096;
  c["tie_word_embeddings"] = false;
  c["bos_token_id"] = 1;
  c["eos_token_id"] = 2;
  c["torch_dtype"] = torch_dtype(dt);
  return c;
}

ojson with_quantization(ojson config, const Quantization& qz) {
  if (qz.scheme == "fp8")
    config["quantization_config"] = {{"quant_method", "fp8"},
                                     {"fmt", "e4m3"},
                                     {"activation_scheme", "dynamic"},
                                     {"weight_block_size", {qz.block_rows, qz.block_cols}}};
  else if (qz.scheme == "mxfp4")
    config["quantization_config"] = {{"quant_method", "mxfp4"}};
  return config;
}

}  // namespace moeprobe::synth
