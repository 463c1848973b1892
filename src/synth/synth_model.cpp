#include "synth/synth_model.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;

namespace {

int json_int(const nlohmann::json& j, int fallback) {
  return j.is_number_integer() ? j.get<int>() : fallback;
}

}  // namespace

Model resolve_model(const Recipe& r, const fs::path& families_dir, int threads) {
  const std::string rf = r.path.string();
  const fs::path fam_path = families_dir / (r.family + ".yaml");
  if (!fs::exists(fam_path)) {
    std::string known;
    if (fs::is_directory(families_dir))
      for (const auto& f : load_families(families_dir))
        known += (known.empty() ? "" : ", ") + f.name;
    throw InputError(rf, "family", "unknown family '" + r.family + "' (known: " + known + ")");
  }
  Model m{r,
          load_family(fam_path),
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
  auto has_key = [&](const std::string& canon) {
    auto it = fam.config_keys.find(canon);
    return it != fam.config_keys.end() && !it->second.empty();
  };

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

  // The dense reference model "F" is written in the layout of its own family file.
  if (r.plant.write_reference) {
    const fs::path ref_path = families_dir / (r.plant.reference_family + ".yaml");
    if (!fs::exists(ref_path))
      throw InputError(rf, "plant.upcycling.reference_family",
                       "no family file " + ref_path.string());
    m.ref_fam = load_family(ref_path);
    if (m.ref_fam.dense.dense_act.empty())
      throw InputError(rf, "plant.upcycling.reference_family",
                       "family " + m.ref_fam.name +
                           " names no dense FFN tensors (dense.dense_act)");
  }
  return m;
}

}  // namespace moeprobe::synth
