// results.json: the machine-readable record of a run (schema in reports/results.schema.json).
// Non-finite numbers are written as null and read back as NaN.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "suite/result.h"

namespace moeprobe {

inline constexpr int kResultsSchemaVersion = 1;

// Keys in the schema's order, schema_version first.
nlohmann::ordered_json results_to_json(const RunResult& r);
std::string render_results_json(const RunResult& r);  // pretty-printed, newline-terminated
// Throws InputError(file, field, what was expected) when a required field is missing or mistyped.
RunResult results_from_json(const nlohmann::json& j, const std::string& file);
RunResult load_results(const std::string& path);

}  // namespace moeprobe
