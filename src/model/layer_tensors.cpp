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
    if (ckpt.has(first_expert)) {
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
                          const ModelConfig& c, const ConfigReader& r) {
  const std::string& cfg_path = r.path();
  const RoutingConvention& rc = c.routing;
  // Validate every MoE layer from headers only.
  const int64_t E = c.num_experts, H = c.hidden_size, I = c.expert_intermediate_size;
  const std::string where = ckpt.dir().string();
  auto need = [&](const std::string& name, const std::vector<int64_t>& shape,
                  const std::string& what) -> const TensorEntry& {
    const std::string field = "tensor '" + name + "'";
    const TensorEntry* e = ckpt.entry(name);
    if (!e)
      throw InputError(where, field,
                       "missing; expected the " + what + " " + shape_str(shape) + " (family " +
                           fam.name + ", layout " + lay.name + ")");
    if (e->shape != shape)
      throw InputError(ckpt.shard_of(name).string(), field,
                       "shape " + shape_str(e->shape) + ", expected " + shape_str(shape) +
                           " for the " + what + " (config: hidden " + std::to_string(H) +
                           ", experts " + std::to_string(E) + ", expert intermediate " +
                           std::to_string(I) + ")");
    if (!dtype_is_float(e->dtype))
      throw InputError(ckpt.shard_of(name).string(), field,
                       std::string("dtype ") + dtype_name(e->dtype) +
                           ", expected a float type (F32, F16, BF16, F64, F8)");
    return *e;
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
      if (const TensorEntry* e = ckpt.entry(gu); e && e->shape.size() == 3 && e->shape[0] != E)
        throw count_mismatch(l, e->shape[0], lay.fused_gate_up);
    } else {
      int64_t present = 0;
      while (ckpt.has(expand_pattern(lay.expert_act, l, static_cast<int>(present)))) ++present;
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
           "fused gate_up (act rows, then up)");
      need(expand_pattern(lay.fused_down, l), {E, H, I}, "fused down");
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
