#include "reports/json_report.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

namespace {

nlohmann::ordered_json num(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

// Reading helpers that name the field on error.
struct Reader {
  std::string file;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw InputError(file, field, what);
  }
  const nlohmann::json& at(const nlohmann::json& j, const std::string& key,
                           const std::string& path) const {
    if (!j.is_object() || !j.contains(key)) fail(path + key, "missing");
    return j.at(key);
  }
  std::string str(const nlohmann::json& j, const std::string& key, const std::string& path) const {
    const auto& v = at(j, key, path);
    if (!v.is_string()) fail(path + key, "expected a string");
    return v.get<std::string>();
  }
  std::string str_or(const nlohmann::json& j, const std::string& key,
                     const std::string& path) const {
    if (!j.contains(key) || j.at(key).is_null()) return {};
    return str(j, key, path);
  }
  double number(const nlohmann::json& j, const std::string& key, const std::string& path) const {
    const auto& v = at(j, key, path);
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!v.is_number()) fail(path + key, "expected a number or null");
    return v.get<double>();
  }
  int integer(const nlohmann::json& j, const std::string& key, const std::string& path) const {
    const auto& v = at(j, key, path);
    if (!v.is_number_integer()) fail(path + key, "expected an integer");
    return v.get<int>();
  }
};

Band band_from_json(const nlohmann::json& j) {
  Band b;
  if (j.is_string() && j.get<std::string>() == "last_third") return b;
  if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_number())
    throw std::invalid_argument("expected last_third or [from, to]");
  b.kind = (j[0].is_number_float() || j[1].is_number_float()) ? Band::Kind::Fractions
                                                              : Band::Kind::Positions;
  b.from = j[0].get<double>();
  b.to = j[1].get<double>();
  return b;
}

Aggregate aggregate_from_json(const nlohmann::json& j) {
  Aggregate a;
  static const std::map<std::string, Aggregate::Kind> kinds = {
      {"mean", Aggregate::Kind::Mean},
      {"median", Aggregate::Kind::Median},
      {"min", Aggregate::Kind::Min},
      {"max", Aggregate::Kind::Max},
      {"fraction", Aggregate::Kind::Fraction},
      {"spearman_vs_depth", Aggregate::Kind::SpearmanVsDepth},
      {"band_ratio", Aggregate::Kind::BandRatio},
      {"last_minus_band", Aggregate::Kind::LastMinusBand},
      {"band_mean", Aggregate::Kind::BandMean}};
  std::string name;
  nlohmann::json body;
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object() && j.size() == 1) {
    name = j.begin().key();
    body = j.begin().value();
  } else {
    throw std::invalid_argument("expected an aggregate name or {name: {...}}");
  }
  auto it = kinds.find(name);
  if (it == kinds.end()) throw std::invalid_argument("unknown aggregate \"" + name + "\"");
  a.kind = it->second;
  if (a.kind == Aggregate::Kind::Fraction) a.predicate = Threshold::from_json(body);
  if (a.kind == Aggregate::Kind::BandRatio || a.kind == Aggregate::Kind::LastMinusBand ||
      a.kind == Aggregate::Kind::BandMean) {
    if (!body.is_object() || !body.contains("band")) throw std::invalid_argument("expected {band}");
    a.band = band_from_json(body["band"]);
    if (body.contains("base")) a.base_before = body["base"] == "before";
  }
  return a;
}

}  // namespace

nlohmann::ordered_json results_to_json(const RunResult& r) {
  // Insertion-ordered, so schema_version comes first and fields read in the schema's order.
  using json = nlohmann::ordered_json;
  json out;
  out["schema_version"] = kResultsSchemaVersion;
  out["suite"] = {{"name", r.suite_name},
                  {"path", r.suite_path},
                  {"paper", r.suite_paper},
                  {"description", r.suite_description}};
  out["model"] = {
      {"path", r.model.path},
      {"family", r.model.family},
      {"layout", r.model.layout},
      {"num_layers", r.model.num_layers},
      {"moe_layers", r.model.moe_layers},
      {"num_experts", r.model.num_experts},
      {"top_k", r.model.top_k},
      {"dtypes", r.model.dtypes},
      {"reference_model",
       r.model.reference_model.empty() ? json(nullptr) : json(r.model.reference_model)}};
  out["environment"] = {{"version", r.environment.version},
                        {"git_revision", r.environment.git_revision},
                        {"backend", r.environment.backend},
                        {"device", r.environment.device}};
  if (!r.probe.is_null()) out["probe"] = r.probe;
  json hs = json::array();
  for (const auto& h : r.hypotheses) {
    json per_layer = json::array();
    for (const auto& l : h.per_layer)
      per_layer.push_back({{"layer", l.layer},
                           {"position", l.position},
                           {"value", num(l.value)},
                           {"detail", l.detail}});
    json reference = json::object();
    for (const auto& [model, v] : h.reference) reference[model] = num(v);
    hs.push_back({{"id", h.id},
                  {"finding", h.finding},
                  {"metric", h.metric},
                  {"params", h.params},
                  {"layers", h.layers},
                  {"aggregate", h.aggregate.to_json()},
                  {"outcome", outcome_name(h.outcome)},
                  {"reason", h.reason},
                  {"value", num(h.value)},
                  {"interval", {num(h.lo), num(h.hi)}},
                  {"level", h.level},
                  {"interval_method", h.interval_method},
                  {"interval_over", h.interval_over},
                  {"resamples", h.resamples},
                  {"threshold", h.threshold.to_json()},
                  {"severity", h.severity == Severity::Fail ? "fail" : "warn"},
                  {"reference", reference},
                  {"tolerance", {{"abs", h.tolerance.abs}, {"rel", h.tolerance.rel}}},
                  {"per_layer", per_layer}});
  }
  out["hypotheses"] = hs;
  return out;
}

std::string render_results_json(const RunResult& r) {
  return results_to_json(r).dump(2) + "\n";
}

RunResult results_from_json(const nlohmann::json& j, const std::string& file) {
  Reader rd{file};
  RunResult r;
  if (!j.is_object()) rd.fail("", "expected a JSON object (a moeprobe results.json)");
  if (rd.integer(j, "schema_version", "") != kResultsSchemaVersion)
    rd.fail("schema_version", "expected " + std::to_string(kResultsSchemaVersion));
  const auto& s = rd.at(j, "suite", "");
  r.suite_name = rd.str(s, "name", "suite.");
  r.suite_path = rd.str_or(s, "path", "suite.");
  r.suite_paper = rd.str_or(s, "paper", "suite.");
  r.suite_description = rd.str_or(s, "description", "suite.");
  const auto& m = rd.at(j, "model", "");
  r.model.path = rd.str(m, "path", "model.");
  r.model.family = rd.str_or(m, "family", "model.");
  r.model.layout = rd.str_or(m, "layout", "model.");
  r.model.num_layers = rd.integer(m, "num_layers", "model.");
  r.model.num_experts = rd.integer(m, "num_experts", "model.");
  r.model.top_k = rd.integer(m, "top_k", "model.");
  r.model.reference_model = rd.str_or(m, "reference_model", "model.");
  try {
    r.model.moe_layers = rd.at(m, "moe_layers", "model.").get<std::vector<int>>();
    if (m.contains("dtypes")) r.model.dtypes = m.at("dtypes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    rd.fail("model.moe_layers", "expected a list of integers (and model.dtypes a list of strings)");
  }
  const auto& e = rd.at(j, "environment", "");
  r.environment.version = rd.str(e, "version", "environment.");
  r.environment.git_revision = rd.str_or(e, "git_revision", "environment.");
  r.environment.backend = rd.str_or(e, "backend", "environment.");
  r.environment.device = rd.str_or(e, "device", "environment.");
  if (j.contains("probe") && !j["probe"].is_null()) {
    if (!j["probe"].is_object()) rd.fail("probe", "expected an object (the probe's description)");
    r.probe = j["probe"];
  }

  const auto& hs = rd.at(j, "hypotheses", "");
  if (!hs.is_array()) rd.fail("hypotheses", "expected a list");
  for (std::size_t i = 0; i < hs.size(); ++i) {
    const auto& hj = hs[i];
    const std::string p = "hypotheses[" + std::to_string(i) + "].";
    HypothesisResult h;
    h.id = rd.str(hj, "id", p);
    h.finding = rd.str_or(hj, "finding", p);
    h.metric = rd.str(hj, "metric", p);
    h.params = hj.value("params", nlohmann::json::object());
    h.layers = rd.str_or(hj, "layers", p);
    try {
      h.aggregate = aggregate_from_json(rd.at(hj, "aggregate", p));
    } catch (const std::invalid_argument& ex) {
      rd.fail(p + "aggregate", ex.what());
    }
    try {
      h.outcome = parse_outcome(rd.str(hj, "outcome", p));
    } catch (const std::invalid_argument& ex) {
      rd.fail(p + "outcome", ex.what());
    }
    h.reason = rd.str_or(hj, "reason", p);
    h.value = rd.number(hj, "value", p);
    const auto& iv = rd.at(hj, "interval", p);
    if (!iv.is_array() || iv.size() != 2) rd.fail(p + "interval", "expected [lo, hi]");
    h.lo = iv[0].is_number() ? iv[0].get<double>() : std::numeric_limits<double>::quiet_NaN();
    h.hi = iv[1].is_number() ? iv[1].get<double>() : std::numeric_limits<double>::quiet_NaN();
    h.level = rd.number(hj, "level", p);
    h.interval_method = rd.str_or(hj, "interval_method", p);
    h.interval_over = rd.str_or(hj, "interval_over", p);
    if (hj.contains("resamples") && hj["resamples"].is_number_integer())
      h.resamples = hj["resamples"].get<int>();
    try {
      h.threshold = Threshold::from_json(rd.at(hj, "threshold", p));
    } catch (const std::invalid_argument& ex) {
      rd.fail(p + "threshold", ex.what());
    }
    const std::string sev = rd.str(hj, "severity", p);
    if (sev != "fail" && sev != "warn") rd.fail(p + "severity", "expected fail or warn");
    h.severity = sev == "fail" ? Severity::Fail : Severity::Warn;
    if (hj.contains("reference") && hj["reference"].is_object())
      for (const auto& [model, v] : hj["reference"].items())
        h.reference[model] =
            v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
    if (hj.contains("tolerance")) {
      const auto& t = hj["tolerance"];
      h.tolerance.abs = rd.number(t, "abs", p + "tolerance.");
      h.tolerance.rel = rd.number(t, "rel", p + "tolerance.");
    }
    const auto& pl = rd.at(hj, "per_layer", p);
    if (!pl.is_array()) rd.fail(p + "per_layer", "expected a list");
    for (std::size_t k = 0; k < pl.size(); ++k) {
      const std::string lp = p + "per_layer[" + std::to_string(k) + "].";
      LayerResult l;
      l.layer = rd.integer(pl[k], "layer", lp);
      l.position = pl[k].contains("position") ? rd.integer(pl[k], "position", lp) : 0;
      l.value = rd.number(pl[k], "value", lp);
      l.detail = pl[k].value("detail", nlohmann::json::object());
      h.per_layer.push_back(std::move(l));
    }
    r.hypotheses.push_back(std::move(h));
  }
  return r;
}

RunResult load_results(const std::string& path) {
  return results_from_json(read_json_file(path, "results file"), path);
}

}  // namespace moeprobe
