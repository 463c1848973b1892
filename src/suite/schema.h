// Suite schema v1 (suites/README.md): a YAML file of hypotheses, each a metric over a selection of
// MoE layers, an aggregate, an expectation and a severity. Loading validates strictly: unknown
// keys, unknown metrics or aggregates, malformed operators or selectors throw
// InputError(file, "line N: hypotheses[i].key", what was expected).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/aggregate.h"
#include "suite/expect.h"
#include "suite/layer_select.h"

namespace moeprobe {

class Metric;
struct ParsedParams;

inline constexpr const char* kSuiteSchema = "moeprobe/suite/v1";

struct IntervalSpec {
  enum class Method { Bootstrap, None };
  enum class Over { Units, Layers };
  Method method = Method::Bootstrap;
  double level = 0.95;
  int resamples = 2000;
  uint64_t seed = 1;
  Over over = Over::Units;
};

struct Tolerance {
  double abs = 0.02;
  double rel = 0.05;
};

enum class Severity { Fail, Warn };

struct Hypothesis {
  std::string id;
  std::string finding;
  std::map<std::string, double> reference;  // paper value per model
  std::string metric;
  nlohmann::json params = nlohmann::json::object();  // as written, for reports
  // Set at load: the metric and its params parsed once into the metric's typed value.
  const Metric* metric_impl = nullptr;
  std::shared_ptr<const ParsedParams> parsed;
  LayerSelector layers;
  Aggregate aggregate;
  Threshold expect;
  Severity severity = Severity::Fail;
  bool requires_reference_model = false;
  Tolerance tolerance;
  // The hypothesis's own probe (same forms as the suite's `probe:`); null: the suite's.
  nlohmann::json probe;
  int line = 0;  // 1-based line of the hypothesis in the suite file, for messages
};

struct Suite {
  std::filesystem::path path;
  std::string name, description, paper;
  LayerSelector default_layers;
  IntervalSpec interval;
  nlohmann::json probe;  // passed through for dynamic metrics; unused by static ones
  std::vector<Hypothesis> hypotheses;
  // The probe a hypothesis's dynamic metric runs on: its own, else the suite's (null: none).
  const nlohmann::json& probe_of(const Hypothesis& h) const {
    return h.probe.is_null() ? probe : h.probe;
  }
};

// Finds a metric by name (the registry's find_metric in production; tests may substitute theirs).
using MetricLookup = std::function<const Metric*(const std::string&)>;

// Loads and validates a suite. Structural checks (keys, types, ids, selectors, aggregates,
// operators) come first, then each metric's existence and its params via Metric::validate_params.
Suite load_suite(const std::filesystem::path& path, const MetricLookup& lookup);
Suite parse_suite(const std::string& yaml_text, const std::string& file_label,
                  const MetricLookup& lookup);

}  // namespace moeprobe
