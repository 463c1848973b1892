#include "suite/schema.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include <limits>

#include "metrics/metric.h"
#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe {

namespace {

using Validator = YamlReader;

// Layer positions and other suite integers: any 64-bit integer; callers check their range.
long integer_of(const YamlReader& v, const YAML::Node& n, const std::string& key) {
  return static_cast<long>(
      v.integer(n, key, std::numeric_limits<long>::min(), std::numeric_limits<long>::max()));
}

LayerSelector parse_selector(const Validator& v, const YAML::Node& n, const std::string& key) {
  std::string text;
  if (n.IsSequence()) {
    text = "[";
    bool first = true;
    for (const auto& item : n) {
      text += (first ? "" : ", ") + std::to_string(integer_of(v, item, key));
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
  const std::string text = v.string(n, key);
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
    b.from = v.number(n[0], key + "[0]");
    b.to = v.number(n[1], key + "[1]");
    if (b.from < 0 || b.to > 1 || b.from > b.to)
      v.fail(n, key, "fractions must satisfy 0 <= from <= to <= 1");
  } else {
    b.kind = Band::Kind::Positions;
    b.from = static_cast<double>(integer_of(v, n[0], key + "[0]"));
    b.to = static_cast<double>(integer_of(v, n[1], key + "[1]"));
    if ((b.from >= 0) == (b.to >= 0) && b.from > b.to)
      v.fail(n, key, "band positions must satisfy from <= to");
  }
  return b;
}

Aggregate parse_aggregate(const Validator& v, const YAML::Node& n, const std::string& key) {
  const char* expected =
      "expected mean, median, min, max, spearman_vs_depth, or a mapping with one of fraction "
      "{op, value}, band_ratio {band, base}, last_minus_band {band, statistic}, band_mean {band}";
  Aggregate a;
  if (n.IsScalar()) {
    static const std::map<std::string, Aggregate::Kind> simple = {
        {"mean", Aggregate::Kind::Mean},
        {"median", Aggregate::Kind::Median},
        {"min", Aggregate::Kind::Min},
        {"max", Aggregate::Kind::Max},
        {"spearman_vs_depth", Aggregate::Kind::SpearmanVsDepth}};
    auto it = simple.find(n.Scalar());
    if (it == simple.end())
      v.fail(n, key, "unknown aggregate \"" + printable(n.Scalar(), 80) + "\"; " + expected);
    a.kind = it->second;
    return a;
  }
  if (!n.IsMap() || n.size() != 1) v.fail(n, key, expected);
  const auto kv = *n.begin();
  if (!kv.first.IsScalar()) v.fail(kv.first, key, std::string("expected a plain key; ") + expected);
  const std::string kind = kv.first.Scalar();
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
    auto op = parse_comparison_op(v.string(body["op"], sub + ".op"));
    if (!op) v.fail(body["op"], sub + ".op", "expected one of >, >=, <, <=");
    a.predicate.op = *op;
    a.predicate.value = v.number(body["value"], sub + ".value");
    return a;
  }
  if (kind == "band_ratio" || kind == "last_minus_band" || kind == "band_mean") {
    a.kind = kind == "band_ratio"        ? Aggregate::Kind::BandRatio
             : kind == "last_minus_band" ? Aggregate::Kind::LastMinusBand
                                         : Aggregate::Kind::BandMean;
    if (a.kind == Aggregate::Kind::BandRatio)
      v.check_keys(body, sub, {"band", "base"});
    else if (a.kind == Aggregate::Kind::LastMinusBand)
      v.check_keys(body, sub, {"band", "statistic"});
    else
      v.check_keys(body, sub, {"band"});
    if (!body["band"]) v.fail(body, sub + ".band", "missing; " + std::string(expected));
    a.band = parse_band(v, body["band"], sub + ".band");
    if (a.kind == Aggregate::Kind::BandRatio && body["base"]) {
      const std::string base = v.string(body["base"], sub + ".base");
      if (base != "before" && base != "rest")
        v.fail(body["base"], sub + ".base", "expected before or rest");
      a.base_before = base == "before";
    }
    if (a.kind == Aggregate::Kind::LastMinusBand && body["statistic"]) {
      const std::string st = v.string(body["statistic"], sub + ".statistic");
      if (st != "mean" && st != "median")
        v.fail(body["statistic"], sub + ".statistic", "expected mean or median");
      a.band_median = st == "median";
    }
    return a;
  }
  v.fail(kv.first, key, "unknown aggregate \"" + kind + "\"; " + expected);
}

IntervalSpec parse_interval(const Validator& v, const YAML::Node& n, const std::string& key,
                            IntervalSpec spec) {
  v.check_keys(n, key, {"method", "level", "resamples", "seed", "over"});
  if (n["method"]) {
    const std::string m = v.string(n["method"], key + ".method");
    if (m != "bootstrap" && m != "none")
      v.fail(n["method"], key + ".method", "expected bootstrap or none");
    spec.method = m == "bootstrap" ? IntervalSpec::Method::Bootstrap : IntervalSpec::Method::None;
  }
  if (n["level"]) {
    spec.level = v.number(n["level"], key + ".level");
    if (!(spec.level > 0 && spec.level < 1))
      v.fail(n["level"], key + ".level", "expected a number in (0, 1)");
  }
  if (n["resamples"]) {
    const long r = integer_of(v, n["resamples"], key + ".resamples");
    if (r < 10 || r > 1000000)
      v.fail(n["resamples"], key + ".resamples", "expected an integer in [10, 1000000]");
    spec.resamples = static_cast<int>(r);
  }
  if (n["seed"]) {
    const long s = integer_of(v, n["seed"], key + ".seed");
    if (s < 0) v.fail(n["seed"], key + ".seed", "expected a non-negative integer");
    spec.seed = static_cast<uint64_t>(s);
  }
  if (n["over"]) {
    const std::string o = v.string(n["over"], key + ".over");
    if (o != "units" && o != "layers") v.fail(n["over"], key + ".over", "expected units or layers");
    spec.over = o == "units" ? IntervalSpec::Over::Units : IntervalSpec::Over::Layers;
  }
  return spec;
}

Tolerance parse_tolerance(const Validator& v, const YAML::Node& n, const std::string& key,
                          Tolerance t) {
  v.check_keys(n, key, {"abs", "rel"});
  if (n["abs"]) t.abs = v.number(n["abs"], key + ".abs");
  if (n["rel"]) t.rel = v.number(n["rel"], key + ".rel");
  if (t.abs < 0 || t.rel < 0) v.fail(n, key, "tolerances must be non-negative");
  return t;
}

Suite parse_root(const YamlReader& v, const YAML::Node& root, const MetricLookup& lookup) {
  const std::string& file = v.file();
  Suite suite;
  suite.path = file;
  if (!root.IsDefined() || root.IsNull())
    v.fail(root, "", "the suite is empty; expected a mapping");
  v.check_keys(root, "",
               {"schema", "name", "description", "paper", "defaults", "probe", "hypotheses"});
  if (!root["schema"])
    v.fail(root, "schema", "missing; expected schema: " + std::string(kSuiteSchema));
  if (v.string(root["schema"], "schema") != kSuiteSchema)
    v.fail(root["schema"], "schema",
           "unsupported schema \"" + printable(root["schema"].Scalar(), 80) + "\"; expected " +
               kSuiteSchema);
  if (!root["name"]) v.fail(root, "name", "missing; expected the suite's name");
  suite.name = v.string(root["name"], "name");
  if (root["description"]) suite.description = v.string(root["description"], "description");
  if (root["paper"]) suite.paper = v.string(root["paper"], "paper");
  if (root["probe"]) suite.probe = v.to_json(root["probe"], "probe");

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

  std::set<std::string> ids;
  std::vector<YAML::Node> nodes;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    const YAML::Node h = hs[i];
    const std::string p = "hypotheses[" + std::to_string(i) + "]";
    v.check_keys(h, p,
                 {"id", "finding", "reference", "metric", "params", "layers", "aggregate", "expect",
                  "severity", "requires", "tolerance", "probe"});
    Hypothesis hyp;
    hyp.line = h.Mark().line + 1;
    for (const char* required : {"id", "metric", "expect"})
      if (!h[required]) v.fail(h, p + "." + required, "missing required key");
    hyp.id = v.string(h["id"], p + ".id");
    const auto id_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    };
    if (hyp.id.empty() || !std::all_of(hyp.id.begin(), hyp.id.end(), id_char))
      v.fail(h["id"], p + ".id", "expected lowercase letters, digits and '-' only");
    if (!ids.insert(hyp.id).second)
      v.fail(h["id"], p + ".id", "duplicate id \"" + hyp.id + "\"; ids must be unique");
    if (h["finding"]) hyp.finding = v.string(h["finding"], p + ".finding");
    if (const YAML::Node r = h["reference"]) {
      v.require_map(r, p + ".reference");
      for (const auto& model : v.keys(r, p + ".reference"))
        hyp.reference[model] = v.number(r[model], p + ".reference." + model);
    }
    hyp.metric = v.string(h["metric"], p + ".metric");
    if (h["params"]) {
      v.require_map(h["params"], p + ".params");
      hyp.params = v.to_json(h["params"], p + ".params");
    }
    hyp.layers = h["layers"] ? parse_selector(v, h["layers"], p + ".layers") : suite.default_layers;
    if (h["aggregate"]) hyp.aggregate = parse_aggregate(v, h["aggregate"], p + ".aggregate");
    hyp.expect = parse_expect(v, h["expect"], p + ".expect");
    if (h["severity"]) {
      const std::string s = v.string(h["severity"], p + ".severity");
      if (s != "fail" && s != "warn")
        v.fail(h["severity"], p + ".severity", "expected fail or warn");
      hyp.severity = s == "fail" ? Severity::Fail : Severity::Warn;
    }
    if (const YAML::Node r = h["requires"]) {
      if (!r.IsSequence()) v.fail(r, p + ".requires", "expected a list, e.g. [reference_model]");
      for (const auto& item : r) {
        if (v.string(item, p + ".requires") != "reference_model")
          v.fail(item, p + ".requires",
                 "unknown requirement \"" + printable(item.Scalar(), 80) +
                     "\"; expected reference_model");
        hyp.requires_reference_model = true;
      }
    }
    if (const YAML::Node pr = h["probe"]) {
      if (!pr.IsScalar() && !pr.IsMap())
        v.fail(pr, p + ".probe",
               "expected a probe like the suite's: long, short, synthetic or a mapping");
      hyp.probe = v.to_json(pr, p + ".probe");
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
             "unknown metric \"" + hyp.metric + "\" (see moeprobe list metrics)");
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
  const YamlReader reader(file);
  return parse_root(reader, reader.parse(text), lookup);
}

Suite load_suite(const std::filesystem::path& path, const MetricLookup& lookup) {
  Suite s = parse_suite(read_text_file(path, "suite file"), path.string(), lookup);
  s.path = path;
  return s;
}

}  // namespace moeprobe
