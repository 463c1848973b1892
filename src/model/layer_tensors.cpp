#include "model/layer_tensors.h"

#include "util/error.h"

namespace moeprobe {
namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A pattern with {L} filled in and {E} kept, to show which tensors were counted.
std::string layer_pattern(const std::string& pattern, int layer) {
  std::string out = pattern;
  for (auto pos = out.find("{L}"); pos != std::string::npos; pos = out.find("{L}"))
    out.replace(pos, 3, std::to_string(layer));
  return out;
}

}  // namespace

const ExpertLayout& choose_layout(const Family& fam, const Checkpoint& ckpt, int layer) {
  const int l0 = layer;
  std::string tried;
  const ExpertLayout* router_only = nullptr;
  const ExpertLayout* chosen = nullptr;
  for (const auto& layout : fam.layouts) {
    const std::string router = expand_pattern(layout.router, l0);
    tried += (tried.empty() ? "" : ", ") + router + " (" + layout.name + ")";
    if (!ckpt.has(router)) continue;
    const std::string first_expert = layout.fused() ? expand_pattern(layout.fused_gate_up, l0)
                                                    : expand_pattern(layout.expert_act, l0, 0);
    if (has_weight(ckpt, first_expert)) {
      chosen = &layout;
      break;
    }
    if (!router_only) router_only = &layout;
  }
  if (!chosen) chosen = router_only;
  if (!chosen)
    throw InputError(ckpt.dir().string(), "layer " + std::to_string(l0),
                     "no router tensor of family " + fam.name + " found; tried " + tried);
  return *chosen;
}

void validate_moe_tensors(const Checkpoint& ckpt, const Family& fam, const ExpertLayout& lay,
                          const ModelConfig& c, const ConfigReader& r, const QuantConfig& q) {
  const std::string& cfg_path = r.path();
  const RoutingConvention& rc = c.routing;
  // Validate every MoE layer from headers only.
  const int64_t E = c.num_experts, H = c.hidden_size, I = c.expert_intermediate_size;
  const std::string where = ckpt.dir().string();
  // `shape` is the Linear-layout shape; `transposable` tensors (fused, fused_transposed) are
  // expected with their last two dimensions swapped unless MXFP4-packed.
  auto need = [&](const std::string& name, std::vector<int64_t> shape, const std::string& what,
                  bool transposable = false) -> WeightInfo {
    const std::string field = "tensor '" + name + "'";
    const std::optional<WeightInfo> w = weight_info(ckpt, name, q);
    if (transposable && lay.fused_transposed && !(w && w->scheme == QuantScheme::Mxfp4))
      std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    if (!w)
      throw InputError(where, field,
                       "missing; expected the " + what + " " + shape_str(shape) + " (family " +
                           fam.name + ", layout " + lay.name + ")");
    const std::string stored = w->stored_name == name ? "" : " (stored as " + w->stored_name + ")";
    if (w->shape != shape)
      throw InputError(ckpt.shard_of(w->stored_name).string(), field,
                       "shape " + shape_str(w->shape) + stored + ", expected " + shape_str(shape) +
                           " for the " + what + " (config: hidden " + std::to_string(H) +
                           ", experts " + std::to_string(E) + ", expert intermediate " +
                           std::to_string(I) + ")");
    if (!w->float_valued())
      throw InputError(
          ckpt.shard_of(name).string(), field,
          std::string("dtype ") + dtype_name(w->dtype) +
              ", expected a float type (F32, F16, BF16, F64, F8) or a quantised weight");
    return *w;
  };
  const std::string experts_key = r.field("num_experts");
  auto count_mismatch = [&](int layer, int64_t present, const std::string& pattern) {
    return InputError(cfg_path, experts_key,
                      "says " + std::to_string(E) + " but model.layers." + std::to_string(layer) +
                          " has " + std::to_string(present) + " experts (" +
                          layer_pattern(pattern, layer) + ")");
  };
  for (int l : c.moe_layers) {
    // Expert count first: "config says 8, tensors hold 4" is the clearest message.
    if (lay.fused()) {
      const std::string gu = expand_pattern(lay.fused_gate_up, l);
      if (const auto w = weight_info(ckpt, gu, q); w && w->shape.size() == 3 && w->shape[0] != E)
        throw count_mismatch(l, w->shape[0], lay.fused_gate_up);
    } else {
      int64_t present = 0;
      while (has_weight(ckpt, expand_pattern(lay.expert_act, l, static_cast<int>(present))))
        ++present;
      if (present != E) throw count_mismatch(l, present, lay.expert_act);
    }
    need(expand_pattern(lay.router, l), {E, H}, "router");
    if (!lay.router_bias.empty() && ckpt.has(expand_pattern(lay.router_bias, l)))
      need(expand_pattern(lay.router_bias, l), {E}, "router bias");
    if (!lay.score_correction_bias.empty() &&
        (rc.selection_bias || ckpt.has(expand_pattern(lay.score_correction_bias, l))))
      need(expand_pattern(lay.score_correction_bias, l), {E}, "score-correction bias");
    if (lay.fused()) {
      need(expand_pattern(lay.fused_gate_up, l), {E, 2 * I, H},
           lay.gate_up_interleaved ? "fused gate_up (act and up rows interleaved)"
                                   : "fused gate_up (act rows, then up)",
           true);
      need(expand_pattern(lay.fused_down, l), {E, H, I}, "fused down", true);
      if (!lay.fused_gate_up_bias.empty() && ckpt.has(expand_pattern(lay.fused_gate_up_bias, l)))
        need(expand_pattern(lay.fused_gate_up_bias, l), {E, 2 * I}, "fused gate_up bias");
      if (!lay.fused_down_bias.empty() && ckpt.has(expand_pattern(lay.fused_down_bias, l)))
        need(expand_pattern(lay.fused_down_bias, l), {E, H}, "fused down bias");
    } else {
      for (int e = 0; e < E; ++e) {
        need(expand_pattern(lay.expert_act, l, e), {I, H}, "expert act (gate) projection");
        need(expand_pattern(lay.expert_up, l, e), {I, H}, "expert up projection");
        need(expand_pattern(lay.expert_down, l, e), {H, I}, "expert down projection");
      }
    }
    if (c.num_shared_experts > 0) {
      const int blocks = has_expert_index(lay.shared_act) ? c.num_shared_experts : 1;
      const int64_t SI = c.shared_intermediate_size;
      for (int s = 0; s < blocks; ++s) {
        need(expand_pattern(lay.shared_act, l, s), {SI, H}, "shared-expert act projection");
        need(expand_pattern(lay.shared_up, l, s), {SI, H}, "shared-expert up projection");
        need(expand_pattern(lay.shared_down, l, s), {H, SI}, "shared-expert down projection");
      }
      if (!lay.shared_gate.empty())
        need(expand_pattern(lay.shared_gate, l), {1, H}, "shared-expert gate");
    }
  }
}

}  // namespace moeprobe
