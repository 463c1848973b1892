// MoeModel: config.json read through the family's key map, MoE layers computed from the
// family's layer-selection keys, and every MoE tensor validated from shard headers alone, so that
// a broken checkpoint fails at open with a message naming the file and tensor instead of deep
// inside a metric.
#include "model/moe_model.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "util/error.h"

namespace moeprobe {
namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

// Reads canonical sizes from config.json through the family's config_keys and config_defaults.
class ConfigReader {
 public:
  ConfigReader(const Family& family, const nlohmann::json& config, std::string path)
      : family_(family), config_(config), path_(std::move(path)) {}

  // The config key that holds `canon` (first present, non-null), or nullopt.
  std::optional<std::string> key_of(const std::string& canon) const {
    auto it = family_.config_keys.find(canon);
    if (it == family_.config_keys.end()) return std::nullopt;
    for (const auto& k : it->second)
      if (config_.contains(k) && !config_[k].is_null()) return k;
    return std::nullopt;
  }

  // The name to use in messages about `canon`: the key present, else the first key the family
  // would read, else the canonical name.
  std::string field(const std::string& canon) const {
    if (auto k = key_of(canon)) return *k;
    auto it = family_.config_keys.find(canon);
    if (it != family_.config_keys.end() && !it->second.empty()) return it->second.front();
    return canon;
  }

  // Value and the field name it came from (the config key, or "<canon> (family default)").
  std::optional<std::pair<nlohmann::json, std::string>> value(const std::string& canon) const {
    if (auto k = key_of(canon)) return std::make_pair(config_[*k], *k);
    auto d = family_.config_defaults.find(canon);
    if (d != family_.config_defaults.end() && !d->second.is_null())
      return std::make_pair(d->second, canon + " (default of family " + family_.name + ")");
    return std::nullopt;
  }

  [[noreturn]] void missing(const std::string& canon, const std::string& what) const {
    std::string keys;
    auto it = family_.config_keys.find(canon);
    if (it != family_.config_keys.end())
      for (const auto& k : it->second) keys += (keys.empty() ? "" : " or ") + k;
    throw InputError(path_, field(canon),
                     "missing; expected " + what + " (family " + family_.name + " reads " +
                         (keys.empty() ? canon : keys) + ")");
  }

  std::optional<int64_t> opt_int(const std::string& canon, int64_t min_value) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    const nlohmann::json& j = v->first;
    if (!j.is_number_integer() &&
        !(j.is_number_float() && j.get<double>() == static_cast<int64_t>(j.get<double>())))
      throw InputError(path_, v->second, "expected an integer, got " + j.dump());
    const int64_t x =
        j.is_number_integer() ? j.get<int64_t>() : static_cast<int64_t>(j.get<double>());
    if (x < min_value)
      throw InputError(path_, v->second,
                       "got " + std::to_string(x) + ", expected >= " + std::to_string(min_value));
    return x;
  }
  int64_t req_int(const std::string& canon, int64_t min_value, const std::string& what) const {
    auto x = opt_int(canon, min_value);
    if (!x) missing(canon, what);
    return *x;
  }
  std::optional<double> opt_number(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_number())
      throw InputError(path_, v->second, "expected a number, got " + v->first.dump());
    return v->first.get<double>();
  }
  std::optional<bool> opt_bool(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_boolean())
      throw InputError(path_, v->second, "expected true or false, got " + v->first.dump());
    return v->first.get<bool>();
  }
  std::optional<std::string> opt_string(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_string())
      throw InputError(path_, v->second, "expected a string, got " + v->first.dump());
    return v->first.get<std::string>();
  }
  std::vector<int> int_list(const std::string& canon) const {
    auto v = value(canon);
    std::vector<int> out;
    if (!v) return out;
    if (!v->first.is_array())
      throw InputError(path_, v->second,
                       "expected a list of layer indices, got " + v->first.dump());
    for (const auto& x : v->first) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0)
        throw InputError(path_, v->second, "expected non-negative layer indices, got " + x.dump());
      out.push_back(x.get<int>());
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  const Family& family_;
  const nlohmann::json& config_;
  std::string path_;
};

// A pattern with {L} filled in and {E} kept, to show which tensors were counted.
std::string layer_pattern(const std::string& pattern, int layer) {
  std::string out = pattern;
  for (auto pos = out.find("{L}"); pos != std::string::npos; pos = out.find("{L}"))
    out.replace(pos, 3, std::to_string(layer));
  return out;
}

bool has_expert_index(const std::string& pattern) {
  return pattern.find("{E}") != std::string::npos;
}

}  // namespace

std::unique_ptr<MoeModel> MoeModel::open(const std::filesystem::path& dir,
                                         const std::string& forced_family,
                                         const std::filesystem::path& families_dir) {
  std::unique_ptr<MoeModel> m(new MoeModel());
  m->checkpoint_ = std::make_unique<Checkpoint>(dir);
  const Checkpoint& ckpt = *m->checkpoint_;
  const nlohmann::json& cfg = ckpt.config();
  const std::string cfg_path = ckpt.config_path().string();

  const auto families = load_families(families_dir.empty() ? default_families_dir() : families_dir);
  m->family_ = detect_family(families, cfg, cfg_path, forced_family);
  const Family& fam = m->family_;
  const bool moe_family = !fam.layouts.empty();

  ConfigReader r(fam, cfg, cfg_path);
  ModelConfig& c = m->config_;
  if (cfg.contains("model_type") && cfg["model_type"].is_string())
    c.model_type = cfg["model_type"].get<std::string>();
  c.num_layers = static_cast<int>(r.req_int("num_layers", 1, "the number of decoder layers"));
  c.hidden_size = r.req_int("hidden_size", 1, "the hidden size");

  if (!moe_family) {
    // A dense model (the paper's dense reference): no experts, no MoE layers.
    c.routing = fam.routing;
    return m;
  }

  c.num_experts = static_cast<int>(r.req_int("num_experts", 1, "the number of routed experts"));
  c.top_k = static_cast<int>(r.req_int("top_k", 1, "the number of experts per token"));
  if (c.top_k > c.num_experts)
    throw InputError(cfg_path, r.field("top_k"),
                     std::to_string(c.top_k) + " experts per token, but only " +
                         std::to_string(c.num_experts) + " experts");
  c.expert_intermediate_size =
      r.req_int("expert_intermediate_size", 1, "the experts' intermediate size");

  // Which decoder layers are MoE: the family's moe_layers rule over the config's values.
  const MoeLayerRule& rule = fam.moe_layers;
  const int64_t first_dense = rule.first.empty() ? 0 : r.opt_int(rule.first, 0).value_or(0);
  const int64_t period = rule.period.empty() ? 1 : r.opt_int(rule.period, 1).value_or(1);
  const std::vector<int> dense_list =
      rule.except.empty() ? std::vector<int>{} : r.int_list(rule.except);
  const std::set<int> dense_set(dense_list.begin(), dense_list.end());
  for (int l = 0; l < c.num_layers; ++l) {
    if (l < first_dense || (l + rule.period_offset) % period != 0 || dense_set.count(l)) continue;
    c.moe_layers.push_back(l);
  }
  if (c.moe_layers.empty())
    throw InputError(cfg_path, r.field("num_layers"),
                     "no decoder layer is an MoE layer (check the keys of the family's "
                     "moe_layers rule in " +
                         fam.source.string() + ")");

  // Routing: family defaults, overridden by what config.json states.
  RoutingConvention& rc = c.routing;
  rc = fam.routing;
  rc.top_k = c.top_k;
  if (auto v = r.opt_bool("norm_topk_prob")) rc.renormalize = *v;
  if (auto s = r.opt_string("scoring_func")) {
    if (*s == "softmax")
      rc.scoring = Scoring::Softmax;
    else if (*s == "sigmoid")
      rc.scoring = Scoring::Sigmoid;
    else
      throw InputError(cfg_path, r.field("scoring_func"),
                       "'" + *s + "': expected softmax or sigmoid");
  }
  if (auto v = r.opt_int("n_group", 1)) rc.n_group = static_cast<int>(*v);
  if (auto v = r.opt_int("topk_group", 1)) rc.topk_group = static_cast<int>(*v);
  if (auto v = r.opt_number("routed_scaling_factor")) rc.routed_scaling_factor = *v;
  if (auto s = r.opt_string("topk_method")) {
    const auto it = fam.topk_methods.find(*s);
    if (it == fam.topk_methods.end()) {
      std::string known;
      for (const auto& [name, patch] : fam.topk_methods)
        known += (known.empty() ? "" : ", ") + name;
      throw InputError(cfg_path, r.field("topk_method"),
                       "'" + *s + "': expected one of " + known + " (family " + fam.name + ")");
    }
    it->second.apply(rc);
  }
  if (c.num_experts % rc.n_group != 0)
    throw InputError(cfg_path, r.field("n_group"),
                     std::to_string(rc.n_group) + " groups do not divide " +
                         std::to_string(c.num_experts) + " experts");
  if (rc.topk_group > rc.n_group)
    throw InputError(
        cfg_path, r.field("topk_group"),
        std::to_string(rc.topk_group) + " exceeds n_group " + std::to_string(rc.n_group));
  if (c.top_k > rc.topk_group * (c.num_experts / rc.n_group))
    throw InputError(cfg_path, r.field("topk_group"),
                     "the " + std::to_string(rc.topk_group) +
                         " eligible groups hold fewer than top_k " + std::to_string(c.top_k) +
                         " experts");

  // The on-disk layout: the first whose router and first expert tensor exist for the first MoE
  // layer (layouts may share a router name, e.g. Mixtral's DiscoResearch and fused layouts); else
  // the first whose router exists, so the validation below names the missing expert tensors.
  const int l0 = c.moe_layers.front();
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
  m->layout_ = *chosen;
  const ExpertLayout& lay = m->layout_;

  // Shared experts: a fused block (count x intermediate rows) or one block per shared expert.
  const bool layout_has_shared = !lay.shared_act.empty();
  c.num_shared_experts =
      layout_has_shared ? static_cast<int>(r.opt_int("num_shared_experts", 0).value_or(0)) : 0;
  if (c.num_shared_experts > 0) {
    const bool per_shared = has_expert_index(lay.shared_act);
    c.shared_intermediate_size =
        r.opt_int("shared_intermediate_size", 0)
            .value_or(per_shared ? c.expert_intermediate_size
                                 : c.num_shared_experts * c.expert_intermediate_size);
    if (c.shared_intermediate_size == 0) c.num_shared_experts = 0;
  }

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
  return m;
}

MoeLayer MoeModel::layer(int layer) const {
  const auto& ml = config_.moe_layers;
  if (!std::binary_search(ml.begin(), ml.end(), layer))
    throw InputError(checkpoint_->dir().string(), "layer " + std::to_string(layer),
                     "not an MoE layer; MoE layers are " + join_ints(ml));
  const Checkpoint& ckpt = *checkpoint_;
  const ExpertLayout& lay = layout_;
  const int E = config_.num_experts;
  const int64_t I = config_.expert_intermediate_size;

  MoeLayer out;
  out.layer = layer;
  out.activation = family_.activation;
  out.routing = config_.routing;
  out.router = ckpt.tensor(expand_pattern(lay.router, layer));
  if (!lay.router_bias.empty() && ckpt.has(expand_pattern(lay.router_bias, layer)))
    out.router_bias = ckpt.tensor(expand_pattern(lay.router_bias, layer));
  if (!lay.score_correction_bias.empty() &&
      ckpt.has(expand_pattern(lay.score_correction_bias, layer)))
    out.score_correction_bias = ckpt.tensor(expand_pattern(lay.score_correction_bias, layer));

  out.experts.reserve(static_cast<std::size_t>(E));
  if (lay.fused()) {
    // Sub-views of the fused tensors: expert e's act rows [0, I), up rows [I, 2I).
    const TensorView gate_up = ckpt.tensor(expand_pattern(lay.fused_gate_up, layer));
    const TensorView down = ckpt.tensor(expand_pattern(lay.fused_down, layer));
    for (int e = 0; e < E; ++e) {
      const TensorView gu = gate_up.index0(e);
      out.experts.push_back({gu.slice0(0, I), gu.slice0(I, 2 * I), down.index0(e)});
    }
  } else {
    for (int e = 0; e < E; ++e)
      out.experts.push_back({ckpt.tensor(expand_pattern(lay.expert_act, layer, e)),
                             ckpt.tensor(expand_pattern(lay.expert_up, layer, e)),
                             ckpt.tensor(expand_pattern(lay.expert_down, layer, e))});
  }
  if (config_.num_shared_experts > 0) {
    const int blocks = has_expert_index(lay.shared_act) ? config_.num_shared_experts : 1;
    for (int s = 0; s < blocks; ++s)
      out.shared.push_back({ckpt.tensor(expand_pattern(lay.shared_act, layer, s)),
                            ckpt.tensor(expand_pattern(lay.shared_up, layer, s)),
                            ckpt.tensor(expand_pattern(lay.shared_down, layer, s))});
    if (!lay.shared_gate.empty())
      out.shared_gate = ckpt.tensor(expand_pattern(lay.shared_gate, layer));
  }
  return out;
}

bool MoeModel::has_dense_ffn(int layer) const {
  const DenseTensorNames& d = family_.dense;
  if (d.dense_act.empty()) return false;
  return checkpoint_->has(expand_pattern(d.dense_act, layer)) &&
         checkpoint_->has(expand_pattern(d.dense_up, layer)) &&
         checkpoint_->has(expand_pattern(d.dense_down, layer));
}

ExpertWeights MoeModel::dense_ffn(int layer) const {
  const DenseTensorNames& d = family_.dense;
  const std::string where = checkpoint_->dir().string();
  if (d.dense_act.empty())
    throw InputError(family_.source.string(), "dense.dense_act",
                     "family " + family_.name + " names no dense FFN tensors");
  if (!has_dense_ffn(layer))
    throw InputError(where, "tensor '" + expand_pattern(d.dense_act, layer) + "'",
                     "layer " + std::to_string(layer) +
                         " has no dense FFN (expected act/up/down tensors " +
                         expand_pattern(d.dense_act, layer) + ", ...)");
  ExpertWeights w{checkpoint_->tensor(expand_pattern(d.dense_act, layer)),
                  checkpoint_->tensor(expand_pattern(d.dense_up, layer)),
                  checkpoint_->tensor(expand_pattern(d.dense_down, layer))};
  const int64_t H = config_.hidden_size;
  const bool ok = w.act.rank() == 2 && w.act.dim(1) == H && w.up.shape == w.act.shape &&
                  w.down.rank() == 2 && w.down.dim(0) == H && w.down.dim(1) == w.act.dim(0);
  if (!ok)
    throw InputError(checkpoint_->shard_of(w.act.name).string(), "tensor '" + w.act.name + "'",
                     "dense FFN shapes act " + w.act.shape_string() + ", up " +
                         w.up.shape_string() + ", down " + w.down.shape_string() +
                         "; expected [I, " + std::to_string(H) + "], [I, " + std::to_string(H) +
                         "], [" + std::to_string(H) + ", I]");
  for (const TensorView* v : {&w.act, &w.up, &w.down})
    if (!dtype_is_float(v->dtype))
      throw InputError(checkpoint_->shard_of(v->name).string(), "tensor '" + v->name + "'",
                       std::string("dtype ") + dtype_name(v->dtype) + ", expected a float type");
  return w;
}

}  // namespace moeprobe
