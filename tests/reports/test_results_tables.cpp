// results.json schema 3: numeric detail tables in tables.safetensors beside it
// (reports/results_tables.h). Written with the other reports, read back table by table, and every
// mismatch between the two files is an InputError naming the file and the field.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/write_reports.h"
#include "tests/reports/report_fixture.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("moeprobe_tables_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every kind of table the rule of results_tables.h tells apart.
RunResult run_with_tables() {
  RunResult r = testing::sample_run();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto& h : r.hypotheses)
    for (auto& l : h.per_layer) {
      l.detail["similarity"] = {{"act", {{1.0, 0.1}, {0.1, 1.0}}},
                                {"up", {{1.0, nan}, {nullptr, 1.0 + l.layer}}}};
      l.detail["rank_count"] = {{3, 1}, {0, 7}};                // I32
      l.detail["big"] = {{int64_t{1} << 40, -1}};               // I64
      l.detail["huge"] = {{1e300, 0.5}};                        // F64
      l.detail["empty_rows"] = {Json::array(), Json::array()};  // [2, 0]
      l.detail["pairs"] = {{{"a", 1}, {"b", 0}, {"tau", 0.5}},  // columns
                           {{"a", 2}, {"b", 0}, {"tau", nullptr}}};
      l.detail["labels"] = {{{"name", "x"}, {"v", 1}}};  // a string field: inline
    }
  return r;
}

TEST(ResultsTables, NumericTablesGoToTheTablesFileAndReadBack) {
  const fs::path d = fresh_dir("roundtrip");
  const RunResult r = run_with_tables();
  write_reports(r, d, {"json", "html"});
  const Json j = Json::parse(read_file(d / "results.json"));
  EXPECT_EQ(j["schema_version"], 3);
  EXPECT_EQ(j["tables_file"], "tables.safetensors");
  const Json& t = j["tables"];
  EXPECT_EQ(t["similarity.act@0"],
            (Json{{"$tensor", "similarity.act@0"}, {"dtype", "F32"}, {"shape", {2, 2}}}));
  EXPECT_EQ(t["rank_count@0"]["dtype"], "I32");
  EXPECT_EQ(t["big@0"]["dtype"], "I64");
  EXPECT_EQ(t["huge@0"]["dtype"], "F64");
  EXPECT_EQ(t["empty_rows@0"]["shape"], (Json{2, 0}));
  EXPECT_EQ(t["pairs@0"],
            (Json{{"$columns",
                   {{"a", {{"$tensor", "pairs@0/a"}, {"dtype", "I32"}, {"shape", {2}}}},
                    {"b", {{"$tensor", "pairs@0/b"}, {"dtype", "I32"}, {"shape", {2}}}},
                    {"tau", {{"$tensor", "pairs@0/tau"}, {"dtype", "F32"}, {"shape", {2}}}}}}}));
  EXPECT_EQ(t["labels@0"], r.hypotheses[0].per_layer[0].detail["labels"]);  // inline
  // similarity.up differs on each of the 4 layers: a tensor each; the rest is shared by all.
  const SafetensorsFile file(d / "tables.safetensors");
  EXPECT_EQ(file.entries().size(), 1u + 4u + 4u + 3u);
  EXPECT_EQ(file.metadata().at("schema_version"), "3");
  float up[4];
  std::memcpy(up, file.view("similarity.up@1").data, sizeof up);
  EXPECT_TRUE(std::isnan(up[1]) && std::isnan(up[2]));
  EXPECT_EQ(up[3], 2.0f);

  // Reading gives the tables as stored: 0.1 as the nearest float, NaN and null as null.
  RunResult stored = r;
  keep_tables_as_stored(stored);
  const Json& act = stored.hypotheses[0].per_layer[0].detail["similarity"]["act"];
  EXPECT_EQ(act[0][1].get<double>(), static_cast<double>(0.1f));
  EXPECT_TRUE(stored.hypotheses[0].per_layer[0].detail["similarity"]["up"][0][1].is_null());
  EXPECT_EQ(stored.hypotheses[0].per_layer[0].detail["big"],
            r.hypotheses[0].per_layer[0].detail["big"]);
  const RunResult back = load_results((d / "results.json").string());
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i)
    for (std::size_t k = 0; k < r.hypotheses[i].per_layer.size(); ++k)
      EXPECT_EQ(back.hypotheses[i].per_layer[k].detail, stored.hypotheses[i].per_layer[k].detail)
          << i << " " << k;
  // Written again from what was read: the same two files, byte for byte; report.html as the
  // run would render it after keep_tables_as_stored.
  const fs::path d2 = fresh_dir("roundtrip2");
  write_reports(back, d2, {"json"});
  EXPECT_EQ(read_file(d2 / "results.json"), read_file(d / "results.json"));
  EXPECT_EQ(read_file(d2 / "tables.safetensors"), read_file(d / "tables.safetensors"));
  EXPECT_EQ(render_html(back), render_html(stored));
  // compare reads the values only: no tables file needed.
  fs::remove(d / "tables.safetensors");
  const RunResult values = load_results((d / "results.json").string(), DetailTables::Skip);
  EXPECT_EQ(values.hypotheses[0].per_layer[0].detail["rank_count"],
            (Json{{"$table", "rank_count@0"}}));
  fs::remove_all(d);
  fs::remove_all(d2);
}

// An InputError naming `file` (its file name) and `field`, its message holding `words`.
template <class F>
void expect_input_error(F&& f, const std::string& file, const std::string& field,
                        const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected an error at " << file << ": " << field;
  } catch (const InputError& e) {
    EXPECT_EQ(fs::path(e.file()).filename().string(), file) << e.what();
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(ResultsTables, MismatchedTablesFilesAreBadInput) {
  const fs::path d = fresh_dir("bad");
  write_reports(run_with_tables(), d, {"json"});
  const Json good = Json::parse(read_file(d / "results.json"));
  const std::string path = (d / "results.json").string();
  auto load = [&](const Json& j) { return [j, path] { (void)results_from_json(j, path); }; };
  const std::string act = "tables[\"similarity.act@0\"]";

  Json j = good;
  j["tables"]["similarity.act@0"]["$tensor"] = "nope";
  expect_input_error(load(j), "tables.safetensors", "tensor 'nope'", "missing");
  j = good;
  j["tables"]["similarity.act@0"]["dtype"] = "F64";
  expect_input_error(load(j), "tables.safetensors", "tensor 'similarity.act@0'",
                     "expects F64 [2,2] (is the tables file from another run?)");
  j = good;
  j["tables"]["similarity.act@0"]["shape"] = {2, 3};
  expect_input_error(load(j), "tables.safetensors", "tensor 'similarity.act@0'", "is F32 [2,2]");
  j = good;
  j["tables"]["similarity.act@0"]["dtype"] = "BF16";
  expect_input_error(load(j), "results.json", act + ".dtype", "F32, F64, I32, I64");
  j = good;
  j["tables"]["similarity.act@0"]["shape"] = {0, 2};
  expect_input_error(load(j), "results.json", act + ".shape", "ROWS at least 1");
  j = good;
  j["tables"]["similarity.act@0"].erase("dtype");
  expect_input_error(load(j), "results.json", act, "expected {\"$tensor\"");
  j = good;
  j["tables"]["pairs@0"]["$columns"]["tau"]["shape"] = {3};
  expect_input_error(load(j), "results.json", "tables[\"pairs@0\"].$columns[\"tau\"].shape",
                     "expected [2]");
  j = good;
  j["tables"]["pairs@0"]["$columns"] = Json::object();
  expect_input_error(load(j), "results.json", "tables[\"pairs@0\"]", "$columns");
  for (const char* name : {"../tables.safetensors", "a/b", "", ".", "..", "a\\b"}) {
    j = good;
    j["tables_file"] = name;
    expect_input_error(load(j), "results.json", "tables_file", "expected a file name");
  }
  j = good;
  j["tables_file"] = 7;
  expect_input_error(load(j), "results.json", "tables_file", "string");
  j = good;
  j.erase("tables_file");  // (tables are checked in key order: big@0 is the first stub)
  expect_input_error(load(j), "results.json", "tables[\"big@0\"]", "names no tables_file");
  j = good;
  j["schema_version"] = 2;  // stubs are version 3
  expect_input_error(load(j), "results.json", "tables[\"big@0\"]", "expected a table");

  // An infinity: the writer stores none (a non-finite number is null).
  const fs::path inf_dir = fresh_dir("inf");
  const float inf[4] = {1, std::numeric_limits<float>::infinity(), 0, 1};
  {
    SafetensorsWriter w(inf_dir / "tables.safetensors", {{"similarity.act@0", DType::F32, {2, 2}}});
    w.write("similarity.act@0", inf, sizeof inf);
    w.finish();
  }
  j = good;
  for (auto it = j["tables"].begin(); it != j["tables"].end();)
    it = it.key() == "similarity.act@0" ? std::next(it) : j["tables"].erase(it);
  for (auto& h : j["hypotheses"])
    for (auto& l : h["per_layer"]) l["detail"] = {{"m", {{"$table", "similarity.act@0"}}}};
  expect_input_error([&] { (void)results_from_json(j, (inf_dir / "results.json").string()); },
                     "tables.safetensors", "tensor 'similarity.act@0' [0, 1]", "infinite");

  // The tables file missing, or not a safetensors file.
  fs::remove(d / "tables.safetensors");
  expect_input_error(load(good), "results.json", "tables_file", "which is missing");
  std::ofstream(d / "tables.safetensors") << "not safetensors";
  expect_input_error(load(good), "tables.safetensors", "header length", "");
  fs::remove_all(d);
  fs::remove_all(inf_dir);
}

TEST(ResultsTables, AFailedWriteKeepsTheEarlierPair) {
  const fs::path d = fresh_dir("atomic");
  write_reports(run_with_tables(), d, {"json"});
  const std::string json = read_file(d / "results.json");
  const std::string tables = read_file(d / "tables.safetensors");
  // A target that cannot be replaced (a directory where report.html goes): nothing is written.
  RunResult other = run_with_tables();
  other.hypotheses[0].per_layer[0].detail["rank_count"] = {{9}};
  fs::create_directories(d / "report.html" / "occupied");
  EXPECT_THROW(write_reports(other, d, {"json", "html"}), InputError);
  EXPECT_EQ(read_file(d / "results.json"), json);
  EXPECT_EQ(read_file(d / "tables.safetensors"), tables);
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"results.json", "tables.safetensors", "report.html"}));
  fs::remove_all(d);
}

}  // namespace
}  // namespace moeprobe
