#include "suite/schema.h"

#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "metrics/metric.h"
#include "util/error.h"

namespace moeprobe {

namespace {

// Validation context: the file label and helpers that throw InputError with a line number.
struct Validator {
  std::string file;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& what) const {
    const int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    std::string field = line > 0 ? "line " + std::to_string(line) : std::string();
    if (!key.empty()) field += (field.empty() ? "" : ": ") + key;
    throw InputError(file, field, what);
  }

  void check_map(const YAML::Node& n, const std::string& key) const {
    if (!n.IsMap()) fail(n, key, "expected a mapping");
  }

  void check_keys(const YAML::Node& n, const std::string& path,
                  const std::set<std::string>& allowed) const {
    check_map(n, path);
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, join(path, k), "unknown key; expected one of: " + list);
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::string string_of(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a string");
    return n.Scalar();
  }

  double number_of(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar() && n.Tag() != "!") {
      const std::string& s = n.Scalar();
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return v;
    }
    fail(n, key, "expected a number");
  }

  long integer_of(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar() && n.Tag() != "!") {
      const std::string& s = n.Scalar();
      static const std::regex int_re(R"(^[+-]?\d+$)");
      if (std::regex_match(s, int_re)) return std::stol(s);
    }
    fail(n, key, "expected an integer");
  }
};

// Converts a YAML node to JSON for metric params: plain scalars become bool/int/float when they
// read as one, quoted scalars stay strings.
nlohmann::json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& item : n) a.push_back(to_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      static const std::regex int_re(R"(^[+-]?\d+$)");
      static const std::regex float_re(R"(^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$)");
      if (std::regex_match(s, int_re)) {
        try {
          return std::stoll(s);
        } catch (...) {
        }
      }
      if (std::regex_match(s, float_re)) return std::stod(s);
      return s;
    }
  }
  return nullptr;
}

LayerSelector parse_selector(const Validator& v, const YAML::Node& n, const std::string& key) {
  std::string text;
  if (n.IsSequence()) {
    text = "[";
    bool first = true;
    for (const auto& item : n) {
      text += (first ? "" : ", ") + std::to_string(v.integer_of(item, key));
      first = false;
    }
    text += "]";
  } else if (n.IsScalar()) {
    text = n.Scalar();
  } else {
    v.fail(n, key, "expected a layer selector string or a list of positions");
  }
  std::string error;
  auto sel = parse_layer_selector(text, &error);
  if (!sel) v.fail(n, key, error);
  return *sel;
}

Threshold parse_expect(const Validator& v, const YAML::Node& n, const std::string& key) {
  const std::string text = v.string_of(n, key);
  auto t = parse_threshold(text);
  if (!t)
    v.fail(n, key,
           "\"" + text +
               "\" is not an expectation; expected \">= X\", \"<= X\", \"> X\", \"< X\" or "
               "\"in [LO, HI]\" with LO <= HI");
  return *t;
}

Band parse_band(const Validator& v, const YAML::Node& n, const std::string& key) {
  const char* expected =
      "expected last_third or [from, to]: MoE layer positions (integers) or fractions of depth "
      "(floats in [0, 1], e.g. [0.69, 0.94])";
  Band b;
  if (n.IsScalar()) {
    if (n.Scalar() == "last_third") return b;
    v.fail(n, key, expected);
  }
  if (!n.IsSequence() || n.size() != 2) v.fail(n, key, expected);
  const bool fractional = n[0].Scalar().find_first_of(".eE") != std::string::npos ||
                          n[1].Scalar().find_first_of(".eE") != std::string::npos;
  if (fractional) {
    b.kind = Band::Kind::Fractions;
    b.from = v.number_of(n[0], key + "[0]");
    b.to = v.number_of(n[1], key + "[1]");
    if (b.from < 0 || b.to > 1 || b.from > b.to)
      v.fail(n, key, "fractions must satisfy 0 <= from <= to <= 1");
  } else {
    b.kind = Band::Kind::Positions;
    b.from = static_cast<double>(v.integer_of(n[0], key + "[0]"));
    b.to = static_cast<double>(v.integer_of(n[1], key + "[1]"));
    if ((b.from >= 0) == (b.to >= 0) && b.from > b.to)
      v.fail(n, key, "band positions must satisfy from <= to");
  }
  return b;
}

Aggregate parse_aggregate(const Validator& v, const YAML::Node& n, const std::string& key) {
  const char* expected =
      "expected mean, median, min, max, spearman_vs_depth, or a mapping with one of fraction "
      "{op, value}, band_ratio {band, base}, last_minus_band {band}, band_mean {band}";
  Aggregate a;
  if (n.IsScalar()) {
    static const std::map<std::string, Aggregate::Kind> simple = {
        {"mean", Aggregate::Kind::Mean},
        {"median", Aggregate::Kind::Median},
        {"min", Aggregate::Kind::Min},
        {"max", Aggregate::Kind::Max},
        {"spearman_vs_depth", Aggregate::Kind::SpearmanVsDepth}};
    auto it = simple.find(n.Scalar());
    if (it == simple.end()) v.fail(n, key, "unknown aggregate \"" + n.Scalar() + "\"; " + expected);
    a.kind = it->second;
    return a;
  }
  if (!n.IsMap() || n.size() != 1) v.fail(n, key, expected);
  const auto kv = *n.begin();
  const std::string kind = kv.first.as<std::string>();
  const YAML::Node body = kv.second;
  const std::string sub = key + "." + kind;
  if (kind == "fraction") {
    a.kind = Aggregate::Kind::Fraction;
    if (body.IsScalar()) {  // fraction: "> 0"
      auto t = parse_threshold(body.Scalar());
      if (!t || t->op == Threshold::Op::In) v.fail(body, sub, "expected a predicate like \"> 0\"");
      a.predicate = *t;
      return a;
    }
    v.check_keys(body, sub, {"op", "value"});
    if (!body["op"] || !body["value"]) v.fail(body, sub, "expected {op, value}");
    auto op = parse_comparison_op(v.string_of(body["op"], sub + ".op"));
    if (!op) v.fail(body["op"], sub + ".op", "expected one of >, >=, <, <=");
    a.predicate.op = *op;
    a.predicate.value = v.number_of(body["value"], sub + ".value");
    return a;
  }
  if (kind == "band_ratio" || kind == "last_minus_band" || kind == "band_mean") {
    a.kind = kind == "band_ratio"        ? Aggregate::Kind::BandRatio
             : kind == "last_minus_band" ? Aggregate::Kind::LastMinusBand
                                         : Aggregate::Kind::BandMean;
    if (a.kind == Aggregate::Kind::BandRatio)
      v.check_keys(body, sub, {"band", "base"});
    else
      v.check_keys(body, sub, {"band"});
    if (!body["band"]) v.fail(body, sub + ".band", "missing; " + std::string(expected));
    a.band = parse_band(v, body["band"], sub + ".band");
    if (a.kind == Aggregate::Kind::BandRatio && body["base"]) {
      const std::string base = v.string_of(body["base"], sub + ".base");
      if (base != "before" && base != "rest")
        v.fail(body["base"], sub + ".base", "expected before or rest");
      a.base_before = base == "before";
    }
    return a;
  }
  v.fail(kv.first, key, "unknown aggregate \"" + kind + "\"; " + expected);
}

IntervalSpec parse_interval(const Validator& v, const YAML::Node& n, const std::string& key,
                            IntervalSpec spec) {
  v.check_keys(n, key, {"method", "level", "resamples", "seed", "over"});
  if (n["method"]) {
    const std::string m = v.string_of(n["method"], key + ".method");
    if (m != "bootstrap" && m != "none")
      v.fail(n["method"], key + ".method", "expected bootstrap or none");
    spec.method = m == "bootstrap" ? IntervalSpec::Method::Bootstrap : IntervalSpec::Method::None;
  }
  if (n["level"]) {
    spec.level = v.number_of(n["level"], key + ".level");
    if (!(spec.level > 0 && spec.level < 1))
      v.fail(n["level"], key + ".level", "expected a number in (0, 1)");
  }
  if (n["resamples"]) {
    const long r = v.integer_of(n["resamples"], key + ".resamples");
    if (r < 10 || r > 1000000)
      v.fail(n["resamples"], key + ".resamples", "expected an integer in [10, 1000000]");
    spec.resamples = static_cast<int>(r);
  }
  if (n["seed"]) {
    const long s = v.integer_of(n["seed"], key + ".seed");
    if (s < 0) v.fail(n["seed"], key + ".seed", "expected a non-negative integer");
    spec.seed = static_cast<uint64_t>(s);
  }
  if (n["over"]) {
    const std::string o = v.string_of(n["over"], key + ".over");
    if (o != "units" && o != "layers") v.fail(n["over"], key + ".over", "expected units or layers");
    spec.over = o == "units" ? IntervalSpec::Over::Units : IntervalSpec::Over::Layers;
  }
  return spec;
}

Tolerance parse_tolerance(const Validator& v, const YAML::Node& n, const std::string& key,
                          Tolerance t) {
  v.check_keys(n, key, {"abs", "rel"});
  if (n["abs"]) t.abs = v.number_of(n["abs"], key + ".abs");
  if (n["rel"]) t.rel = v.number_of(n["rel"], key + ".rel");
  if (t.abs < 0 || t.rel < 0) v.fail(n, key, "tolerances must be non-negative");
  return t;
}

Suite parse_root(const YAML::Node& root, const std::string& file, const MetricLookup& lookup) {
  Validator v{file};
  Suite suite;
  suite.path = file;
  if (!root.IsDefined() || root.IsNull())
    v.fail(root, "", "the suite is empty; expected a mapping");
  v.check_keys(root, "",
               {"schema", "name", "description", "paper", "defaults", "probe", "hypotheses"});
  if (!root["schema"])
    v.fail(root, "schema", "missing; expected schema: " + std::string(kSuiteSchema));
  if (v.string_of(root["schema"], "schema") != kSuiteSchema)
    v.fail(root["schema"], "schema",
           "unsupported schema \"" + root["schema"].Scalar() + "\"; expected " + kSuiteSchema);
  if (!root["name"]) v.fail(root, "name", "missing; expected the suite's name");
  suite.name = v.string_of(root["name"], "name");
  if (root["description"]) suite.description = v.string_of(root["description"], "description");
  if (root["paper"]) suite.paper = v.string_of(root["paper"], "paper");
  if (root["probe"]) suite.probe = to_json(root["probe"]);

  Tolerance default_tolerance;
  if (const YAML::Node d = root["defaults"]) {
    v.check_keys(d, "defaults", {"layers", "interval", "tolerance"});
    if (d["layers"]) suite.default_layers = parse_selector(v, d["layers"], "defaults.layers");
    if (d["interval"])
      suite.interval = parse_interval(v, d["interval"], "defaults.interval", suite.interval);
    if (d["tolerance"])
      default_tolerance =
          parse_tolerance(v, d["tolerance"], "defaults.tolerance", default_tolerance);
  }

  const YAML::Node hs = root["hypotheses"];
  if (!hs || !hs.IsSequence() || hs.size() == 0)
    v.fail(hs ? hs : root, "hypotheses", "expected a non-empty list of hypotheses");

  static const std::regex id_re("^[a-z0-9-]+$");
  std::set<std::string> ids;
  std::vector<YAML::Node> nodes;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    const YAML::Node h = hs[i];
    const std::string p = "hypotheses[" + std::to_string(i) + "]";
    v.check_keys(h, p,
                 {"id", "finding", "reference", "metric", "params", "layers", "aggregate", "expect",
                  "severity", "requires", "tolerance"});
    Hypothesis hyp;
    hyp.line = h.Mark().line + 1;
    for (const char* required : {"id", "metric", "expect"})
      if (!h[required]) v.fail(h, p + "." + required, "missing required key");
    hyp.id = v.string_of(h["id"], p + ".id");
    if (!std::regex_match(hyp.id, id_re))
      v.fail(h["id"], p + ".id", "expected lowercase letters, digits and '-' only");
    if (!ids.insert(hyp.id).second)
      v.fail(h["id"], p + ".id", "duplicate id \"" + hyp.id + "\"; ids must be unique");
    if (h["finding"]) hyp.finding = v.string_of(h["finding"], p + ".finding");
    if (const YAML::Node r = h["reference"]) {
      v.check_map(r, p + ".reference");
      for (const auto& kv : r) {
        const std::string model = kv.first.as<std::string>();
        hyp.reference[model] = v.number_of(kv.second, p + ".reference." + model);
      }
    }
    hyp.metric = v.string_of(h["metric"], p + ".metric");
    if (h["params"]) {
      v.check_map(h["params"], p + ".params");
      hyp.params = to_json(h["params"]);
    }
    hyp.layers = h["layers"] ? parse_selector(v, h["layers"], p + ".layers") : suite.default_layers;
    if (h["aggregate"]) hyp.aggregate = parse_aggregate(v, h["aggregate"], p + ".aggregate");
    hyp.expect = parse_expect(v, h["expect"], p + ".expect");
    if (h["severity"]) {
      const std::string s = v.string_of(h["severity"], p + ".severity");
      if (s != "fail" && s != "warn")
        v.fail(h["severity"], p + ".severity", "expected fail or warn");
      hyp.severity = s == "fail" ? Severity::Fail : Severity::Warn;
    }
    if (const YAML::Node r = h["requires"]) {
      if (!r.IsSequence()) v.fail(r, p + ".requires", "expected a list, e.g. [reference_model]");
      for (const auto& item : r) {
        if (v.string_of(item, p + ".requires") != "reference_model")
          v.fail(item, p + ".requires",
                 "unknown requirement \"" + item.Scalar() + "\"; expected reference_model");
        hyp.requires_reference_model = true;
      }
    }
    hyp.tolerance = h["tolerance"]
                        ? parse_tolerance(v, h["tolerance"], p + ".tolerance", default_tolerance)
                        : default_tolerance;
    suite.hypotheses.push_back(std::move(hyp));
    nodes.push_back(h);
  }

  // Metrics last: the structure is valid, now the names and their params.
  for (std::size_t i = 0; i < suite.hypotheses.size(); ++i) {
    auto& hyp = suite.hypotheses[i];
    const std::string p = "hypotheses[" + std::to_string(i) + "]";
    const Metric* metric = lookup ? lookup(hyp.metric) : nullptr;
    if (!metric)
      v.fail(nodes[i]["metric"], p + ".metric",
             "unknown metric \"" + hyp.metric + "\" (see moeprobe metrics)");
    // Metrics name the bad parameter; the suite adds where it is.
    try {
      hyp.parsed = metric->parse_params(hyp.params, file);
    } catch (const InputError& e) {
      const YAML::Node at = nodes[i]["params"] ? nodes[i]["params"] : nodes[i];
      v.fail(at, p + "." + e.field(), e.problem());
    }
    hyp.metric_impl = metric;
    if (metric->needs_reference_model()) hyp.requires_reference_model = true;
  }
  return suite;
}

}  // namespace

Suite parse_suite(const std::string& text, const std::string& file, const MetricLookup& lookup) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(file, "line " + std::to_string(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
  return parse_root(root, file, lookup);
}

Suite load_suite(const std::filesystem::path& path, const MetricLookup& lookup) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "", "cannot read the suite file");
  std::stringstream buf;
  buf << in.rdbuf();
  Suite s = parse_suite(buf.str(), path.string(), lookup);
  s.path = path;
  return s;
}

}  // namespace moeprobe
