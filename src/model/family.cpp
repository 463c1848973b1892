// Loading model families from YAML. The schema (documented in configs/families/README.md) is
// checked strictly: a typo in a key would otherwise silently fall back to a default and misread a
// checkpoint, so every unknown key is an InputError naming the file and the key path.
#include "model/family.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

#include "util/data_dir.h"
#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::SiLU:
      return "silu";
    case Activation::GELU:
      return "gelu";
    case Activation::GELUTanh:
      return "gelu_tanh";
    case Activation::ClampedSwiGLU:
      return "clamped_swiglu";
  }
  return "?";
}

namespace {

const std::set<std::string>& canonical_config_names() {
  static const std::set<std::string> names = {"num_layers",
                                              "hidden_size",
                                              "expert_intermediate_size",
                                              "num_experts",
                                              "top_k",
                                              "num_shared_experts",
                                              "shared_intermediate_size",
                                              "first_k_dense_replace",
                                              "moe_layer_freq",
                                              "decoder_sparse_step",
                                              "mlp_only_layers",
                                              "norm_topk_prob",
                                              "n_group",
                                              "topk_group",
                                              "routed_scaling_factor",
                                              "scoring_func",
                                              "topk_method",
                                              "vocab_size",
                                              "num_attention_heads",
                                              "num_key_value_heads",
                                              "head_dim",
                                              "rms_norm_eps",
                                              "rope_theta",
                                              "intermediate_size",
                                              "interleave_moe_layer_step",
                                              "swiglu_limit",
                                              "swiglu_alpha"};
  return names;
}

// A tensor-name pattern: a non-empty string whose only braces are {L} and {E}.
std::string read_pattern(const YamlReader& r, const YAML::Node& n, const std::string& path,
                         bool needs_expert) {
  const std::string p = r.string(n, path);
  if (p.empty()) r.fail(n, path, "expected a tensor-name pattern, got an empty string");
  std::string rest = p;
  for (const char* token : {"{L}", "{E}"}) {
    for (auto pos = rest.find(token); pos != std::string::npos; pos = rest.find(token))
      rest.erase(pos, 3);
  }
  if (rest.find('{') != std::string::npos || rest.find('}') != std::string::npos)
    r.fail(n, path, "'" + p + "': only {L} (layer) and {E} (expert) may appear in braces");
  if (needs_expert && p.find("{E}") == std::string::npos)
    r.fail(n, path, "'" + p + "': a per-expert pattern must contain {E}");
  return p;
}

// Reads `key` of mapping n into dst when present.
void optional_pattern(const YamlReader& r, const YAML::Node& n, const std::string& path,
                      const char* key, std::string& dst, bool needs_expert = false) {
  if (n[key]) dst = read_pattern(r, n[key], YamlReader::join(path, key), needs_expert);
}

ExpertLayout parse_layout(const YAML::Node& n, const YamlReader& r, const std::string& path) {
  r.check_keys(n, path,
               {"name", "router", "router_bias", "score_correction_bias", "expert_act", "expert_up",
                "expert_down", "fused_gate_up", "fused_down", "fused_transposed",
                "gate_up_interleaved", "fused_gate_up_bias", "fused_down_bias", "shared_act",
                "shared_up", "shared_down", "shared_gate"});
  ExpertLayout l;
  if (!n["name"]) r.fail(n, path + ".name", "missing; every layout needs a name");
  l.name = r.string(n["name"], path + ".name");
  if (!n["router"]) r.fail(n, path + ".router", "missing; every layout needs a router pattern");
  l.router = read_pattern(r, n["router"], path + ".router", false);
  optional_pattern(r, n, path, "router_bias", l.router_bias);
  optional_pattern(r, n, path, "score_correction_bias", l.score_correction_bias);
  optional_pattern(r, n, path, "expert_act", l.expert_act, true);
  optional_pattern(r, n, path, "expert_up", l.expert_up, true);
  optional_pattern(r, n, path, "expert_down", l.expert_down, true);
  optional_pattern(r, n, path, "fused_gate_up", l.fused_gate_up);
  optional_pattern(r, n, path, "fused_down", l.fused_down);
  if (n["fused_transposed"])
    l.fused_transposed = r.boolean(n["fused_transposed"], path + ".fused_transposed");
  if (n["gate_up_interleaved"])
    l.gate_up_interleaved = r.boolean(n["gate_up_interleaved"], path + ".gate_up_interleaved");
  optional_pattern(r, n, path, "fused_gate_up_bias", l.fused_gate_up_bias);
  optional_pattern(r, n, path, "fused_down_bias", l.fused_down_bias);
  optional_pattern(r, n, path, "shared_act", l.shared_act);
  optional_pattern(r, n, path, "shared_up", l.shared_up);
  optional_pattern(r, n, path, "shared_down", l.shared_down);
  optional_pattern(r, n, path, "shared_gate", l.shared_gate);

  const bool any_per = !l.expert_act.empty() || !l.expert_up.empty() || !l.expert_down.empty();
  const bool all_per = !l.expert_act.empty() && !l.expert_up.empty() && !l.expert_down.empty();
  const bool any_fused = !l.fused_gate_up.empty() || !l.fused_down.empty();
  const bool all_fused = !l.fused_gate_up.empty() && !l.fused_down.empty();
  if (any_per && any_fused)
    r.fail(n, path,
           "a layout is either per-expert (expert_act/up/down) or fused "
           "(fused_gate_up/fused_down), not both");
  if (!(all_per || all_fused))
    r.fail(n, path,
           "expected expert_act, expert_up and expert_down, or fused_gate_up and fused_down");
  if (!all_fused && (l.fused_transposed || l.gate_up_interleaved || !l.fused_gate_up_bias.empty() ||
                     !l.fused_down_bias.empty()))
    r.fail(n, path,
           "fused_transposed, gate_up_interleaved and the fused biases need a fused layout");
  const int shared_given = !l.shared_act.empty() + !l.shared_up.empty() + !l.shared_down.empty();
  if (shared_given != 0 && shared_given != 3)
    r.fail(n, path, "shared_act, shared_up and shared_down go together");
  if (!l.shared_gate.empty() && shared_given == 0)
    r.fail(n["shared_gate"], path + ".shared_gate",
           "a shared-expert gate needs shared_act/shared_up/shared_down");
  return l;
}

// A `routing` mapping (or one topk_method entry): only the fields it states.
RoutingPatch parse_routing(const YAML::Node& n, const YamlReader& r, const std::string& path) {
  r.check_keys(n, path,
               {"scoring", "softmax_before_topk", "renormalize", "selection_bias", "n_group",
                "topk_group", "routed_scaling_factor", "weight_on_input"});
  RoutingPatch p;
  const auto at = [&](const char* key) { return YamlReader::join(path, key); };
  if (n["scoring"]) {
    const std::string s = r.string(n["scoring"], at("scoring"));
    if (s == "softmax")
      p.scoring = Scoring::Softmax;
    else if (s == "sigmoid")
      p.scoring = Scoring::Sigmoid;
    else
      r.fail(n["scoring"], at("scoring"), "'" + s + "': expected softmax or sigmoid");
  }
  if (n["softmax_before_topk"])
    p.softmax_before_topk = r.boolean(n["softmax_before_topk"], at("softmax_before_topk"));
  if (n["renormalize"]) p.renormalize = r.boolean(n["renormalize"], at("renormalize"));
  if (n["selection_bias"]) p.selection_bias = r.boolean(n["selection_bias"], at("selection_bias"));
  if (n["n_group"])
    p.n_group = static_cast<int>(r.integer(n["n_group"], at("n_group"), 1, 1 << 20));
  if (n["topk_group"])
    p.topk_group = static_cast<int>(r.integer(n["topk_group"], at("topk_group"), 1, 1 << 20));
  if (n["routed_scaling_factor"])
    p.routed_scaling_factor = r.number(n["routed_scaling_factor"], at("routed_scaling_factor"));
  if (n["weight_on_input"])
    p.weight_on_input = r.boolean(n["weight_on_input"], at("weight_on_input"));
  return p;
}

// The canonical name a moe_layers field refers to: known, and stated in config_keys or
// config_defaults (else the condition could never apply: a typo).
std::string moe_layer_size(const Family& f, const YAML::Node& n, const YamlReader& r,
                           const std::string& path) {
  const std::string canon = r.string(n, path);
  if (!canonical_config_names().count(canon))
    r.fail(n, path, "'" + canon + "' is not a canonical config name (see config_keys)");
  if (!f.config_keys.count(canon) && !f.config_defaults.count(canon))
    r.fail(n, path, "'" + canon + "' is in neither config_keys nor config_defaults");
  return canon;
}

MoeLayerRule parse_moe_layers(const Family& f, const YAML::Node& n, const YamlReader& r) {
  r.check_keys(n, "moe_layers", {"first", "period", "period_offset", "except"});
  MoeLayerRule rule;
  if (n["first"]) rule.first = moe_layer_size(f, n["first"], r, "moe_layers.first");
  if (n["period"]) rule.period = moe_layer_size(f, n["period"], r, "moe_layers.period");
  if (n["period_offset"]) {
    if (rule.period.empty())
      r.fail(n["period_offset"], "moe_layers.period_offset", "needs moe_layers.period");
    rule.period_offset =
        static_cast<int>(r.integer(n["period_offset"], "moe_layers.period_offset", 0, 1 << 20));
  }
  if (n["except"]) rule.except = moe_layer_size(f, n["except"], r, "moe_layers.except");
  return rule;
}

}  // namespace

void RoutingPatch::apply(RoutingConvention& r) const {
  if (scoring) r.scoring = *scoring;
  if (softmax_before_topk) r.softmax_before_topk = *softmax_before_topk;
  if (renormalize) r.renormalize = *renormalize;
  if (selection_bias) r.selection_bias = *selection_bias;
  if (n_group) r.n_group = *n_group;
  if (topk_group) r.topk_group = *topk_group;
  if (routed_scaling_factor) r.routed_scaling_factor = *routed_scaling_factor;
  if (weight_on_input) r.weight_on_input = *weight_on_input;
}

Family load_family(const std::filesystem::path& yaml_path) {
  const YamlReader r(yaml_path.string());
  const YAML::Node root = r.load_file("family file");
  r.check_keys(root, "",
               {"name", "description", "detect", "config_keys", "config_defaults", "activation",
                "routing", "moe_layers", "topk_method", "layouts", "dense"});

  Family f;
  f.source = yaml_path;
  f.name = yaml_path.stem().string();
  if (root["name"]) {
    const std::string n = r.string(root["name"], "name");
    if (n != f.name)
      r.fail(root["name"], "name",
             "'" + printable(n, 80) + "' differs from the file name '" + f.name + "'");
  }
  if (root["description"]) f.description = r.string(root["description"], "description");

  if (!root["detect"]) r.fail(root, "detect", "missing; expected model_types and/or architectures");
  const YAML::Node detect = root["detect"];
  r.check_keys(detect, "detect", {"model_types", "architectures"});
  if (detect["model_types"]) f.model_types = r.strings(detect["model_types"], "detect.model_types");
  if (detect["architectures"])
    f.architectures = r.strings(detect["architectures"], "detect.architectures");
  if (f.model_types.empty() && f.architectures.empty())
    r.fail(detect, "detect", "expected at least one model_type or architecture");

  if (!root["config_keys"]) r.fail(root, "config_keys", "missing");
  const auto& canon = canonical_config_names();
  const YAML::Node keys = root["config_keys"];
  r.check_keys(keys, "config_keys", canon);
  for (const auto& key : r.keys(keys, "config_keys")) {
    f.config_keys[key] = r.strings(keys[key], "config_keys." + key);
    if (f.config_keys[key].empty())
      r.fail(keys[key], "config_keys." + key, "expected at least one key");
  }
  for (const char* required : {"num_layers", "hidden_size"})
    if (!f.config_keys.count(required))
      r.fail(keys, std::string("config_keys.") + required, "missing; every family needs it");

  if (const YAML::Node d = root["config_defaults"]) {
    r.check_keys(d, "config_defaults", canon);
    for (const auto& key : r.keys(d, "config_defaults")) {
      const std::string path = "config_defaults." + key;
      if (d[key].IsMap()) r.fail(d[key], path, "expected a scalar or a list");
      f.config_defaults[key] = r.to_json(d[key], path);
    }
  }

  if (root["activation"]) {
    const std::string a = r.string(root["activation"], "activation");
    if (a == "silu")
      f.activation = Activation::SiLU;
    else if (a == "gelu")
      f.activation = Activation::GELU;
    else if (a == "gelu_tanh")
      f.activation = Activation::GELUTanh;
    else if (a == "clamped_swiglu")
      f.activation = Activation::ClampedSwiGLU;
    else
      r.fail(root["activation"], "activation",
             "'" + a + "': expected silu, gelu, gelu_tanh or clamped_swiglu");
  }

  if (const YAML::Node n = root["routing"]) {
    parse_routing(n, r, "routing").apply(f.routing);
    if (f.routing.topk_group > f.routing.n_group)
      r.fail(n["topk_group"], "routing.topk_group", "must not exceed n_group");
  }
  if (const YAML::Node n = root["moe_layers"]) f.moe_layers = parse_moe_layers(f, n, r);
  if (const YAML::Node n = root["topk_method"]) {
    for (const auto& method : r.keys(n, "topk_method"))
      f.topk_methods[method] = parse_routing(n[method], r, "topk_method." + method);
    if (!f.config_keys.count("topk_method") && !f.config_defaults.count("topk_method"))
      r.fail(n, "topk_method", "needs config_keys.topk_method or config_defaults.topk_method");
  } else if (f.config_keys.count("topk_method")) {
    r.fail(keys["topk_method"], "config_keys.topk_method",
           "needs a topk_method section mapping each value to its routing");
  }

  if (const YAML::Node n = root["layouts"]) {
    if (!n.IsSequence()) r.fail(n, "layouts", "expected a list of layouts");
    std::set<std::string> names;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string path = YamlReader::index("layouts", i);
      f.layouts.push_back(parse_layout(n[i], r, path));
      if (!names.insert(f.layouts.back().name).second)
        r.fail(n[i]["name"], path + ".name",
               "'" + f.layouts.back().name + "' is used by an earlier layout");
    }
  }
  if (!f.layouts.empty()) {
    for (const char* required : {"num_experts", "top_k", "expert_intermediate_size"})
      if (!f.config_keys.count(required) && !f.config_defaults.count(required))
        r.fail(keys, std::string("config_keys.") + required,
               "missing; an MoE family (one with layouts) needs it");
  }

  if (const YAML::Node n = root["dense"]) {
    DenseTensorNames& d = f.dense;
    const std::pair<const char*, std::string DenseTensorNames::*> patterns[] = {
        {"embed", &DenseTensorNames::embed},
        {"lm_head", &DenseTensorNames::lm_head},
        {"final_norm", &DenseTensorNames::final_norm},
        {"input_norm", &DenseTensorNames::input_norm},
        {"post_attention_norm", &DenseTensorNames::post_attention_norm},
        {"q_proj", &DenseTensorNames::q_proj},
        {"k_proj", &DenseTensorNames::k_proj},
        {"v_proj", &DenseTensorNames::v_proj},
        {"o_proj", &DenseTensorNames::o_proj},
        {"dense_act", &DenseTensorNames::dense_act},
        {"dense_up", &DenseTensorNames::dense_up},
        {"dense_down", &DenseTensorNames::dense_down}};
    std::set<std::string> keys = {"extra"};
    for (const auto& [key, member] : patterns) keys.insert(key);
    r.check_keys(n, "dense", keys);
    for (const auto& [key, member] : patterns) optional_pattern(r, n, "dense", key, d.*member);
    const int ffn = !d.dense_act.empty() + !d.dense_up.empty() + !d.dense_down.empty();
    if (ffn != 0 && ffn != 3) r.fail(n, "dense", "dense_act, dense_up and dense_down go together");
    if (const YAML::Node extra = n["extra"]) {
      for (const auto& key : r.keys(extra, "dense.extra"))
        d.extra[key] = read_pattern(r, extra[key], "dense.extra." + key, false);
    }
  }
  if (f.layouts.empty() && f.dense.dense_act.empty())
    r.fail(root, "layouts",
           "a family needs MoE layouts, or dense.dense_act/up/down for a dense model");
  return f;
}

std::vector<Family> load_families(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InputError(dir.string(), "", "not a directory of family files (*.yaml)");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw InputError(dir.string(), "", "no family files (*.yaml) in it");
  std::vector<Family> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(load_family(f));
  return out;
}

std::filesystem::path default_families_dir() {
  return data_subdir("families", "MOEPROBE_FAMILIES");
}

const Family& detect_family(const std::vector<Family>& families, const nlohmann::json& config,
                            const std::string& config_path, const std::string& forced) {
  auto known = [&] {
    std::string list;
    for (const auto& f : families) list += (list.empty() ? "" : ", ") + f.name;
    return list;
  };
  if (!forced.empty()) {
    for (const auto& f : families)
      if (f.name == forced) return f;
    throw InputError("--family", forced, "unknown family; known families: " + known());
  }
  std::string model_type;
  if (config.contains("model_type") && config["model_type"].is_string())
    model_type = config["model_type"].get<std::string>();
  if (!model_type.empty()) {
    for (const auto& f : families)
      if (std::find(f.model_types.begin(), f.model_types.end(), model_type) != f.model_types.end())
        return f;
  }
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const auto& a : config["architectures"]) {
      if (!a.is_string()) continue;
      for (const auto& f : families)
        if (std::find(f.architectures.begin(), f.architectures.end(), a.get<std::string>()) !=
            f.architectures.end())
          return f;
    }
  }
  const std::string seen =
      model_type.empty() ? "no model_type" : "'" + printable(model_type, 80) + "'";
  throw InputError(config_path, "model_type",
                   seen + " (and architectures) match no known family; known families: " + known() +
                       " (choose one with --family NAME or add configs/families/NAME.yaml)");
}

std::string expand_pattern(const std::string& pattern, int layer, int expert) {
  std::string out;
  out.reserve(pattern.size() + 8);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 3, "{L}") == 0) {
      out += std::to_string(layer);
      i += 2;
    } else if (pattern.compare(i, 3, "{E}") == 0) {
      out += std::to_string(expert);
      i += 2;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

}  // namespace moeprobe
