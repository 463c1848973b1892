// Loading model families from YAML. The schema (documented in configs/families/README.md) is
// checked strictly: a typo in a key would otherwise silently fall back to a default and misread a
// checkpoint, so every unknown key is an InputError naming the file and the key path.
#include "model/family.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "util/data_dir.h"
#include "util/error.h"

namespace moeprobe {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::SiLU:
      return "silu";
    case Activation::GELU:
      return "gelu";
    case Activation::GELUTanh:
      return "gelu_tanh";
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
                                              "intermediate_size"};
  return names;
}

// Parsing context: the file for every error and the key path of the node being read.
struct Reader {
  std::string file;

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
    throw InputError(file, path, problem);
  }

  void require_map(const YAML::Node& n, const std::string& path) const {
    if (!n.IsMap()) fail(path, "expected a mapping");
  }

  void check_keys(const YAML::Node& n, const std::string& path,
                  const std::set<std::string>& allowed) const {
    require_map(n, path);
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(join(path, key), "unknown key; expected one of: " + list);
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::string str(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(path, "expected a string");
    return n.as<std::string>();
  }

  bool boolean(const YAML::Node& n, const std::string& path) const {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(path, "expected true or false");
    return v;
  }

  int integer(const YAML::Node& n, const std::string& path, int min_value) const {
    int v = 0;
    if (!n.IsScalar() || !YAML::convert<int>::decode(n, v)) fail(path, "expected an integer");
    if (v < min_value) fail(path, "expected an integer >= " + std::to_string(min_value));
    return v;
  }

  double number(const YAML::Node& n, const std::string& path) const {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) fail(path, "expected a number");
    return v;
  }

  // A string or a list of strings.
  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.as<std::string>());
    } else if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i)
        out.push_back(str(n[i], path + "[" + std::to_string(i) + "]"));
    } else {
      fail(path, "expected a string or a list of strings");
    }
    return out;
  }

  // A tensor-name pattern: a non-empty string whose only braces are {L} and {E}.
  std::string pattern(const YAML::Node& n, const std::string& path, bool needs_expert) const {
    const std::string p = str(n, path);
    if (p.empty()) fail(path, "expected a tensor-name pattern, got an empty string");
    std::string rest = p;
    for (const char* token : {"{L}", "{E}"}) {
      for (auto pos = rest.find(token); pos != std::string::npos; pos = rest.find(token))
        rest.erase(pos, 3);
    }
    if (rest.find('{') != std::string::npos || rest.find('}') != std::string::npos)
      fail(path, "'" + p + "': only {L} (layer) and {E} (expert) may appear in braces");
    if (needs_expert && p.find("{E}") == std::string::npos)
      fail(path, "'" + p + "': a per-expert pattern must contain {E}");
    return p;
  }
};

nlohmann::json yaml_to_json(const YAML::Node& n, const Reader& r, const std::string& path) {
  if (n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    nlohmann::json arr = nlohmann::json::array();
    for (std::size_t i = 0; i < n.size(); ++i)
      arr.push_back(yaml_to_json(n[i], r, path + "[" + std::to_string(i) + "]"));
    return arr;
  }
  if (n.IsMap()) r.fail(path, "expected a scalar or a list");
  // Scalars: keep the JSON type a config.json would have.
  const std::string s = n.as<std::string>();
  if (n.Tag() != "!") {  // unquoted: may be a number or a boolean
    bool b;
    if (YAML::convert<bool>::decode(n, b) && (s == "true" || s == "false")) return b;
    long long i;
    if (YAML::convert<long long>::decode(n, i)) return i;
    double d;
    if (YAML::convert<double>::decode(n, d)) return d;
  }
  return s;
}

ExpertLayout parse_layout(const YAML::Node& n, const Reader& r, const std::string& path) {
  r.check_keys(n, path,
               {"name", "router", "router_bias", "score_correction_bias", "expert_act", "expert_up",
                "expert_down", "fused_gate_up", "fused_down", "shared_act", "shared_up",
                "shared_down", "shared_gate"});
  ExpertLayout l;
  if (!n["name"]) r.fail(path + ".name", "missing; every layout needs a name");
  l.name = r.str(n["name"], path + ".name");
  if (!n["router"]) r.fail(path + ".router", "missing; every layout needs a router pattern");
  l.router = r.pattern(n["router"], path + ".router", false);
  auto opt = [&](const char* key, std::string& dst, bool needs_expert) {
    if (n[key]) dst = r.pattern(n[key], path + "." + key, needs_expert);
  };
  opt("router_bias", l.router_bias, false);
  opt("score_correction_bias", l.score_correction_bias, false);
  opt("expert_act", l.expert_act, true);
  opt("expert_up", l.expert_up, true);
  opt("expert_down", l.expert_down, true);
  opt("fused_gate_up", l.fused_gate_up, false);
  opt("fused_down", l.fused_down, false);
  opt("shared_act", l.shared_act, false);
  opt("shared_up", l.shared_up, false);
  opt("shared_down", l.shared_down, false);
  opt("shared_gate", l.shared_gate, false);

  const bool any_per = !l.expert_act.empty() || !l.expert_up.empty() || !l.expert_down.empty();
  const bool all_per = !l.expert_act.empty() && !l.expert_up.empty() && !l.expert_down.empty();
  const bool any_fused = !l.fused_gate_up.empty() || !l.fused_down.empty();
  const bool all_fused = !l.fused_gate_up.empty() && !l.fused_down.empty();
  if (any_per && any_fused)
    r.fail(path,
           "a layout is either per-expert (expert_act/up/down) or fused "
           "(fused_gate_up/fused_down), not both");
  if (!(all_per || all_fused))
    r.fail(path, "expected expert_act, expert_up and expert_down, or fused_gate_up and fused_down");
  const int shared_given = !l.shared_act.empty() + !l.shared_up.empty() + !l.shared_down.empty();
  if (shared_given != 0 && shared_given != 3)
    r.fail(path, "shared_act, shared_up and shared_down go together");
  if (!l.shared_gate.empty() && shared_given == 0)
    r.fail(path + ".shared_gate", "a shared-expert gate needs shared_act/shared_up/shared_down");
  return l;
}

}  // namespace

Family load_family(const std::filesystem::path& yaml_path) {
  Reader r{yaml_path.string()};
  YAML::Node root;
  try {
    root = YAML::LoadFile(yaml_path.string());
  } catch (const YAML::BadFile&) {
    throw InputError(r.file, "", "cannot read the family file");
  } catch (const YAML::ParserException& e) {
    throw InputError(r.file, "line " + std::to_string(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
  r.check_keys(root, "",
               {"name", "description", "detect", "config_keys", "config_defaults", "activation",
                "routing", "layouts", "dense"});

  Family f;
  f.source = yaml_path;
  f.name = yaml_path.stem().string();
  if (root["name"]) {
    const std::string n = r.str(root["name"], "name");
    if (n != f.name) r.fail("name", "'" + n + "' differs from the file name '" + f.name + "'");
  }
  if (root["description"]) f.description = r.str(root["description"], "description");

  if (!root["detect"]) r.fail("detect", "missing; expected model_types and/or architectures");
  const YAML::Node detect = root["detect"];
  r.check_keys(detect, "detect", {"model_types", "architectures"});
  if (detect["model_types"]) f.model_types = r.strings(detect["model_types"], "detect.model_types");
  if (detect["architectures"])
    f.architectures = r.strings(detect["architectures"], "detect.architectures");
  if (f.model_types.empty() && f.architectures.empty())
    r.fail("detect", "expected at least one model_type or architecture");

  if (!root["config_keys"]) r.fail("config_keys", "missing");
  const auto& canon = canonical_config_names();
  r.check_keys(root["config_keys"], "config_keys", canon);
  for (const auto& kv : root["config_keys"]) {
    const std::string key = kv.first.as<std::string>();
    f.config_keys[key] = r.strings(kv.second, "config_keys." + key);
    if (f.config_keys[key].empty()) r.fail("config_keys." + key, "expected at least one key");
  }
  for (const char* required : {"num_layers", "hidden_size"})
    if (!f.config_keys.count(required))
      r.fail(std::string("config_keys.") + required, "missing; every family needs it");

  if (root["config_defaults"]) {
    r.check_keys(root["config_defaults"], "config_defaults", canon);
    for (const auto& kv : root["config_defaults"]) {
      const std::string key = kv.first.as<std::string>();
      f.config_defaults[key] = yaml_to_json(kv.second, r, "config_defaults." + key);
    }
  }

  if (root["activation"]) {
    const std::string a = r.str(root["activation"], "activation");
    if (a == "silu")
      f.activation = Activation::SiLU;
    else if (a == "gelu")
      f.activation = Activation::GELU;
    else if (a == "gelu_tanh")
      f.activation = Activation::GELUTanh;
    else
      r.fail("activation", "'" + a + "': expected silu, gelu or gelu_tanh");
  }

  if (root["routing"]) {
    const YAML::Node n = root["routing"];
    r.check_keys(n, "routing",
                 {"scoring", "softmax_before_topk", "renormalize", "selection_bias", "n_group",
                  "topk_group", "routed_scaling_factor"});
    RoutingConvention& rc = f.routing;
    if (n["scoring"]) {
      const std::string s = r.str(n["scoring"], "routing.scoring");
      if (s == "softmax")
        rc.scoring = Scoring::Softmax;
      else if (s == "sigmoid")
        rc.scoring = Scoring::Sigmoid;
      else
        r.fail("routing.scoring", "'" + s + "': expected softmax or sigmoid");
    }
    if (n["softmax_before_topk"])
      rc.softmax_before_topk = r.boolean(n["softmax_before_topk"], "routing.softmax_before_topk");
    if (n["renormalize"]) rc.renormalize = r.boolean(n["renormalize"], "routing.renormalize");
    if (n["selection_bias"])
      rc.selection_bias = r.boolean(n["selection_bias"], "routing.selection_bias");
    if (n["n_group"]) rc.n_group = r.integer(n["n_group"], "routing.n_group", 1);
    if (n["topk_group"]) rc.topk_group = r.integer(n["topk_group"], "routing.topk_group", 1);
    if (n["routed_scaling_factor"])
      rc.routed_scaling_factor =
          r.number(n["routed_scaling_factor"], "routing.routed_scaling_factor");
    if (rc.topk_group > rc.n_group) r.fail("routing.topk_group", "must not exceed n_group");
  }

  if (root["layouts"]) {
    const YAML::Node n = root["layouts"];
    if (!n.IsSequence()) r.fail("layouts", "expected a list of layouts");
    std::set<std::string> names;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string path = "layouts[" + std::to_string(i) + "]";
      f.layouts.push_back(parse_layout(n[i], r, path));
      if (!names.insert(f.layouts.back().name).second)
        r.fail(path + ".name", "'" + f.layouts.back().name + "' is used by an earlier layout");
    }
  }
  if (!f.layouts.empty()) {
    for (const char* required : {"num_experts", "top_k", "expert_intermediate_size"})
      if (!f.config_keys.count(required) && !f.config_defaults.count(required))
        r.fail(std::string("config_keys.") + required,
               "missing; an MoE family (one with layouts) needs it");
  }

  if (root["dense"]) {
    const YAML::Node n = root["dense"];
    r.check_keys(n, "dense",
                 {"embed", "lm_head", "final_norm", "input_norm", "post_attention_norm", "q_proj",
                  "k_proj", "v_proj", "o_proj", "dense_act", "dense_up", "dense_down", "extra"});
    DenseTensorNames& d = f.dense;
    auto opt = [&](const char* key, std::string& dst) {
      if (n[key]) dst = r.pattern(n[key], std::string("dense.") + key, false);
    };
    opt("embed", d.embed);
    opt("lm_head", d.lm_head);
    opt("final_norm", d.final_norm);
    opt("input_norm", d.input_norm);
    opt("post_attention_norm", d.post_attention_norm);
    opt("q_proj", d.q_proj);
    opt("k_proj", d.k_proj);
    opt("v_proj", d.v_proj);
    opt("o_proj", d.o_proj);
    opt("dense_act", d.dense_act);
    opt("dense_up", d.dense_up);
    opt("dense_down", d.dense_down);
    const int ffn = !d.dense_act.empty() + !d.dense_up.empty() + !d.dense_down.empty();
    if (ffn != 0 && ffn != 3) r.fail("dense", "dense_act, dense_up and dense_down go together");
    if (n["extra"]) {
      r.require_map(n["extra"], "dense.extra");
      for (const auto& kv : n["extra"]) {
        const std::string key = kv.first.as<std::string>();
        d.extra[key] = r.pattern(kv.second, "dense.extra." + key, false);
      }
    }
  }
  if (f.layouts.empty() && f.dense.dense_act.empty())
    r.fail("layouts", "a family needs MoE layouts, or dense.dense_act/up/down for a dense model");
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
  const std::string seen = model_type.empty() ? "no model_type" : "'" + model_type + "'";
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
