// The numeric detail tables of results.json (schema_version 3, docs/reports.md) live in a
// safetensors file beside it, tables.safetensors: as JSON text the E x E matrices of a 256-expert,
// 64-layer run were some 0.5 GB. Rule: a table (a detail value that is a list of rows or of
// records, json_report.cpp) whose every value is a number or null is a tensor there; any other
// table stays inline in results.json's `tables`.
// - a matrix (rows of numbers) is one 2-D tensor named by its table key;
// - a list of records with the same fields is one 1-D tensor per field, "KEY/FIELD".
// dtype: I32 (I64) when every value is an integer that fits, else F32 (F64 when a finite value is
// beyond F32's range); null and non-finite numbers are NaN, read back as null. results.json keeps
// a stub per table naming its tensors with dtype and shape, which the reader checks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/tensor_spec.h"

namespace moeprobe {

class SafetensorsFile;

inline constexpr const char* kTablesFileName = "tables.safetensors";

// One tensor of a tables file: a matrix, or one field of a list of records.
struct TableTensor {
  TensorSpec spec;
  const nlohmann::json* table = nullptr;  // not owned: the run's detail
  std::string field;                      // records: the field; empty for a matrix
};

// Collects the tensors of a run's tables file while results.json is rendered, and writes it.
class TablesFileWriter {
 public:
  // The stub for results.json's `tables` ({"$tensor", "dtype", "shape"} for a matrix,
  // {"$columns": {FIELD: {"$tensor", ...}}} for records) with the table's tensors queued, or null
  // when the table stays inline. `table` must outlive the writer.
  nlohmann::ordered_json add(const nlohmann::json& table, const std::string& key);
  const std::vector<TableTensor>& tensors() const { return tensors_; }
  // Header first, then the tensors one at a time (one table's bytes in memory).
  void write(const std::filesystem::path& path) const;

 private:
  std::string unique_name(const std::string& name);
  std::vector<TableTensor> tensors_;
  std::set<std::string> names_;
};

// The table as its tensors give it back (floats rounded to F32, non-finite numbers null); a table
// that stays inline comes back unchanged. `run` applies it before rendering, so report.html
// regenerated from results.json and the tables file is the one the run wrote.
nlohmann::json table_as_stored(const nlohmann::json& table);

// Whether a value of results.json's `tables` is a stub (an object) rather than an inline table.
bool is_table_stub(const nlohmann::json& v);

// A results.json's tables file: opened at the first stub, each table decoded from the mapped file
// when asked for (nothing is cached, so memory beyond the result is one table).
class TablesFileReader {
 public:
  // `results_file` and `name` (its tables_file) for messages; the file is results_file's sibling.
  TablesFileReader(std::string results_file, std::string name);
  ~TablesFileReader();
  // Checks a stub against the file's header: every tensor present with the stub's dtype and
  // shape. `field` names the stub in results.json (tables["KEY"]).
  void check(const nlohmann::json& stub, const std::string& field);
  // The table a checked stub stands for.
  nlohmann::json table(const nlohmann::json& stub, const std::string& field);

 private:
  const SafetensorsFile& file(const std::string& field);
  std::string results_file_, name_;
  std::filesystem::path path_;
  std::unique_ptr<SafetensorsFile> file_;
};

// The numbers a checked stub stands for (the reader bounds what references resolve to).
uint64_t table_stub_numbers(const nlohmann::json& stub);

// A tables_file value: a plain file name (no '/', '\', NUL, "." or ".."), or why not.
std::string tables_file_name_problem(const std::string& name);

}  // namespace moeprobe
