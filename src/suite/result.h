// The outcome of a suite run: what reports draw and what `compare` reads back from results.json.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/expect.h"
#include "suite/schema.h"

namespace moeprobe {

// PASS: the whole interval meets the expectation. FAIL: the whole interval misses it (WARN when the
// hypothesis has severity warn). INCONCLUSIVE: the interval straddles it. ERROR: the values leave
// it undefined. SKIPPED: it does not apply to this model (a band or selection holding none of its
// layers, Spearman on < 3 layers, no dark cross anywhere) or a requirement (a reference model) was
// not given; the reason says which.
enum class Outcome { Pass, Fail, Warn, Inconclusive, Error, Skipped };
const char* outcome_name(Outcome o);             // "PASS"
Outcome parse_outcome(const std::string& name);  // throws std::invalid_argument

// Their results.json spelling, for nlohmann's to_json/from_json (an unknown string maps to the
// first value: readers check the round trip, reports/json_report.cpp).
NLOHMANN_JSON_SERIALIZE_ENUM(Outcome, {{Outcome::Pass, "PASS"},
                                       {Outcome::Fail, "FAIL"},
                                       {Outcome::Warn, "WARN"},
                                       {Outcome::Inconclusive, "INCONCLUSIVE"},
                                       {Outcome::Error, "ERROR"},
                                       {Outcome::Skipped, "SKIPPED"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Severity, {{Severity::Fail, "fail"}, {Severity::Warn, "warn"}})

struct LayerResult {
  int layer = 0;     // decoder layer index
  int position = 0;  // among the MoE layers
  double value = 0;  // NaN when the metric does not apply to the layer
  nlohmann::json detail = nlohmann::json::object();
};

struct HypothesisResult {
  std::string id, finding, metric;
  nlohmann::json params = nlohmann::json::object();
  std::string layers;  // the selector as written
  Aggregate aggregate;
  Outcome outcome = Outcome::Error;
  std::string reason;  // why ERROR / SKIPPED / INCONCLUSIVE / FAIL, in words
  double value = 0;
  double lo = 0, hi = 0;  // confidence interval (equal to value when method none)
  double level = 0.95;
  std::string interval_method = "bootstrap";  // bootstrap | none
  std::string interval_over = "units";        // units | layers (what was resampled)
  int resamples = 0;
  Threshold threshold;
  Severity severity = Severity::Fail;
  std::map<std::string, double> reference;
  Tolerance tolerance;
  std::vector<LayerResult> per_layer;
  // The probe a dynamic hypothesis ran on (ProbeInfo::to_json); null for static ones.
  nlohmann::json probe;
};

struct ModelInfo {
  std::string path, family, layout;
  int num_layers = 0;
  std::vector<int> moe_layers;
  int num_experts = 0;
  int top_k = 0;
  std::vector<std::string> dtypes;
  std::string reference_model;  // path of --reference-model, empty when none
};

struct EnvironmentInfo {
  std::string version, git_revision, backend, device;
};

struct RunResult {
  std::string suite_name, suite_path, suite_paper, suite_description;
  ModelInfo model;
  EnvironmentInfo environment;
  // The probe the dynamic metrics ran on (ProbeInfo::to_json: name, source, tokens, BOS tokens,
  // sequences); null when the run had none.
  nlohmann::json probe;
  std::vector<HypothesisResult> hypotheses;
};

struct OutcomeCounts {
  int pass = 0, fail = 0, warn = 0, inconclusive = 0, error = 0, skipped = 0;
};
OutcomeCounts count_outcomes(const RunResult& r);
// 0: no FAIL and no ERROR (and no INCONCLUSIVE when strict); 1 otherwise.
int run_exit_code(const RunResult& r, bool strict);

}  // namespace moeprobe
