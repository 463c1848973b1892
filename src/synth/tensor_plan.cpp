#include "synth/tensor_plan.h"

#include <cmath>
#include <string>

#include "synth/parallel.h"
#include "synth/rng.h"
#include "util/error.h"

namespace moeprobe::synth {

std::vector<TensorJob> plan_tensors(const SynthModel& m, ExpertGenerator& gen,
                                    const Family* ref_fam) {
  const Recipe& r = m.r;
  const Family& fam = m.fam;
  const ExpertLayout& lay = m.layout;
  const Quantization& qz = r.quant;
  std::vector<TensorJob> jobs;
  const DType dt = r.dtype;
  int current_layer = -1;  // the decoder layer whose tensors are being planned
  auto add = [&](int w, std::string name, std::vector<int64_t> shape,
                 std::function<void(float*)> f) {
    jobs.push_back({w, TensorSpec{std::move(name), dt, std::move(shape)}, std::move(f)});
    jobs.back().layer = current_layer;
  };
  // Expert weights: quantised when the recipe says so (FP8: routed and shared experts, as
  // DeepSeek-V3 ships them; MXFP4: the fused routed experts, as gpt-oss does).
  auto add_expert = [&](std::string name, std::vector<int64_t> shape, std::function<void(float*)> f,
                        bool routed_fused) {
    add(0, std::move(name), std::move(shape), std::move(f));
    TensorJob& j = jobs.back();
    j.transposed = routed_fused && lay.fused_transposed;
    if (qz.scheme == "fp8") j.quant = 'f';
    if (qz.scheme == "mxfp4" && routed_fused) j.quant = 'm';
  };
  // Non-expert tensors: streams over fixed 4096-element blocks keyed by the tensor name, so a
  // tensor the reference model shares by name (embeddings, attention) gets identical bytes.
  auto randn = [&](int w, const std::string& name, std::vector<int64_t> shape, float sigma) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    const uint64_t k = stream_key(r.seed, name);
    add(w, name, shape, [&m, k, sigma, n](float* out) {
      parallel_for((n + 4095) / 4096, m.threads, [&](int64_t i) {
        fill_normal(k, i, m.kind, sigma, out + i * 4096, std::min<int64_t>(4096, n - i * 4096));
      });
    });
  };
  auto constant = [&](int w, const std::string& name, std::vector<int64_t> shape, float v) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    add(w, name, shape, [n, v](float* out) { std::fill(out, out + n, v); });
  };
  const int64_t H = m.H, I = m.I, E = m.E;
  const float sH = 1.0f / std::sqrt(float(H));
  // What writes into the residual stream (o_proj, down projections) is scaled by this.
  const float rs = static_cast<float>(r.shape.residual_scale);
  auto scaled = [rs](float* out, int64_t n) {
    if (rs != 1.0f)
      for (int64_t i = 0; i < n; ++i) out[i] *= rs;
  };
  const int64_t q_out = int64_t(m.heads) * m.hd, kv_out = int64_t(m.kv) * m.hd;
  const bool ref = ref_fam != nullptr;
  const DenseTensorNames& dn = fam.dense;
  const MlaDims mla = mla_dims(m);
  // Attention and norms of decoder layer l for writer w, under the given names.
  auto attention = [&](int w, const DenseTensorNames& names, int l) {
    if (!names.input_norm.empty()) constant(w, expand_pattern(names.input_norm, l), {H}, 1.0f);
    if (!names.q_proj.empty()) randn(w, expand_pattern(names.q_proj, l), {q_out, H}, sH);
    if (!names.k_proj.empty()) randn(w, expand_pattern(names.k_proj, l), {kv_out, H}, sH);
    if (!names.v_proj.empty()) randn(w, expand_pattern(names.v_proj, l), {kv_out, H}, sH);
    if (!names.o_proj.empty())
      randn(w, expand_pattern(names.o_proj, l), {H, q_out}, rs / std::sqrt(float(q_out)));
    if (!names.post_attention_norm.empty())
      constant(w, expand_pattern(names.post_attention_norm, l), {H}, 1.0f);
    for (const auto& [key, pattern] : names.extra) {
      const std::string name = expand_pattern(pattern, l);
      if (key == "q_bias")
        constant(w, name, {q_out}, 0.0f);
      else if (key == "k_bias" || key == "v_bias")
        constant(w, name, {kv_out}, 0.0f);
      else if (key == "o_bias")
        constant(w, name, {H}, 0.0f);
      else if (key == "sinks")  // gpt-oss attention-sink logits, one per head
        randn(w, name, {int64_t(m.heads)}, 1.0f);
      else if (key == "q_a_proj")  // DeepSeek V2/V3 multi-head latent attention (mla_dims)
        randn(w, name, {mla.q_lora, H}, sH);
      else if (key == "q_a_layernorm")
        constant(w, name, {mla.q_lora}, 1.0f);
      else if (key == "q_b_proj")
        randn(w, name, {int64_t(m.heads) * (mla.nope + mla.rope), mla.q_lora},
              1.0f / std::sqrt(float(mla.q_lora)));
      else if (key == "kv_a_proj_with_mqa")
        randn(w, name, {mla.kv_lora + mla.rope, H}, sH);
      else if (key == "kv_a_layernorm")
        constant(w, name, {mla.kv_lora}, 1.0f);
      else if (key == "kv_b_proj")
        randn(w, name, {int64_t(m.heads) * (mla.nope + mla.v), mla.kv_lora},
              1.0f / std::sqrt(float(mla.kv_lora)));
      else if (key == "q_norm")
        constant(w, name, {q_out}, 1.0f);
      else if (key == "k_norm")
        constant(w, name, {kv_out}, 1.0f);
      else if (key.find("norm") != std::string::npos)
        constant(w, name, {H}, 1.0f);
      else
        throw InputError(fam.source.string(), "dense.extra." + key,
                         "synth does not know the shape of this tensor");
    }
  };
  auto dense_ffn = [&](int w, const std::string& pa, const std::string& pu, const std::string& pd,
                       int64_t width, bool quantized = false) {
    randn(w, pa, {width, H}, sH);
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
    randn(w, pu, {width, H}, sH);
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
    randn(w, pd, {H, width}, rs / std::sqrt(float(width)));
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
  };

  const DenseTensorNames& rn = ref ? ref_fam->dense : dn;

  randn(0, dn.embed, {m.V, H}, 1.0f);
  if (ref) randn(1, rn.embed, {m.V, H}, 1.0f);
  for (int l = 0; l < m.L; ++l) {
    current_layer = l;
    attention(0, dn, l);
    if (l < m.first_dense) {
      dense_ffn(0, expand_pattern(dn.dense_act, l), expand_pattern(dn.dense_up, l),
                expand_pattern(dn.dense_down, l), m.dense_I);
      continue;
    }
    const int pos = l - m.first_dense;
    add(0, expand_pattern(lay.router, l), {E, H}, [&gen, pos, H, E](float* out) {
      const auto& p = gen.plan(pos);
      for (int64_t e = 0; e < E; ++e)
        std::copy(p.router[e].begin(), p.router[e].end(), out + e * H);
    });
    if (!lay.router_bias.empty()) constant(0, expand_pattern(lay.router_bias, l), {E}, 0.0f);
    if (!lay.score_correction_bias.empty())
      constant(0, expand_pattern(lay.score_correction_bias, l), {E}, 0.0f);
    if (lay.fused()) {
      const bool inter = lay.gate_up_interleaved;
      add_expert(
          expand_pattern(lay.fused_gate_up, l), {E, 2 * I, H},
          [&gen, pos, I, H, E, inter](float* out) {
            const auto& p = gen.plan(pos);
            std::vector<float> act(static_cast<std::size_t>(I * H)), up(act.size());
            for (int64_t e = 0; e < E; ++e) {
              float* o = out + e * 2 * I * H;
              gen.expert_rows(p, int(e), "act", act.data());
              gen.expert_rows(p, int(e), "up", up.data());
              // Act rows then up rows, or interleaved (gpt-oss: act row i at 2i, up at 2i + 1).
              for (int64_t i = 0; i < I; ++i) {
                std::copy_n(act.data() + i * H, H, o + (inter ? 2 * i : i) * H);
                std::copy_n(up.data() + i * H, H, o + (inter ? 2 * i + 1 : I + i) * H);
              }
            }
          },
          true);
      add_expert(
          expand_pattern(lay.fused_down, l), {E, H, I},
          [&gen, pos, I, H, E, scaled](float* out) {
            const auto& p = gen.plan(pos);
            for (int64_t e = 0; e < E; ++e) gen.expert_down(p, int(e), p.t, out + e * H * I);
            scaled(out, E * H * I);
          },
          true);
      if (!lay.fused_gate_up_bias.empty())
        randn(0, expand_pattern(lay.fused_gate_up_bias, l), {E, 2 * I}, 0.02f);
      if (!lay.fused_down_bias.empty())
        randn(0, expand_pattern(lay.fused_down_bias, l), {E, H}, 0.02f * rs);
    } else {
      for (int e = 0; e < E; ++e) {
        add_expert(
            expand_pattern(lay.expert_act, l, e), {I, H},
            [&gen, pos, e](float* out) { gen.expert_rows(gen.plan(pos), e, "act", out); }, false);
        add_expert(
            expand_pattern(lay.expert_up, l, e), {I, H},
            [&gen, pos, e](float* out) { gen.expert_rows(gen.plan(pos), e, "up", out); }, false);
        add_expert(
            expand_pattern(lay.expert_down, l, e), {H, I},
            [&gen, pos, e, scaled, H, I](float* out) {
              const auto& p = gen.plan(pos);
              gen.expert_down(p, e, p.t, out);
              scaled(out, H * I);
            },
            false);
      }
    }
    if (m.n_shared > 0) {
      if (lay.shared_act.find("{E}") != std::string::npos) {
        for (int e = 0; e < m.n_shared; ++e)
          dense_ffn(0, expand_pattern(lay.shared_act, l, e), expand_pattern(lay.shared_up, l, e),
                    expand_pattern(lay.shared_down, l, e), m.shared_I / m.n_shared, true);
      } else {
        dense_ffn(0, expand_pattern(lay.shared_act, l), expand_pattern(lay.shared_up, l),
                  expand_pattern(lay.shared_down, l), m.shared_I, true);
      }
      if (!lay.shared_gate.empty()) randn(0, expand_pattern(lay.shared_gate, l), {1, H}, sH);
    }
    if (ref) {
      attention(1, rn, l);
      for (const char* mat : {"act", "up", "down"}) {
        const std::string mat_s = mat;
        const std::string& pattern = mat_s == "act"  ? rn.dense_act
                                     : mat_s == "up" ? rn.dense_up
                                                     : rn.dense_down;
        const bool down = mat_s == "down";
        add(1, expand_pattern(pattern, l),
            down ? std::vector<int64_t>{H, I} : std::vector<int64_t>{I, H},
            [&gen, pos, mat, down, scaled, H, I](float* out) {
              gen.reference(gen.plan(pos), mat, out);
              if (down) scaled(out, H * I);
            });
      }
    }
  }
  current_layer = -1;
  constant(0, dn.final_norm, {H}, 1.0f);
  if (!dn.lm_head.empty()) randn(0, dn.lm_head, {m.V, H}, sH);
  if (ref) {
    constant(1, rn.final_norm, {H}, 1.0f);
    randn(1, rn.lm_head, {m.V, H}, sH);
  }
  return jobs;
}

}  // namespace moeprobe::synth
