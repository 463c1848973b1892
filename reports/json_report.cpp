#include "reports/json_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "reports/results_tables.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

namespace {

nlohmann::ordered_json num(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

// Reading: results.json maps onto the result types through nlohmann's from_json (below) and
// NLOHMANN_JSON_SERIALIZE_ENUM (suite/result.h). A bad field throws FieldError with its key path
// inside the object being read; each enclosing from_json prefixes its own key, and
// results_from_json turns it into InputError(file, full path, what was expected).
struct FieldError {
  std::string key, what;
};

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  throw FieldError{key, what};
}

const nlohmann::json& at(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key)) bad(key, "missing");
  return j.at(key);
}

std::string str(const nlohmann::json& j, const std::string& key) {
  const auto& v = at(j, key);
  if (!v.is_string()) bad(key, "expected a string");
  return v.get<std::string>();
}

// Absent or null: empty.
std::string str_or(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return {};
  return str(j, key);
}

// null: NaN (what the writer makes of a non-finite value).
double number(const nlohmann::json& j, const std::string& key) {
  const auto& v = at(j, key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!v.is_number()) bad(key, "expected a number or null");
  return v.get<double>();
}

// An int, range-checked: get<int>() on a float is undefined beyond int's range and silently
// truncates a wider integer (a results.json from elsewhere may hold either).
int int_value(const nlohmann::json& v, const std::string& key) {
  const bool fits =
      v.is_number_unsigned()
          ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int>::max())
          : v.is_number_integer() && v.get<int64_t>() >= std::numeric_limits<int>::min() &&
                v.get<int64_t>() <= std::numeric_limits<int>::max();
  if (!fits) bad(key, "expected an integer of at most 2^31 - 1 in magnitude");
  return static_cast<int>(v.get<int64_t>());
}

int integer(const nlohmann::json& j, const std::string& key) {
  return int_value(at(j, key), key);
}

// An enum through NLOHMANN_JSON_SERIALIZE_ENUM, strictly: the macro maps an unknown string to the
// enum's first value, so the value must also convert back to what was written.
template <class E>
E enumerated(const nlohmann::json& j, const std::string& key, const std::string& expected) {
  const auto& v = at(j, key);
  const E e = v.get<E>();
  if (nlohmann::json(e) != v) bad(key, expected);
  return e;
}

// A nested value through its from_json, its errors prefixed with `key`.
template <class T>
void nested(const nlohmann::json& j, const std::string& key, T& out) {
  try {
    at(j, key).get_to(out);
  } catch (const FieldError& e) {
    bad(key + (e.key.empty() || e.key[0] == '[' ? "" : ".") + e.key, e.what);
  }
}

// A list of values through their from_json, errors prefixed with `key[i]`.
template <class T>
void nested_list(const nlohmann::json& j, const std::string& key, std::vector<T>& out) {
  const auto& list = at(j, key);
  if (!list.is_array()) bad(key, "expected a list");
  out.clear();
  for (std::size_t i = 0; i < list.size(); ++i) {
    try {
      out.push_back(list[i].get<T>());
    } catch (const FieldError& e) {
      bad(key + "[" + std::to_string(i) + "]." + e.key, e.what);
    }
  }
}

// A value parsed by a function that throws std::invalid_argument (aggregates, thresholds).
template <class F>
auto parsed(const nlohmann::json& j, const std::string& key, F parse) {
  try {
    return parse(at(j, key));
  } catch (const std::invalid_argument& ex) {
    bad(key, ex.what());
  }
}

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
    if (body.contains("statistic")) a.band_median = body["statistic"] == "median";
  }
  return a;
}

// --- Shared tables (schema_version 2) -------------------------------------------------------
// A detail value that is a table (a non-empty list of rows, lists of numbers or null all of one
// length, or of records, objects) is written once into the top-level `tables` and referenced from
// every detail that holds it as {"$table": KEY}: the hypotheses on one metric (and metrics that
// share an intermediate) carry the same per-layer matrices. Only values reached through objects
// are tables (never one inside a list); writer and reader use the same test.

constexpr const char* kTableRef = "$table";

template <class Json>
bool is_table(const Json& v) {
  if (!v.is_array() || v.empty()) return false;
  if (v.front().is_object()) {
    for (const auto& row : v)
      if (!row.is_object()) return false;
    return true;
  }
  if (!v.front().is_array()) return false;
  for (const auto& row : v) {
    if (!row.is_array() || row.size() != v.front().size()) return false;
    for (const auto& x : row)
      if (!x.is_number() && !x.is_null()) return false;
  }
  return true;
}

bool non_finite_or_null(const nlohmann::json& v) {
  return v.is_null() || (v.is_number_float() && !std::isfinite(v.get<double>()));
}

// Equal as written: a non-finite number is written as null.
bool equal_as_written(const nlohmann::json& a, const nlohmann::json& b) {
  if (non_finite_or_null(a) || non_finite_or_null(b))
    return non_finite_or_null(a) && non_finite_or_null(b);
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!equal_as_written(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
      if (ia.key() != ib.key() || !equal_as_written(ia.value(), ib.value())) return false;
    return true;
  }
  return a == b;
}

std::size_t hash_as_written(const nlohmann::json& v) {
  if (non_finite_or_null(v)) return 0x9e3779b9u;
  std::size_t h = 0;
  auto mix = [&h](std::size_t x) { h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
  if (v.is_array()) {
    for (const auto& x : v) mix(hash_as_written(x));
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      mix(std::hash<std::string>()(it.key()));
      mix(hash_as_written(it.value()));
    }
  } else if (v.is_number()) {
    mix(std::hash<double>()(v.get<double>()));  // 3 and 3.0 compare equal, so hash alike
  } else {
    mix(std::hash<nlohmann::json>()(v));
  }
  return h;
}

// Collects the distinct tables of a run, each under the name of its first appearance:
// "<detail path>@<decoder layer>", with "#2", "#3", ... for a different table under the same name.
// Numeric tables go to the tables file (a stub in `tables`), the others into `tables` inline.
class TableWriter {
 public:
  explicit TableWriter(TablesFileWriter& file) : file_(file) {}
  nlohmann::ordered_json share(const nlohmann::json& detail, const std::string& path, int layer) {
    if (!detail.is_object()) return detail;
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (auto it = detail.begin(); it != detail.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (is_table(it.value()))
        out[it.key()] = {{kTableRef, key_for(it.value(), p, layer)}};
      else if (it.value().is_object())
        out[it.key()] = share(it.value(), p, layer);
      else
        out[it.key()] = it.value();
    }
    return out;
  }
  nlohmann::ordered_json take_tables() { return std::move(tables_); }

 private:
  std::string key_for(const nlohmann::json& table, const std::string& path, int layer) {
    std::vector<std::pair<std::string, const nlohmann::json*>>& same =
        by_hash_[hash_as_written(table)];
    for (const auto& [key, seen] : same)
      if (equal_as_written(*seen, table)) return key;
    const std::string base = path + "@" + std::to_string(layer);
    std::string key = base;
    for (int n = 2; tables_.contains(key); ++n) key = base + "#" + std::to_string(n);
    nlohmann::ordered_json stub = file_.add(table, key);
    if (stub.is_null())
      tables_[key] = table;
    else
      tables_[key] = std::move(stub);
    same.emplace_back(key, &table);
    return key;
  }

  TablesFileWriter& file_;
  nlohmann::ordered_json tables_ = nlohmann::ordered_json::object();
  std::unordered_map<std::size_t, std::vector<std::pair<std::string, const nlohmann::json*>>>
      by_hash_;
};

// The numbers a table holds (a row counts at least one: an empty row is still a value).
uint64_t table_numbers(const nlohmann::json& table) {
  uint64_t n = 0;
  for (const auto& row : table) n += std::max<std::size_t>(1, row.size());
  return n;
}

// Reading: every {"$table": KEY} in the details (reached through objects) replaced by its table,
// from `tables` or the tables file; what they resolve to is bounded by kMaxResolvedTableNumbers.
class TableResolver {
 public:
  TableResolver(const nlohmann::json& tables, TablesFileReader* file)
      : tables_(tables), file_(file) {
    for (auto it = tables.begin(); it != tables.end(); ++it)
      numbers_[it.key()] =
          is_table_stub(it.value()) ? table_stub_numbers(it.value()) : table_numbers(it.value());
  }

  void resolve(nlohmann::json& detail, const std::string& path) {
    if (!detail.is_object()) return;
    for (auto it = detail.begin(); it != detail.end(); ++it) {
      nlohmann::json& v = it.value();
      if (!v.is_object()) continue;
      const std::string p = path + "." + it.key();
      if (!v.contains(kTableRef)) {
        resolve(v, p);
        continue;
      }
      const auto& key = v[kTableRef];
      if (v.size() != 1 || !key.is_string())
        bad(p, "expected a table reference {\"$table\": \"<a key of tables>\"}");
      const auto t = tables_.find(key.get<std::string>());
      if (t == tables_.end())
        bad(p, "refers to table \"" + printable(key.get<std::string>()) +
                   "\", which is not in tables");
      resolved_ += numbers_.at(t.key());
      if (resolved_ > kMaxResolvedTableNumbers)
        bad(p, "the table references resolve to more than " +
                   std::to_string(kMaxResolvedTableNumbers) +
                   " numbers in all (the limit for a results.json, docs/RELIABILITY.md)");
      if (is_table_stub(*t))
        v = file_->table(*t, "tables[\"" + printable(t.key()) + "\"]");
      else
        v = *t;
    }
  }

 private:
  const nlohmann::json& tables_;
  TablesFileReader* file_;
  std::unordered_map<std::string, uint64_t> numbers_;
  uint64_t resolved_ = 0;
};

}  // namespace

ResultsDocument results_document(const RunResult& r) {
  // Insertion-ordered, so schema_version comes first and fields read in the schema's order.
  using json = nlohmann::ordered_json;
  ResultsDocument doc;
  json& out = doc.json;
  out["schema_version"] = kResultsSchemaVersion;
  out["tables_file"] = kTablesFileName;
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
  TableWriter tables(doc.tables);
  for (const auto& h : r.hypotheses) {
    json per_layer = json::array();
    for (const auto& l : h.per_layer)
      per_layer.push_back({{"layer", l.layer},
                           {"position", l.position},
                           {"value", num(l.value)},
                           {"detail", tables.share(l.detail, "", l.layer)}});
    json reference = json::object();
    for (const auto& [model, v] : h.reference) reference[model] = num(v);
    json entry = {{"id", h.id},
                  {"finding", h.finding},
                  {"metric", h.metric},
                  {"params", h.params},
                  {"layers", h.layers},
                  {"aggregate", h.aggregate.to_json()},
                  {"outcome", h.outcome},
                  {"reason", h.reason},
                  {"value", num(h.value)},
                  {"interval", {num(h.lo), num(h.hi)}},
                  {"level", h.level},
                  {"interval_method", h.interval_method},
                  {"interval_over", h.interval_over},
                  {"resamples", h.resamples},
                  {"threshold", h.threshold.to_json()},
                  {"severity", h.severity},
                  {"reference", reference},
                  {"tolerance", {{"abs", h.tolerance.abs}, {"rel", h.tolerance.rel}}},
                  {"per_layer", per_layer}};
    if (!h.probe.is_null()) entry["probe"] = h.probe;
    hs.push_back(std::move(entry));
  }
  out["hypotheses"] = hs;
  out["tables"] = tables.take_tables();
  return doc;
}

nlohmann::ordered_json results_to_json(const RunResult& r) {
  return results_document(r).json;
}

std::string render_results_json(const RunResult& r) {
  return render_results_json(results_document(r));
}

std::string render_results_json(ResultsDocument doc) {
  // Pretty-printed, but an inline table one row per line and a stub on one line: dump(2) would
  // give every number a line of its own (some 36 bytes per number, where it takes about 20).
  nlohmann::ordered_json& j = doc.json;
  const nlohmann::ordered_json tables = std::move(j["tables"]);
  j.erase("tables");
  std::string s = j.dump(2);
  s.erase(s.size() - 2);  // "\n}"
  s += ",\n  \"tables\": {";
  bool first_table = true;
  for (auto it = tables.begin(); it != tables.end(); ++it) {
    s += first_table ? "\n    " : ",\n    ";
    first_table = false;
    s += nlohmann::ordered_json(it.key()).dump() + ": ";
    if (it.value().is_object()) {
      s += it.value().dump();
      continue;
    }
    s += "[";
    bool first_row = true;
    for (const auto& row : it.value()) {
      s += first_row ? "\n      " : ",\n      ";
      first_row = false;
      s += row.dump();
    }
    s += "\n    ]";
  }
  s += first_table ? "}\n}\n" : "\n  }\n}\n";
  return s;
}

void from_json(const nlohmann::json& j, LayerResult& l) {
  l.layer = integer(j, "layer");
  l.position = j.contains("position") ? integer(j, "position") : 0;
  l.value = number(j, "value");
  l.detail = j.value("detail", nlohmann::json::object());
}

void from_json(const nlohmann::json& j, Tolerance& t) {
  t.abs = number(j, "abs");
  t.rel = number(j, "rel");
}

void from_json(const nlohmann::json& j, ModelInfo& m) {
  m.path = str(j, "path");
  m.family = str_or(j, "family");
  m.layout = str_or(j, "layout");
  m.num_layers = integer(j, "num_layers");
  m.num_experts = integer(j, "num_experts");
  m.top_k = integer(j, "top_k");
  m.reference_model = str_or(j, "reference_model");
  const auto& layers = at(j, "moe_layers");
  if (!layers.is_array()) bad("moe_layers", "expected a list of integers");
  m.moe_layers.clear();
  for (std::size_t i = 0; i < layers.size(); ++i)
    m.moe_layers.push_back(int_value(layers[i], "moe_layers[" + std::to_string(i) + "]"));
  try {
    if (j.contains("dtypes")) m.dtypes = j.at("dtypes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    bad("dtypes", "expected a list of strings");
  }
}

void from_json(const nlohmann::json& j, EnvironmentInfo& e) {
  e.version = str(j, "version");
  e.git_revision = str_or(j, "git_revision");
  e.backend = str_or(j, "backend");
  e.device = str_or(j, "device");
}

void from_json(const nlohmann::json& j, HypothesisResult& h) {
  h.id = str(j, "id");
  h.finding = str_or(j, "finding");
  h.metric = str(j, "metric");
  h.params = j.value("params", nlohmann::json::object());
  h.layers = str_or(j, "layers");
  h.aggregate = parsed(j, "aggregate", aggregate_from_json);
  (void)str(j, "outcome");  // "missing" / "expected a string" before the enum check
  h.outcome = enumerated<Outcome>(j, "outcome",
                                  "expected one of PASS, FAIL, WARN, INCONCLUSIVE, ERROR, SKIPPED");
  h.reason = str_or(j, "reason");
  h.value = number(j, "value");
  const auto& iv = at(j, "interval");
  if (!iv.is_array() || iv.size() != 2) bad("interval", "expected [lo, hi]");
  h.lo = iv[0].is_number() ? iv[0].get<double>() : std::numeric_limits<double>::quiet_NaN();
  h.hi = iv[1].is_number() ? iv[1].get<double>() : std::numeric_limits<double>::quiet_NaN();
  h.level = number(j, "level");
  h.interval_method = str_or(j, "interval_method");
  h.interval_over = str_or(j, "interval_over");
  if (j.contains("resamples") && j["resamples"].is_number_integer())
    h.resamples = int_value(j["resamples"], "resamples");
  h.threshold = parsed(j, "threshold", Threshold::from_json);
  (void)str(j, "severity");
  h.severity = enumerated<Severity>(j, "severity", "expected fail or warn");
  if (j.contains("reference") && j["reference"].is_object())
    for (const auto& [model, v] : j["reference"].items())
      h.reference[model] =
          v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
  if (j.contains("tolerance")) nested(j, "tolerance", h.tolerance);
  nested_list(j, "per_layer", h.per_layer);
  if (j.contains("probe") && !j["probe"].is_null()) {
    if (!j["probe"].is_object()) bad("probe", "expected an object (the probe's description)");
    h.probe = j["probe"];
  }
}

void from_json(const nlohmann::json& j, RunResult& r) {
  if (!j.is_object()) bad("", "expected a JSON object (a moeprobe results.json)");
  // Version 1 has every detail inline (no tables); both read into the same result.
  const int version = integer(j, "schema_version");
  if (version < kOldestResultsSchemaVersion || version > kResultsSchemaVersion)
    bad("schema_version", "expected " + std::to_string(kOldestResultsSchemaVersion) + " to " +
                              std::to_string(kResultsSchemaVersion) +
                              " (the results.json versions this moeprobe reads), found " +
                              std::to_string(version));
  const auto& s = at(j, "suite");
  try {
    r.suite_name = str(s, "name");
    r.suite_path = str_or(s, "path");
    r.suite_paper = str_or(s, "paper");
    r.suite_description = str_or(s, "description");
  } catch (const FieldError& e) {
    bad("suite." + e.key, e.what);
  }
  nested(j, "model", r.model);
  nested(j, "environment", r.environment);
  if (j.contains("probe") && !j["probe"].is_null()) {
    if (!j["probe"].is_object()) bad("probe", "expected an object (the probe's description)");
    r.probe = j["probe"];
  }
  nested_list(j, "hypotheses", r.hypotheses);
}

namespace {

// Version 2 and 3: the details' {"$table": KEY} references resolved from `tables` and, for a
// stub (version 3), from the tables file named by tables_file.
// Version 1 has no tables, so {"$table": ...} in its details would be read as a plain object, and
// written again (as version 3) become a reference to a table that is not there: refused, where
// version 2 and 3 would resolve it (through objects, as they do).
void refuse_table_references(const nlohmann::json& detail, const std::string& path) {
  if (!detail.is_object()) return;
  if (detail.contains(kTableRef))
    bad(path,
        "holds \"$table\", a table reference, which schema_version 1 has none of (they came "
        "with version 2)");
  for (auto it = detail.begin(); it != detail.end(); ++it)
    refuse_table_references(it.value(), path + "." + printable(it.key()));
}

void resolve_detail_tables(const nlohmann::json& j, RunResult& r, const std::string& file) {
  const int version = integer(j, "schema_version");
  if (version < 2) {
    for (std::size_t i = 0; i < r.hypotheses.size(); ++i)
      for (std::size_t k = 0; k < r.hypotheses[i].per_layer.size(); ++k) {
        const std::string path =
            "hypotheses[" + std::to_string(i) + "].per_layer[" + std::to_string(k) + "].detail";
        for (auto it = r.hypotheses[i].per_layer[k].detail.begin();
             it != r.hypotheses[i].per_layer[k].detail.end(); ++it)
          refuse_table_references(it.value(), path + "." + printable(it.key()));
      }
    return;
  }
  std::unique_ptr<TablesFileReader> tables_file;
  if (version >= 3 && j.contains("tables_file")) {
    const std::string name = str(j, "tables_file");
    const std::string problem = tables_file_name_problem(name);
    if (!problem.empty()) bad("tables_file", problem);
    tables_file = std::make_unique<TablesFileReader>(file, name);
  }
  static const nlohmann::json no_tables = nlohmann::json::object();
  const nlohmann::json* tables = &no_tables;
  if (j.contains("tables")) {
    tables = &j.at("tables");
    if (!tables->is_object()) bad("tables", "expected an object of tables, by key");
    for (auto it = tables->begin(); it != tables->end(); ++it) {
      const std::string field = "tables[\"" + printable(it.key()) + "\"]";
      if (version >= 3 && is_table_stub(it.value())) {
        if (!tables_file)
          bad(field, "is a stub of the tables file, but results.json names no tables_file");
        tables_file->check(it.value(), field);
      } else if (!is_table(it.value())) {
        bad(field, version >= 3
                       ? "expected a table (a non-empty list of rows, lists of numbers or null "
                         "all of one length, or of records, objects) or a stub of the tables "
                         "file ({\"$tensor\": ...} or {\"$columns\": ...})"
                       : "expected a table: a non-empty list of rows (lists of numbers or null, "
                         "all of one length) or of records (objects)");
      }
    }
  }
  TableResolver resolver(*tables, tables_file.get());
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i)
    for (std::size_t k = 0; k < r.hypotheses[i].per_layer.size(); ++k)
      resolver.resolve(
          r.hypotheses[i].per_layer[k].detail,
          "hypotheses[" + std::to_string(i) + "].per_layer[" + std::to_string(k) + "].detail");
}

}  // namespace

RunResult results_from_json(const nlohmann::json& j, const std::string& file, DetailTables tables) {
  try {
    RunResult r = j.get<RunResult>();
    if (tables == DetailTables::Resolve) resolve_detail_tables(j, r, file);
    return r;
  } catch (const FieldError& e) {
    throw InputError(file, e.key, e.what);
  }
}

RunResult load_results(const std::string& path, DetailTables tables) {
  return results_from_json(read_json_file(path, "results file"), path, tables);
}

void keep_tables_as_stored(RunResult& r) {
  // The tables results_document would find: values reached through objects.
  std::function<void(nlohmann::json&)> walk = [&walk](nlohmann::json& d) {
    if (!d.is_object()) return;
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (is_table(it.value()))
        it.value() = table_as_stored(it.value());
      else
        walk(it.value());
    }
  };
  for (auto& h : r.hypotheses)
    for (auto& l : h.per_layer) walk(l.detail);
}

}  // namespace moeprobe
