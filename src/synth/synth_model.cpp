#include "synth/synth_model.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;

namespace {

int json_int(const nlohmann::json& j, int fallback) {
  return j.is_number_integer() ? j.get<int>() : fallback;
}

}  // namespace

bool family_has_key(const Family& f, const std::string& canon) {
  auto it = f.config_keys.find(canon);
  return it != f.config_keys.end() && !it->second.empty();
}

bool has_mla(const Family& f) {
  return f.dense.extra.count("kv_a_proj_with_mqa") > 0;
}

MlaDims mla_dims(const SynthModel& m) {
  return {std::max<int64_t>(m.H / 2, 8), std::max<int64_t>(m.H / 4, 8), std::max(m.hd / 2, 2),
          std::max(m.hd / 2, 2), m.hd};
}

Family load_recipe_family(const Recipe& r, const fs::path& families_dir_in) {
  const fs::path families_dir = families_dir_in.empty() ? default_families_dir() : families_dir_in;
  const fs::path fam_path = families_dir / (r.family + ".yaml");
  if (!fs::exists(fam_path)) {
    std::string known;
    if (fs::is_directory(families_dir))
      for (const auto& f : load_families(families_dir))
        known += (known.empty() ? "" : ", ") + f.name;
    throw InputError(r.path.string(), "family",
                     "unknown family '" + r.family + "' (known: " + known + ")");
  }
  return load_family(fam_path);
}

SynthModel resolve_model(const Recipe& r, Family family, int threads) {
  const std::string rf = r.path.string();
  SynthModel m{r,
               std::move(family),
               {},
               r.fast_rng ? NormalKind::Fast : NormalKind::Exact,
               std::max(1, threads)};  // sizes are filled in below
  const Family& fam = m.fam;
  const ModelShape& s = r.shape;

  // Layout: classic = the first per-expert layout, fused = the first fused one.
  const ExpertLayout* chosen = nullptr;
  for (const auto& l : fam.layouts) {
    if (r.layout.empty() || (r.layout == "fused") == l.fused()) {
      chosen = &l;
      break;
    }
  }
  if (!chosen)
    throw InputError(rf, "layout", "family " + fam.name + " has no " + r.layout + " layout");
  m.layout = *chosen;
  const ExpertLayout& lay = m.layout;
  auto has_key = [&](const std::string& canon) { return family_has_key(fam, canon); };

  m.L = s.num_layers;
  m.E = s.num_experts;
  m.K = s.top_k;
  m.H = s.hidden_size;
  m.I = s.intermediate_size;
  m.V = s.vocab_size;
  m.heads = s.num_attention_heads;
  m.kv = s.num_key_value_heads == 0 ? s.num_attention_heads : s.num_key_value_heads;
  m.hd = static_cast<int>(s.hidden_size / s.num_attention_heads);
  m.first_dense = s.first_k_dense_replace;
  m.n_moe = m.L - m.first_dense;
  m.dense_I = s.dense_intermediate_size > 0 ? s.dense_intermediate_size : 4 * s.hidden_size;
  m.act = fam.activation;

  // Shared experts: the family's default count unless the recipe sets one.
  const int fam_shared = fam.config_defaults.count("num_shared_experts")
                             ? json_int(fam.config_defaults.at("num_shared_experts"), 0)
                             : 0;
  m.n_shared = s.num_shared_experts >= 0 ? s.num_shared_experts : fam_shared;
  if (m.n_shared > 0 && lay.shared_act.empty())
    throw InputError(rf, "model.num_shared_experts",
                     "family " + fam.name + " has no shared experts (expected 0)");
  if (m.n_shared != fam_shared && !has_key("num_shared_experts"))
    throw InputError(rf, "model.num_shared_experts",
                     "family " + fam.name + " has a fixed number of shared experts (" +
                         std::to_string(fam_shared) + ")");
  if (m.n_shared > 0 && has_key("shared_intermediate_size"))
    m.shared_I = s.shared_intermediate_size > 0 ? s.shared_intermediate_size : m.n_shared * m.I;
  else if (m.n_shared > 0) {
    if (s.shared_intermediate_size > 0 && s.shared_intermediate_size != m.n_shared * m.I)
      throw InputError(
          rf, "model.shared_intermediate_size",
          "family " + fam.name + " fixes it to num_shared_experts * intermediate_size");
    m.shared_I = m.n_shared * m.I;
  }
  if (m.n_shared == 0 && s.shared_intermediate_size > 0)
    throw InputError(rf, "model.shared_intermediate_size", "set without shared experts");
  if (m.first_dense > 0 && (fam.moe_layers.first.empty() || fam.dense.dense_act.empty()))
    throw InputError(rf, "model.first_k_dense_replace",
                     "family " + fam.name + " has no dense first layers (expected 0)");
  if (r.plant.write_reference && m.first_dense > 0)
    throw InputError(rf, "plant.upcycling.write_reference",
                     "a dense reference needs every layer MoE (first_k_dense_replace 0)");
  if (lay.fused() && uint64_t(m.E) * 2 * m.I * m.H > (uint64_t(1) << 30))
    throw InputError(rf, "layout",
                     "fused tensors above 2^30 elements are not supported (use classic)");

  const Quantization& qz = r.quant;
  if (qz.scheme == "mxfp4" && (!lay.fused() || m.H % 32 != 0 || m.I % 32 != 0))
    throw InputError(rf, "quantization.scheme",
                     "mxfp4 needs a fused layout and hidden/intermediate sizes divisible by 32");
  if (!qz.twin.empty() && qz.scheme.empty())
    throw InputError(rf, "quantization.twin", "a dequantised twin needs a quantization scheme");
  return m;
}

double estimate_tensor_bytes(const SynthModel& m, DType dt) {
  const double H = double(m.H), I = double(m.I), E = double(m.E), V = double(m.V);
  const double q = double(m.heads) * m.hd, kv = double(m.kv) * m.hd;
  const double attention = H * (2 * q + 2 * kv);
  const double moe_layer =
      E * 3 * I * H + E * H + (m.n_shared > 0 ? 3 * double(m.shared_I) * H : 0);
  const double dense_ffn = 3 * double(m.dense_I) * H;
  double elems = 2 * V * H + double(m.L) * attention + double(m.n_moe) * moe_layer +
                 double(m.first_dense) * dense_ffn;
  if (m.r.plant.write_reference) elems += 2 * V * H + double(m.L) * (attention + 3 * I * H);
  return elems * double(dtype_size(dt));
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g GB", bytes / 1e9);
  return buf;
}

}  // namespace moeprobe::synth
