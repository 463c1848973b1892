#include "reports/results_tables.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

namespace {

using Json = nlohmann::json;

bool number_or_null(const Json& v) {
  return v.is_null() || v.is_number();
}

enum class Kind { Inline, Matrix, Records };

// What the rule of results_tables.h makes of a table (json_report.cpp's is_table holds).
Kind kind_of(const Json& t) {
  if (!t.is_array() || t.empty()) return Kind::Inline;
  if (t.front().is_array()) {
    for (const auto& row : t) {
      if (!row.is_array() || row.size() != t.front().size()) return Kind::Inline;
      for (const auto& x : row)
        if (!number_or_null(x)) return Kind::Inline;
    }
    return Kind::Matrix;
  }
  if (!t.front().is_object() || t.front().empty()) return Kind::Inline;
  for (const auto& row : t) {
    if (!row.is_object() || row.size() != t.front().size()) return Kind::Inline;
    for (auto a = row.begin(), b = t.front().begin(); a != row.end(); ++a, ++b)
      if (a.key() != b.key() || !number_or_null(a.value())) return Kind::Inline;
  }
  return Kind::Records;
}

// The narrowest dtype that keeps the values: I32/I64 for integers that fit, else F32 (F64 for a
// finite value beyond F32's range: converting it to float would be undefined).
class DTypeScan {
 public:
  void add(const Json& v) {
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      fits32_ = fits32_ && u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
      fits64_ = fits64_ && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    } else if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      fits32_ = fits32_ && i >= std::numeric_limits<int32_t>::min() &&
                i <= std::numeric_limits<int32_t>::max();
    } else {
      integers_ = false;
      if (v.is_number_float() && std::isfinite(v.get<double>()) &&
          std::fabs(v.get<double>()) > static_cast<double>(FLT_MAX))
        f32_range_ = false;
    }
  }
  DType dtype() const {
    if (integers_ && fits32_) return DType::I32;
    if (integers_ && fits64_) return DType::I64;
    return f32_range_ && !(integers_ && !fits64_) ? DType::F32 : DType::F64;
  }

 private:
  bool integers_ = true, fits32_ = true, fits64_ = true, f32_range_ = true;
};

bool stored_dtype(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::I32 || t == DType::I64;
}

void encode(DType t, const Json& v, unsigned char* dst) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double d = v.is_number() ? v.get<double>() : nan;
  switch (t) {
    case DType::I32: {
      const auto x = static_cast<int32_t>(v.get<int64_t>());
      std::memcpy(dst, &x, 4);
      break;
    }
    case DType::I64: {
      const int64_t x = v.get<int64_t>();
      std::memcpy(dst, &x, 8);
      break;
    }
    case DType::F32: {
      const float x =
          std::isfinite(d) ? static_cast<float>(d) : std::numeric_limits<float>::quiet_NaN();
      std::memcpy(dst, &x, 4);
      break;
    }
    default: {
      const double x = std::isfinite(d) ? d : nan;
      std::memcpy(dst, &x, 8);
    }
  }
}

// One stored value; NaN is null, an infinity is refused (the writer stores none).
Json decode(DType t, const unsigned char* src, const std::string& file,
            const std::function<std::string()>& where) {
  double d;
  switch (t) {
    case DType::I32: {
      int32_t x;
      std::memcpy(&x, src, 4);
      return Json(static_cast<int64_t>(x));
    }
    case DType::I64: {
      int64_t x;
      std::memcpy(&x, src, 8);
      return Json(x);
    }
    case DType::F32: {
      float x;
      std::memcpy(&x, src, 4);
      d = x;
      break;
    }
    default:
      std::memcpy(&d, src, 8);
  }
  if (std::isnan(d)) return Json(nullptr);
  if (std::isinf(d))
    throw InputError(file, where(),
                     "is infinite; a tables file holds finite numbers and NaN (null) only");
  return Json(d);
}

// The bytes of one tensor, encoded from its table.
std::vector<unsigned char> encode_tensor(const TableTensor& t) {
  const std::size_t size = dtype_size(t.spec.dtype);
  std::vector<unsigned char> out(static_cast<std::size_t>(t.spec.nbytes()));
  unsigned char* p = out.data();
  for (const auto& row : *t.table) {
    if (t.field.empty()) {
      for (const auto& x : row) {
        encode(t.spec.dtype, x, p);
        p += size;
      }
    } else {
      encode(t.spec.dtype, row.at(t.field), p);
      p += size;
    }
  }
  return out;
}

// A matrix from a tensor [rows, cols] at `data`.
Json decode_matrix(DType t, int64_t rows, int64_t cols, const unsigned char* data,
                   const std::string& file, const std::string& name) {
  const std::size_t size = dtype_size(t);
  Json out = Json::array();
  for (int64_t r = 0; r < rows; ++r) {
    Json row = Json::array();
    for (int64_t c = 0; c < cols; ++c, data += size)
      row.push_back(decode(t, data, file, [&] {
        return "tensor '" + printable(name) + "' [" + std::to_string(r) + ", " + std::to_string(c) +
               "]";
      }));
    out.push_back(std::move(row));
  }
  return out;
}

// One field of a list of records from a tensor [rows] at `data`.
void decode_field(Json& records, const std::string& field, DType t, const unsigned char* data,
                  const std::string& file, const std::string& name) {
  const std::size_t size = dtype_size(t);
  for (std::size_t i = 0; i < records.size(); ++i, data += size)
    records[i][field] = decode(t, data, file, [&] {
      return "tensor '" + printable(name) + "' [" + std::to_string(i) + "]";
    });
}

nlohmann::ordered_json tensor_stub(const TensorSpec& s) {
  return {{"$tensor", s.name}, {"dtype", dtype_name(s.dtype)}, {"shape", s.shape}};
}

std::string spec_text(const std::string& dtype, const Json& shape) {
  return dtype + " " + shape.dump();
}

}  // namespace

// --- Writing ---------------------------------------------------------------------------------

std::string TablesFileWriter::unique_name(const std::string& name) {
  std::string out = name;
  for (int n = 2; names_.count(out) || out == "__metadata__"; ++n)
    out = name + "#" + std::to_string(n);
  names_.insert(out);
  return out;
}

nlohmann::ordered_json TablesFileWriter::add(const Json& table, const std::string& key) {
  const Kind kind = kind_of(table);
  if (kind == Kind::Matrix) {
    DTypeScan scan;
    for (const auto& row : table)
      for (const auto& x : row) scan.add(x);
    TableTensor t{
        {unique_name(key),
         scan.dtype(),
         {static_cast<int64_t>(table.size()), static_cast<int64_t>(table.front().size())}},
        &table,
        ""};
    tensors_.push_back(t);
    return tensor_stub(t.spec);
  }
  if (kind == Kind::Records) {
    nlohmann::ordered_json columns = nlohmann::ordered_json::object();
    for (auto f = table.front().begin(); f != table.front().end(); ++f) {
      DTypeScan scan;
      for (const auto& row : table) scan.add(row.at(f.key()));
      TableTensor t{
          {unique_name(key + "/" + f.key()), scan.dtype(), {static_cast<int64_t>(table.size())}},
          &table,
          f.key()};
      tensors_.push_back(t);
      columns[f.key()] = tensor_stub(t.spec);
    }
    return {{"$columns", columns}};
  }
  return nullptr;
}

void TablesFileWriter::write(const std::filesystem::path& path) const {
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors_) specs.push_back(t.spec);
  SafetensorsWriter out(
      path, specs,
      {{"format", "moeprobe results.json tables (docs/reports.md)"}, {"schema_version", "3"}});
  for (const auto& t : tensors_) {
    const std::vector<unsigned char> bytes = encode_tensor(t);
    out.write(t.spec.name, bytes.data(), bytes.size());
  }
  out.finish();
}

Json table_as_stored(const Json& table) {
  TablesFileWriter w;
  if (w.add(table, "t").is_null()) return table;
  if (w.tensors().front().field.empty()) {
    const TableTensor& t = w.tensors().front();
    return decode_matrix(t.spec.dtype, t.spec.shape[0], t.spec.shape[1], encode_tensor(t).data(),
                         "", t.spec.name);
  }
  Json out(table.size(), Json::object());
  for (const TableTensor& t : w.tensors())
    decode_field(out, t.field, t.spec.dtype, encode_tensor(t).data(), "", t.spec.name);
  return out;
}

bool is_table_stub(const Json& v) {
  return v.is_object();
}

std::string tables_file_name_problem(const std::string& name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string("/\\\0", 3)) != std::string::npos)
    return "expected a file name beside results.json (no '/', '\\', NUL, \".\" or \"..\"), got \"" +
           printable(name, 80) + "\"";
  return {};
}

// --- Reading ---------------------------------------------------------------------------------

TablesFileReader::TablesFileReader(std::string results_file, std::string name)
    : results_file_(std::move(results_file)),
      name_(std::move(name)),
      path_(std::filesystem::path(results_file_).parent_path() / name_) {}

TablesFileReader::~TablesFileReader() = default;

const SafetensorsFile& TablesFileReader::file(const std::string& field) {
  if (!file_) {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec))
      throw InputError(results_file_, "tables_file",
                       "names " + path_.string() + ", which is missing; it holds the numeric " +
                           "tables (" + field + " first) and is written beside results.json");
    file_ = std::make_unique<SafetensorsFile>(path_);
  }
  return *file_;
}

namespace {

// A tensor stub's fields, checked: {"$tensor": NAME, "dtype": F32|F64|I32|I64, "shape": [...]}
// with `rank` dimensions, the first at least 1.
struct StubSpec {
  std::string name, dtype;
  Json shape;
};

StubSpec stub_spec(const Json& s, std::size_t rank, const std::string& file,
                   const std::string& field) {
  const char* expected = rank == 2 ? "expected {\"$tensor\": NAME, \"dtype\": F32|F64|I32|I64, "
                                     "\"shape\": [ROWS, COLUMNS]}"
                                   : "expected {\"$tensor\": NAME, \"dtype\": F32|F64|I32|I64, "
                                     "\"shape\": [ROWS]}";
  if (!s.is_object() || s.size() != 3 || !s.contains("$tensor") || !s.contains("dtype") ||
      !s.contains("shape"))
    throw InputError(file, field, expected);
  if (!s["$tensor"].is_string()) throw InputError(file, field + ".$tensor", "expected a string");
  const auto dtype =
      s["dtype"].is_string() ? parse_dtype(s["dtype"].get<std::string>()) : std::nullopt;
  if (!dtype || !stored_dtype(*dtype))
    throw InputError(file, field + ".dtype", "expected one of F32, F64, I32, I64");
  const Json& shape = s["shape"];
  bool ok = shape.is_array() && shape.size() == rank;
  for (std::size_t i = 0; ok && i < shape.size(); ++i)
    ok = shape[i].is_number_integer() && shape[i].get<int64_t>() >= (i == 0 ? 1 : 0);
  if (!ok)
    throw InputError(file, field + ".shape",
                     rank == 2 ? "expected [ROWS, COLUMNS], ROWS at least 1"
                               : "expected [ROWS], ROWS at least 1");
  return {s["$tensor"].get<std::string>(), s["dtype"].get<std::string>(), shape};
}

}  // namespace

void TablesFileReader::check(const Json& stub, const std::string& field) {
  std::vector<std::pair<StubSpec, std::string>> specs;  // (spec, its field)
  if (stub.contains("$columns")) {
    const Json& cols = stub["$columns"];
    if (stub.size() != 1 || !cols.is_object() || cols.empty())
      throw InputError(results_file_, field,
                       "expected {\"$columns\": {FIELD: {\"$tensor\", \"dtype\", \"shape\"}}}");
    for (auto c = cols.begin(); c != cols.end(); ++c) {
      const std::string f = field + ".$columns[\"" + printable(c.key()) + "\"]";
      specs.push_back({stub_spec(c.value(), 1, results_file_, f), f});
      if (specs.back().first.shape != specs.front().first.shape)
        throw InputError(results_file_, f + ".shape",
                         "expected " + specs.front().first.shape.dump() +
                             ", the rows of the table's other fields");
    }
  } else {
    specs.push_back({stub_spec(stub, 2, results_file_, field), field});
  }
  const SafetensorsFile& f = file(field);
  for (const auto& [s, where] : specs) {
    const TensorEntry* e = f.find(s.name);
    const std::string tensor = "tensor '" + printable(s.name) + "'";
    if (!e)
      throw InputError(path_.string(), tensor,
                       "missing; results.json's " + where +
                           " refers to it (is the tables file from another run?)");
    const Json shape = e->shape;
    if (dtype_name(e->dtype) != s.dtype || shape != s.shape)
      throw InputError(path_.string(), tensor,
                       "is " + spec_text(dtype_name(e->dtype), shape) + "; results.json's " +
                           where + " expects " + spec_text(s.dtype, s.shape) +
                           " (is the tables file from another run?)");
  }
}

uint64_t table_stub_numbers(const Json& stub) {
  // Rows count too: a [ROWS, 0] tensor has no bytes but ROWS lists.
  if (!stub.contains("$columns"))
    return stub["shape"][0].get<uint64_t>() *
           std::max<uint64_t>(1, stub["shape"][1].get<uint64_t>());
  return stub["$columns"].size() * stub["$columns"].begin().value()["shape"][0].get<uint64_t>();
}

Json TablesFileReader::table(const Json& stub, const std::string& field) {
  const SafetensorsFile& f = file(field);
  if (!stub.contains("$columns")) {
    const TensorView v = f.view(stub.at("$tensor").get<std::string>());
    return decode_matrix(v.dtype, v.shape[0], v.shape[1], v.data, path_.string(), v.name);
  }
  const auto& cols = stub["$columns"];
  Json out(static_cast<std::size_t>(cols.begin().value().at("shape").at(0).get<int64_t>()),
           Json::object());
  for (auto c = cols.begin(); c != cols.end(); ++c) {
    const TensorView v = f.view(c.value().at("$tensor").get<std::string>());
    decode_field(out, c.key(), v.dtype, v.data, path_.string(), v.name);
  }
  return out;
}

}  // namespace moeprobe
