#include "synth/recipe.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <limits>

#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe::synth {

double Profile::at(int p, int n) const {
  if (!values.empty()) return values.at(static_cast<std::size_t>(p));
  if (first && last) {
    if (p == n - 1 && n > 1 && rebound) return *rebound;
    const int span = rebound ? n - 2 : n - 1;  // the ramp covers the layers before a rebound
    if (span <= 0) return *first;
    const double t = std::min(1.0, static_cast<double>(p) / span);
    return *first + t * (*last - *first);
  }
  return strength;
}

std::optional<DType> parse_synth_dtype(const std::string& s) {
  if (s == "bf16" || s == "BF16") return DType::BF16;
  if (s == "f16" || s == "F16") return DType::F16;
  if (s == "f32" || s == "F32") return DType::F32;
  return std::nullopt;
}

namespace {

// Recipe-specific reading (profiles) over the one strict YAML reader.
class Parser {
 public:
  explicit Parser(std::string file) : y_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& key, const YAML::Node& node,
                         const std::string& problem) const {
    y_.fail(node, key, problem);
  }
  void check_keys(const YAML::Node& map, const std::string& where,
                  const std::set<std::string>& allowed) const {
    y_.check_keys(map, where, allowed);
  }
  std::string string(const YAML::Node& node, const std::string& key, const char* what) const {
    return y_.string(node, key, what);
  }
  bool boolean(const YAML::Node& node, const std::string& key) const {
    return y_.boolean(node, key);
  }
  double number(const YAML::Node& node, const std::string& key, double lo, double hi) const {
    return y_.number(node, key, lo, hi);
  }
  int64_t integer(const YAML::Node& node, const std::string& key, int64_t lo, int64_t hi) const {
    return y_.integer(node, key, lo, hi);
  }

  std::vector<int> int_list(const YAML::Node& node, const std::string& key, int lo, int hi) const {
    if (!node.IsSequence()) fail(key, node, "expected a list of integers");
    std::vector<int> out;
    for (std::size_t i = 0; i < node.size(); ++i)
      out.push_back(static_cast<int>(integer(node[i], YamlReader::index(key, i), lo, hi)));
    return out;
  }

  const YamlReader& yaml() const { return y_; }

  // A plant: {strength, profile} with strength in [lo, hi]. Extra allowed keys are the caller's.
  Profile profile(const YAML::Node& node, const std::string& key, double lo, double hi,
                  std::set<std::string> extra_keys = {}) const {
    extra_keys.insert("strength");
    extra_keys.insert("profile");
    check_keys(node, key, extra_keys);
    Profile p;
    if (node["strength"])
      p.strength = number(node["strength"], key + ".strength", lo, hi);
    else if (!node["profile"])
      fail(key, node, "expected 'strength' or 'profile'");
    if (const auto pr = node["profile"]) {
      const std::string pk = key + ".profile";
      if (pr.IsSequence()) {
        for (std::size_t i = 0; i < pr.size(); ++i)
          p.values.push_back(number(pr[i], pk + "[" + std::to_string(i) + "]", lo, hi));
        if (p.values.empty()) fail(pk, pr, "expected a non-empty list");
      } else if (pr.IsMap()) {
        check_keys(pr, pk, {"first", "last", "rebound"});
        if (!pr["first"] || !pr["last"]) fail(pk, pr, "expected both 'first' and 'last'");
        p.first = number(pr["first"], pk + ".first", lo, hi);
        p.last = number(pr["last"], pk + ".last", lo, hi);
        if (pr["rebound"]) p.rebound = number(pr["rebound"], pk + ".rebound", lo, hi);
      } else {
        fail(pk, pr, "expected a list of per-layer values or {first, last, rebound}");
      }
    }
    return p;
  }

 private:
  YamlReader y_;
};

// Directories a recipe names are written inside --out: a relative path without "..", "." or NUL.
void require_inside_out(Parser& P, const YAML::Node& node, const std::string& key,
                        const std::string& dir) {
  const std::filesystem::path rel(dir);
  bool inside = !dir.empty() && rel.is_relative() && dir.find('\0') == std::string::npos;
  for (const auto& part : rel) inside = inside && part != ".." && part != ".";
  if (!inside)
    P.fail(key, node,
           "got '" + printable(dir) +
               "', expected a relative directory inside --out (no '..', '.', NUL or leading '/')");
}

}  // namespace

Recipe parse_recipe(const std::string& text, const std::filesystem::path& path,
                    const RecipeOverrides& overrides) {
  const std::string file = path.string();
  Parser P(file);
  const YAML::Node root = P.yaml().parse(text);
  if (!root.IsMap()) throw InputError(file, "", "expected a YAML mapping at the top level");
  P.check_keys(root, "",
               {"schema", "name", "description", "family", "layout", "dtype", "seed", "rng",
                "shard_bytes", "model", "quantization", "plant", "expect"});

  Recipe r;
  r.path = path;
  if (root["schema"]) {
    const auto s = P.string(root["schema"], "schema", "a string");
    if (s != "moeprobe/recipe/v1") P.fail("schema", root["schema"], "expected moeprobe/recipe/v1");
  }
  if (root["name"])
    r.name = P.string(root["name"], "name", "a string");
  else
    r.name = path.stem().string();
  if (root["description"]) r.description = P.string(root["description"], "description", "a string");
  if (!root["family"])
    throw InputError(file, "family", "missing (expected a family name such as mixtral)");
  r.family = P.string(root["family"], "family", "a family name");
  if (r.family.empty() || r.family.find_first_of("/\\.") != std::string::npos)
    P.fail("family", root["family"], "expected a family name such as mixtral");
  if (root["layout"]) {
    r.layout = P.string(root["layout"], "layout", "classic or fused");
    if (r.layout != "classic" && r.layout != "fused")
      P.fail("layout", root["layout"], "expected classic or fused");
  }
  if (root["dtype"]) {
    const auto s = P.string(root["dtype"], "dtype", "bf16, f16 or f32");
    const auto d = parse_synth_dtype(s);
    if (!d) P.fail("dtype", root["dtype"], "expected bf16, f16 or f32, got '" + s + "'");
    r.dtype = *d;
  }
  if (root["seed"])
    r.seed = static_cast<uint64_t>(
        P.integer(root["seed"], "seed", 0, std::numeric_limits<int64_t>::max()));
  if (root["rng"]) {
    const auto s = P.string(root["rng"], "rng", "exact or fast");
    if (s != "exact" && s != "fast") P.fail("rng", root["rng"], "expected exact or fast");
    r.fast_rng = s == "fast";
  }
  if (root["shard_bytes"])
    r.shard_bytes = static_cast<uint64_t>(
        P.integer(root["shard_bytes"], "shard_bytes", 1 << 20, int64_t(1) << 40));

  if (const auto q = root["quantization"]) {
    P.check_keys(q, "quantization", {"scheme", "block", "twin"});
    if (!q["scheme"]) throw InputError(file, "quantization.scheme", "missing (fp8 or mxfp4)");
    r.quant.scheme = P.string(q["scheme"], "quantization.scheme", "fp8 or mxfp4");
    if (r.quant.scheme != "fp8" && r.quant.scheme != "mxfp4")
      P.fail("quantization.scheme", q["scheme"], "expected fp8 or mxfp4");
    if (const auto b = q["block"]) {
      if (r.quant.scheme != "fp8")
        P.fail("quantization.block", b, "only fp8 has a block shape (mxfp4: 32 values a row)");
      if (!b.IsSequence() || b.size() != 2)
        P.fail("quantization.block", b, "expected [rows, cols]");
      r.quant.block_rows = P.integer(b[0], "quantization.block[0]", 1, 1 << 20);
      r.quant.block_cols = P.integer(b[1], "quantization.block[1]", 1, 1 << 20);
    }
    if (q["twin"]) {
      r.quant.twin = P.string(q["twin"], "quantization.twin", "a directory name");
      require_inside_out(P, q["twin"], "quantization.twin", r.quant.twin);
    }
  }

  ModelShape& m = r.shape;
  if (const auto n = root["model"]) {
    P.check_keys(n, "model",
                 {"num_layers", "hidden_size", "intermediate_size", "num_experts", "top_k",
                  "num_shared_experts", "shared_intermediate_size", "dense_intermediate_size",
                  "first_k_dense_replace", "vocab_size", "num_attention_heads",
                  "num_key_value_heads", "router_scale", "residual_scale"});
    auto I = [&](const char* k, int64_t lo, int64_t hi, auto& dst) {
      if (n[k])
        dst = static_cast<std::remove_reference_t<decltype(dst)>>(
            P.integer(n[k], std::string("model.") + k, lo, hi));
    };
    I("num_layers", 1, 4096, m.num_layers);
    I("hidden_size", 1, 1 << 20, m.hidden_size);
    I("intermediate_size", 1, 1 << 22, m.intermediate_size);
    I("num_experts", 1, 4096, m.num_experts);
    I("top_k", 1, 4096, m.top_k);
    I("num_shared_experts", 0, 64, m.num_shared_experts);
    I("shared_intermediate_size", 0, 1 << 22, m.shared_intermediate_size);
    I("dense_intermediate_size", 0, 1 << 22, m.dense_intermediate_size);
    I("first_k_dense_replace", 0, 4096, m.first_k_dense_replace);
    I("vocab_size", 260, 1 << 22, m.vocab_size);
    I("num_attention_heads", 1, 1024, m.num_attention_heads);
    I("num_key_value_heads", 0, 1024, m.num_key_value_heads);
    if (n["router_scale"])
      m.router_scale = P.number(n["router_scale"], "model.router_scale", 1e-3, 1e3);
    if (n["residual_scale"])
      m.residual_scale = P.number(n["residual_scale"], "model.residual_scale", 1e-4, 1.0);
    if (m.top_k > m.num_experts)
      P.fail("model.top_k", n["top_k"] ? n["top_k"] : n,
             "top_k " + std::to_string(m.top_k) + " exceeds num_experts " +
                 std::to_string(m.num_experts));
    if (m.hidden_size % m.num_attention_heads != 0)
      P.fail("model.num_attention_heads", n["num_attention_heads"] ? n["num_attention_heads"] : n,
             "hidden_size must be a multiple of num_attention_heads");
    const int kv = m.num_key_value_heads == 0 ? m.num_attention_heads : m.num_key_value_heads;
    if (m.num_attention_heads % kv != 0)
      P.fail("model.num_key_value_heads", n["num_key_value_heads"],
             "num_attention_heads must be a multiple of num_key_value_heads");
    if (m.first_k_dense_replace >= m.num_layers)
      P.fail("model.first_k_dense_replace", n["first_k_dense_replace"],
             "must leave at least one MoE layer (less than num_layers)");
    if (m.shared_intermediate_size > 0 && m.num_shared_experts <= 0)
      P.fail("model.shared_intermediate_size", n["shared_intermediate_size"],
             "set without num_shared_experts");
  }
  if (overrides.num_layers) {
    if (*overrides.num_layers < 1 || *overrides.num_layers > 4096 ||
        *overrides.num_layers <= m.first_k_dense_replace)
      throw InputError(file, "--layers",
                       "got " + std::to_string(*overrides.num_layers) +
                           ", expected 1 to 4096 (model.num_layers' range) and above "
                           "first_k_dense_replace");
    m.num_layers = *overrides.num_layers;
  }
  if (overrides.seed) r.seed = *overrides.seed;
  if (overrides.dtype) r.dtype = *overrides.dtype;
  const int n_moe = m.num_layers - m.first_k_dense_replace;

  Plants& pl = r.plant;
  if (const auto p = root["plant"]) {
    P.check_keys(p, "plant",
                 {"upcycling", "neuron_order", "mean_neuron", "router_association", "norm_routing",
                  "output_scale", "activation_ratio", "dark_cross", "router_hub"});
    if (p["upcycling"]) {
      pl.upcycling =
          P.profile(p["upcycling"], "plant.upcycling", 0.0, 1.0,
                    {"write_reference", "reference_dir", "reference_family", "spread", "axis"});
      if (p["upcycling"]["axis"])
        pl.upcycling_axis = P.number(p["upcycling"]["axis"], "plant.upcycling.axis", 0.0, 4.0);
      if (p["upcycling"]["spread"])
        pl.upcycling_spread =
            P.number(p["upcycling"]["spread"], "plant.upcycling.spread", 0.0, 0.9);
      if (p["upcycling"]["write_reference"])
        pl.write_reference =
            P.boolean(p["upcycling"]["write_reference"], "plant.upcycling.write_reference");
      if (const auto f = p["upcycling"]["reference_family"]) {
        pl.reference_family = P.string(f, "plant.upcycling.reference_family", "a family name");
        if (pl.reference_family.empty() ||
            pl.reference_family.find_first_of("/\\.") != std::string::npos)
          P.fail("plant.upcycling.reference_family", f, "expected a family name such as mistral");
      }
      if (p["upcycling"]["reference_dir"]) {
        pl.reference_dir =
            P.string(p["upcycling"]["reference_dir"], "plant.upcycling.reference_dir", "a path");
        require_inside_out(P, p["upcycling"]["reference_dir"], "plant.upcycling.reference_dir",
                           pl.reference_dir);
      }
    }
    if (p["neuron_order"])
      pl.neuron_order = P.profile(p["neuron_order"], "plant.neuron_order", 0, 1);
    if (p["mean_neuron"]) {
      pl.mean_neuron =
          P.profile(p["mean_neuron"], "plant.mean_neuron", 0.0, 0.95, {"energy", "rank"});
      if (p["mean_neuron"]["energy"])
        pl.mean_neuron_energy =
            P.number(p["mean_neuron"]["energy"], "plant.mean_neuron.energy", 1e-4, 1.0);
      if (p["mean_neuron"]["rank"])
        pl.mean_neuron_rank =
            static_cast<int>(P.integer(p["mean_neuron"]["rank"], "plant.mean_neuron.rank", 1, 64));
    }
    if (p["router_association"])
      pl.router_association =
          P.profile(p["router_association"], "plant.router_association", 0.0, 0.99);
    if (p["norm_routing"])
      pl.norm_routing = P.profile(p["norm_routing"], "plant.norm_routing", 0.0, 1.0);
    if (p["output_scale"])
      pl.output_scale = P.profile(p["output_scale"], "plant.output_scale", 1e-3, 1e3);
    if (p["activation_ratio"])
      pl.activation_ratio = P.profile(p["activation_ratio"], "plant.activation_ratio", 0.01, 1.0);
    if (const auto d = p["dark_cross"]) {
      P.check_keys(d, "plant.dark_cross", {"experts", "layers"});
      if (!d["experts"]) P.fail("plant.dark_cross", d, "expected 'experts'");
      pl.dark_cross_experts =
          P.int_list(d["experts"], "plant.dark_cross.experts", 0, m.num_experts - 1);
      if (d["layers"])
        pl.dark_cross_layers = P.int_list(d["layers"], "plant.dark_cross.layers", 0, n_moe - 1);
      if (!pl.upcycling)
        P.fail("plant.dark_cross", d,
               "needs plant.upcycling (dark crosses stand out from similar experts)");
    }
    if (const auto h = p["router_hub"]) {
      P.check_keys(h, "plant.router_hub", {"expert", "strength"});
      if (!h["expert"]) P.fail("plant.router_hub", h, "expected 'expert'");
      pl.router_hub_expert =
          static_cast<int>(P.integer(h["expert"], "plant.router_hub.expert", 0, m.num_experts - 1));
      if (h["strength"])
        pl.router_hub_strength = P.number(h["strength"], "plant.router_hub.strength", 1.0, 100.0);
    }
    // Every list profile must give one value per MoE layer.
    auto check_len = [&](const std::optional<Profile>& pr, const char* key) {
      if (pr && !pr->values.empty() && static_cast<int>(pr->values.size()) != n_moe)
        P.fail(std::string("plant.") + key + ".profile", p[key]["profile"],
               "expected " + std::to_string(n_moe) + " values (one per MoE layer), got " +
                   std::to_string(pr->values.size()));
    };
    check_len(pl.upcycling, "upcycling");
    check_len(pl.neuron_order, "neuron_order");
    check_len(pl.mean_neuron, "mean_neuron");
    check_len(pl.router_association, "router_association");
    check_len(pl.norm_routing, "norm_routing");
    check_len(pl.output_scale, "output_scale");
    check_len(pl.activation_ratio, "activation_ratio");
    if (pl.router_association && m.num_experts < 3)
      P.fail("plant.router_association", p["router_association"],
             "needs at least 3 experts (pairs to correlate)");
    if (pl.router_association && !pl.mean_neuron) pl.mean_neuron = Profile{0.3, {}, {}, {}, {}};
    if (pl.write_reference && !pl.upcycling)
      P.fail("plant.upcycling.write_reference", p, "needs plant.upcycling");
  }

  if (const auto e = root["expect"]) {
    if (!e.IsMap()) P.fail("expect", e, "expected a mapping from hypothesis id to PASS or FAIL");
    for (const auto& id : P.yaml().keys(e, "expect")) {
      const auto v = P.string(e[id], "expect." + id, "PASS or FAIL");
      if (v != "PASS" && v != "FAIL" && v != "INCONCLUSIVE")
        P.fail("expect." + id, e[id], "expected PASS, FAIL or INCONCLUSIVE, got '" + v + "'");
      r.expect[id] = v;
    }
  }
  return r;
}

Recipe load_recipe(const std::filesystem::path& path, const RecipeOverrides& overrides) {
  return parse_recipe(read_text_file(path, "recipe file"), path, overrides);
}

}  // namespace moeprobe::synth
