// results.json: the machine-readable record of a run (schema in reports/results.schema.json).
// Non-finite numbers are written as null and read back as NaN.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "suite/result.h"

namespace moeprobe {

// 2: detail tables (matrices, lists of records) written once in the top-level `tables` and
// referenced as {"$table": KEY} (docs/reports.md). Version 1 (every detail inline) is still read.
inline constexpr int kResultsSchemaVersion = 2;
inline constexpr int kOldestResultsSchemaVersion = 1;

// Keys in the schema's order, schema_version first and the shared tables last.
nlohmann::ordered_json results_to_json(const RunResult& r);
// Pretty-printed (a table one row per line), newline-terminated.
std::string render_results_json(const RunResult& r);
// Throws InputError(file, field, what was expected) when a required field is missing or mistyped.
RunResult results_from_json(const nlohmann::json& j, const std::string& file);
RunResult load_results(const std::string& path);

}  // namespace moeprobe
