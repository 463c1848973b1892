// results.json: the machine-readable record of a run (schema in reports/results.schema.json), and
// beside it tables.safetensors with its numeric detail tables (reports/results_tables.h).
// Non-finite numbers are written as null and read back as NaN.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "reports/results_tables.h"
#include "suite/result.h"

namespace moeprobe {

// 2: detail tables (matrices, lists of records) written once in the top-level `tables` and
// referenced as {"$table": KEY} (docs/reports.md). 3: the numeric ones in the tables file, a stub
// in `tables`. Versions 1 (every detail inline) and 2 are still read.
inline constexpr int kResultsSchemaVersion = 3;
inline constexpr int kOldestResultsSchemaVersion = 1;

// What the table references of a file may resolve to, in numbers (one per matrix element, record
// field or empty row): a reference to a big table costs a few bytes of results.json but a copy in
// memory. The synthetic 64-layer, 256-expert run of tests/reports/test_html_scale.cpp needs 55 M.
inline constexpr uint64_t kMaxResolvedTableNumbers = 1ull << 29;

// results.json's JSON (keys in the schema's order, schema_version first, the shared tables last)
// and its tables file's tensors, which refer into the RunResult: it must outlive the document.
struct ResultsDocument {
  nlohmann::ordered_json json;
  TablesFileWriter tables;
};
ResultsDocument results_document(const RunResult& r);
nlohmann::ordered_json results_to_json(const RunResult& r);
// Pretty-printed (a table one row per line), newline-terminated.
std::string render_results_json(ResultsDocument doc);
std::string render_results_json(const RunResult& r);

// Resolve: the details' table references are replaced by their tables (from the tables file for
// version 3, found beside `file`). Skip: they are left as they are (`compare` reads the values
// only, so a results.json compares without its tables file).
enum class DetailTables { Resolve, Skip };
// Throws InputError(file, field, what was expected) when a required field is missing or mistyped.
RunResult results_from_json(const nlohmann::json& j, const std::string& file,
                            DetailTables tables = DetailTables::Resolve);
RunResult load_results(const std::string& path, DetailTables tables = DetailTables::Resolve);

// Every table of r's details as results.json and its tables file keep it (floats as F32): `run`
// renders its reports from this, so `moeprobe report` regenerates them identically.
void keep_tables_as_stored(RunResult& r);

}  // namespace moeprobe
