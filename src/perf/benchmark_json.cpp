#include "perf/benchmark_json.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe::perf {

namespace {

using nlohmann::json;

// Fields of a run that are bookkeeping, not measurements; every other number is a counter.
const std::set<std::string> kNotCounters = {"family_index", "per_family_instance_index",
                                            "repetitions",  "repetition_index",
                                            "threads",      "iterations",
                                            "real_time",    "cpu_time"};

double seconds_per_unit(const std::string& unit) {
  if (unit == "ns") return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return 0;
}

struct Entry {
  double real_ns = 0, cpu_ns = 0;
  std::map<std::string, double> counters;
};

struct Group {
  std::vector<Entry> iterations;
  std::map<std::string, Entry> aggregates;  // by aggregate_name
  std::string error;
};

}  // namespace

const BenchmarkSamples* BenchmarkFile::find(const std::string& name) const {
  for (const auto& b : benchmarks)
    if (b.name == name) return &b;
  return nullptr;
}

BenchmarkFile parse_benchmark_json(const std::string& text, const std::string& label) {
  const json doc = parse_json(text, label);
  if (!doc.is_object()) throw InputError(label, "", "expected a Google Benchmark JSON object");
  if (!doc.contains("benchmarks") || !doc["benchmarks"].is_array())
    throw InputError(label, "benchmarks",
                     "missing or not an array (is this --benchmark_out_format=json output?)");

  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  const json& list = doc["benchmarks"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& b = list[i];
    const std::string at = "benchmarks[" + std::to_string(i) + "]";
    auto fail = [&](const std::string& field, const std::string& what) -> void {
      throw InputError(label, at + (field.empty() ? "" : "." + field), what);
    };
    if (!b.is_object()) fail("", "expected an object");
    // Optional fields have a type too: nlohmann's value(key, default) throws on a wrong one.
    const auto optional_string = [&](const char* field, std::string fallback) {
      if (!b.contains(field)) return fallback;
      if (!b[field].is_string()) fail(field, "expected a string");
      return b[field].get<std::string>();
    };
    if (!b.contains("name") || !b["name"].is_string()) fail("name", "missing or not a string");
    const std::string name = b["name"];
    const std::string run_name = optional_string("run_name", name);
    // The gate matches names against the thresholds' patterns with std::regex, whose stack use
    // grows with the subject's length; real names are a few dozen characters.
    const auto check_length = [&](const char* field, const std::string& value) {
      if (value.size() > kMaxBenchmarkNameBytes)
        fail(field, "a name of " + std::to_string(value.size()) + " bytes; expected at most " +
                        std::to_string(kMaxBenchmarkNameBytes));
    };
    check_length("name", name);
    check_length("run_name", run_name);
    const std::string run_type = optional_string("run_type", "iteration");
    if (run_type != "iteration" && run_type != "aggregate")
      fail("run_type",
           "expected \"iteration\" or \"aggregate\", got \"" + printable(run_type, 80) + "\"");
    if (!groups.count(run_name)) order.push_back(run_name);
    Group& g = groups[run_name];

    if (b.contains("error_occurred") && !b["error_occurred"].is_boolean())
      fail("error_occurred", "expected true or false");
    if (b.value("error_occurred", false)) {
      g.error = optional_string("error_message", "error_occurred");
      if (g.error.empty()) g.error = "error_occurred";
      continue;
    }
    // Aggregates in percent (the coefficient of variation) are not measurements of the benchmark.
    if (run_type == "aggregate" && optional_string("aggregate_unit", "time") != "time") continue;

    Entry e;
    if (!b.contains("time_unit") || !b["time_unit"].is_string())
      fail("time_unit", "missing or not a string");
    const double scale = seconds_per_unit(b["time_unit"]);
    if (scale == 0)
      fail("time_unit", "expected ns, us, ms or s, got \"" +
                            printable(b["time_unit"].get<std::string>(), 80) + "\"");
    for (const char* field : {"real_time", "cpu_time"}) {
      if (!b.contains(field) || !b[field].is_number()) fail(field, "missing or not a number");
      const double v = b[field].get<double>();
      if (!(v >= 0)) fail(field, "expected a non-negative time");
      (std::string(field) == "real_time" ? e.real_ns : e.cpu_ns) = v * scale;
    }
    for (const auto& [key, value] : b.items())
      if (value.is_number() && !kNotCounters.count(key)) e.counters[key] = value.get<double>();

    if (run_type == "iteration") {
      g.iterations.push_back(std::move(e));
    } else {
      if (!b.contains("aggregate_name") || !b["aggregate_name"].is_string())
        fail("aggregate_name", "missing or not a string (run_type is \"aggregate\")");
      g.aggregates[b["aggregate_name"]] = std::move(e);
    }
  }

  BenchmarkFile file;
  file.path = label;
  std::size_t aggregate_only = 0;
  for (const auto& name : order) {
    const Group& g = groups[name];
    BenchmarkSamples s;
    s.name = name;
    s.error = g.error;
    std::vector<const Entry*> entries;
    for (const auto& e : g.iterations) entries.push_back(&e);
    if (entries.empty() && g.error.empty()) {
      auto it = g.aggregates.find("median");
      if (it == g.aggregates.end()) it = g.aggregates.find("mean");
      if (it == g.aggregates.end()) continue;  // only stddev/cv and the like: nothing to compare
      entries.push_back(&it->second);
      s.aggregates_only = true;
      ++aggregate_only;
    }
    for (const Entry* e : entries) {
      s.real_time_ns.push_back(e->real_ns);
      s.cpu_time_ns.push_back(e->cpu_ns);
      for (const auto& [k, v] : e->counters) s.counters[k].push_back(v);
    }
    file.benchmarks.push_back(std::move(s));
  }
  if (aggregate_only > 0)
    file.warnings.push_back(label + ": " + std::to_string(aggregate_only) +
                            " benchmark(s) have aggregates only (run without "
                            "--benchmark_report_aggregates_only): no test is possible for them");
  return file;
}

BenchmarkFile load_benchmark_json(const std::filesystem::path& path) {
  return parse_benchmark_json(read_text_file(path, "benchmark JSON file"), path.string());
}

}  // namespace moeprobe::perf
