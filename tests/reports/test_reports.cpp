#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reports/atomic_write.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "reports/write_reports.h"
#include "tests/reports/report_fixture.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

// A strict little XML checker: well-formed elements, matching tags, quoted attributes without raw
// '<' or '&' outside entities, known entities only. Returns the element names in document order.
struct XmlChecker {
  std::string s;
  std::size_t i = 0;
  std::vector<std::string> elements;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> starts;

  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("XML error at " + std::to_string(i) + ": " + why + " near \"" +
                             s.substr(i, 40) + "\"");
  }
  void entity() {
    static const std::set<std::string> ok = {"amp", "lt", "gt", "quot", "apos"};
    const std::size_t semi = s.find(';', i);
    if (semi == std::string::npos || !ok.count(s.substr(i + 1, semi - i - 1))) fail("bad entity");
    i = semi + 1;
  }
  std::string name() {
    const std::size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                            s[i] == '_' || s[i] == ':'))
      ++i;
    if (i == b) fail("expected a name");
    return s.substr(b, i - b);
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  void check() {
    if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
    std::vector<std::string> stack;
    bool root_seen = false;
    while (true) {
      ws();
      if (i >= s.size()) break;
      if (s[i] != '<') {
        if (stack.empty()) fail("text outside the root");
        while (i < s.size() && s[i] != '<') {
          if (s[i] == '&')
            entity();
          else if (s[i] == '>')
            fail("raw '>' in text");
          else
            ++i;
        }
        continue;
      }
      ++i;
      if (s[i] == '/') {
        ++i;
        const std::string n = name();
        if (stack.empty() || stack.back() != n) fail("mismatched end tag " + n);
        stack.pop_back();
        ws();
        if (s[i] != '>') fail("expected '>'");
        ++i;
        continue;
      }
      if (stack.empty() && root_seen) fail("second root element");
      root_seen = true;
      const std::string n = name();
      elements.push_back(n);
      std::map<std::string, std::string> attrs;
      while (true) {
        ws();
        if (s[i] == '/' || s[i] == '>') break;
        const std::string a = name();
        if (attrs.count(a)) fail("duplicate attribute " + a);
        if (s[i] != '=' || s[i + 1] != '"') fail("expected =\"");
        i += 2;
        std::string v;
        while (s[i] != '"') {
          if (i >= s.size()) fail("unterminated attribute");
          if (s[i] == '<') fail("raw '<' in attribute");
          if (s[i] == '&') {
            const std::size_t b = i;
            entity();
            v += s.substr(b, i - b);
          } else {
            v += s[i++];
          }
        }
        ++i;
        attrs[a] = v;
      }
      starts.push_back({n, attrs});
      if (s[i] == '/') {
        if (s[i + 1] != '>') fail("expected />");
        i += 2;
      } else {
        ++i;
        stack.push_back(n);
      }
    }
    if (!stack.empty()) fail("unclosed element " + stack.back());
    if (!root_seen) fail("no root element");
  }
};

TEST(Reports, JUnitIsWellFormedAndMapsOutcomes) {
  const RunResult r = testing::sample_run();
  XmlChecker x{render_junit(r)};
  ASSERT_NO_THROW(x.check()) << x.s;
  int testcases = 0;
  for (const auto& e : x.elements) testcases += e == "testcase" ? 1 : 0;
  EXPECT_EQ(testcases, 6);
  const auto count = [&](const std::string& n) {
    return std::count(x.elements.begin(), x.elements.end(), n);
  };
  EXPECT_EQ(count("failure"), 1);
  EXPECT_EQ(count("error"), 1);
  EXPECT_EQ(count("skipped"), 2);  // INCONCLUSIVE and SKIPPED
  EXPECT_EQ(count("testsuite"), 1);
  for (const auto& [n, attrs] : x.starts)
    if (n == "testsuite") {
      EXPECT_EQ(attrs.at("tests"), "6");
      EXPECT_EQ(attrs.at("failures"), "1");
      EXPECT_EQ(attrs.at("errors"), "1");
      EXPECT_EQ(attrs.at("skipped"), "2");
      EXPECT_EQ(attrs.at("name"), "closer-look &lt;&amp;&gt; &quot;quoted&quot;");
    }
  // The checker itself rejects broken XML.
  XmlChecker bad{"<a><b></a></b>"};
  EXPECT_THROW(bad.check(), std::runtime_error);
  XmlChecker raw{"<a x=\"1 & 2\"/>"};
  EXPECT_THROW(raw.check(), std::runtime_error);
  EXPECT_EQ(xml_escape("a<b>&\"'\x01"), "a&lt;b&gt;&amp;&quot;&apos;?");
}

TEST(Reports, JsonHasTheRequiredFieldsAndRoundTrips) {
  const RunResult r = testing::sample_run();
  const auto j = nlohmann::json::parse(render_results_json(r));
  EXPECT_EQ(j["schema_version"], 3);
  for (const char* k : {"name", "path", "paper"}) EXPECT_TRUE(j["suite"].contains(k)) << k;
  for (const char* k :
       {"path", "family", "layout", "num_layers", "moe_layers", "num_experts", "top_k", "dtypes"})
    EXPECT_TRUE(j["model"].contains(k)) << k;
  for (const char* k : {"version", "git_revision", "backend", "device"})
    EXPECT_TRUE(j["environment"].contains(k)) << k;
  ASSERT_EQ(j["hypotheses"].size(), 6u);
  for (const auto& h : j["hypotheses"])
    for (const char* k :
         {"id", "finding", "metric", "params", "layers", "aggregate", "outcome", "value",
          "interval", "level", "threshold", "severity", "reference", "per_layer", "tolerance"})
      EXPECT_TRUE(h.contains(k)) << k;
  EXPECT_TRUE(j["hypotheses"][4]["value"].is_null());  // NaN -> null
  EXPECT_EQ(j["hypotheses"][0]["threshold"], (nlohmann::json{{"op", ">="}, {"value", 0.1}}));

  const RunResult back = results_from_json(j, "results.json");
  ASSERT_EQ(back.hypotheses.size(), r.hypotheses.size());
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i) {
    EXPECT_EQ(back.hypotheses[i].id, r.hypotheses[i].id);
    EXPECT_EQ(back.hypotheses[i].outcome, r.hypotheses[i].outcome);
    EXPECT_EQ(back.hypotheses[i].per_layer.size(), 4u);
  }
  EXPECT_TRUE(std::isnan(back.hypotheses[4].value));
  EXPECT_EQ(render_results_json(back), render_results_json(r));  // lossless

  nlohmann::json broken = j;
  broken["hypotheses"][1].erase("outcome");
  try {
    results_from_json(broken, "x.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "x.json");
    EXPECT_EQ(e.field(), "hypotheses[1].outcome");
  }
}

// The required fields of reports/results.schema.json, checked against a produced results.json:
// the schema file and the writer must not drift apart.
void check_required(const nlohmann::json& schema, const nlohmann::json& value,
                    const std::string& path) {
  if (schema.contains("required"))
    for (const auto& k : schema["required"])
      EXPECT_TRUE(value.contains(k.get<std::string>())) << path << "." << k;
  if (schema.contains("properties") && value.is_object())
    for (const auto& [k, sub] : schema["properties"].items())
      if (value.contains(k)) check_required(sub, value[k], path + "." + k);
  if (schema.contains("items") && value.is_array())
    for (const auto& item : value) check_required(schema["items"], item, path + "[]");
  if (schema.contains("type")) {
    const auto& t = schema["type"];
    std::vector<std::string> types =
        t.is_array() ? t.get<std::vector<std::string>>() : std::vector<std::string>{t};
    bool ok = false;
    for (const auto& ty : types)
      ok = ok || (ty == "object" && value.is_object()) || (ty == "array" && value.is_array()) ||
           (ty == "string" && value.is_string()) || (ty == "number" && value.is_number()) ||
           (ty == "integer" && value.is_number_integer()) || (ty == "null" && value.is_null()) ||
           (ty == "boolean" && value.is_boolean());
    EXPECT_TRUE(ok) << path << " is not " << t.dump() << ": " << value.dump().substr(0, 80);
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    EXPECT_TRUE(found) << path << " = " << value.dump();
  }
}

// Reading results.json through from_json: each bad field is named by its full path, and enum
// values are strict (NLOHMANN_JSON_SERIALIZE_ENUM alone would map unknown strings to PASS).
TEST(Reports, ReadingResultsNamesTheBadFieldByPath) {
  const auto good = nlohmann::json::parse(render_results_json(testing::sample_run()));
  auto expect_field = [](const nlohmann::json& j, const std::string& field) {
    try {
      results_from_json(j, "r.json");
      ADD_FAILURE() << "accepted; expected an error at " << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), "r.json");
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  nlohmann::json j = good;
  j["hypotheses"][1]["outcome"] = "MAYBE";
  expect_field(j, "hypotheses[1].outcome");
  j = good;
  j["hypotheses"][0]["severity"] = "loud";
  expect_field(j, "hypotheses[0].severity");
  j = good;
  j["hypotheses"][2]["per_layer"][1]["layer"] = 1.5;
  expect_field(j, "hypotheses[2].per_layer[1].layer");
  j = good;
  j["hypotheses"][0]["tolerance"]["rel"] = "wide";
  expect_field(j, "hypotheses[0].tolerance.rel");
  j = good;
  j["model"].erase("path");
  expect_field(j, "model.path");
  j = good;
  j["environment"]["version"] = 3;
  expect_field(j, "environment.version");
  j = good;
  j["model"]["moe_layers"][0] = 1.8e20;  // an int from a float beyond its range is undefined
  expect_field(j, "model.moe_layers[0]");
  j = good;
  j["model"]["num_layers"] = 4294967298LL;  // was cut to 2
  expect_field(j, "model.num_layers");
  j = good;
  j["schema_version"] = 4;
  expect_field(j, "schema_version");
  expect_field(nlohmann::json::array(), "");
}

// Schema version 2: each distinct detail table once in `tables`, inline, referenced by key. It
// reads into the result version 3 writes (its numeric tables as stubs of the tables file,
// test_results_tables.cpp); version 1 (inline) still reads; a bad table or reference is an error
// naming the field.
TEST(Reports, SharedTablesReadBackAndRejectBadReferences) {
  RunResult r = testing::sample_run();
  const nlohmann::json m = {{1.0, 0.5}, {0.5, 1.0}}, other = {{1.0, 0.25}, {0.25, 1.0}};
  const nlohmann::json pairs = {{{"a", 0}, {"b", 1}, {"tau", 0.5}}};
  const nlohmann::json labels = {{{"name", "x"}, {"v", 1}}, {{"name", "y"}, {"v", 2}}};
  for (auto& h : r.hypotheses)
    for (auto& l : h.per_layer) {
      l.detail["similarity"] = {{"act", m}, {"up", l.layer == 1 ? other : m}};
      l.detail["pairs"] = pairs;
      l.detail["labels"] = labels;
    }
  const std::string text = render_results_json(r);
  const auto v3 = nlohmann::json::parse(text);
  // One matrix for every layer's act and up, one other on layer 1, one list of records of
  // numbers: stubs; the records with a string field stay inline, one row per line.
  EXPECT_EQ(v3["tables"].size(), 4u);
  EXPECT_EQ(v3["tables"]["similarity.up@1"],
            (nlohmann::json{{"$tensor", "similarity.up@1"}, {"dtype", "F32"}, {"shape", {2, 2}}}));
  EXPECT_EQ(v3["tables"]["labels@0"], labels);
  EXPECT_EQ(v3["hypotheses"][3]["per_layer"][2]["detail"]["similarity"]["up"],
            (nlohmann::json{{"$table", "similarity.act@0"}}));
  EXPECT_NE(text.find("\n      {\"name\":\"x\",\"v\":1},\n      {\"name\":\"y\",\"v\":2}\n    ]"),
            std::string::npos)
      << text;
  nlohmann::json good = v3;
  good["schema_version"] = 2;
  good.erase("tables_file");
  good["tables"] = {{"similarity.act@0", m},
                    {"similarity.up@1", other},
                    {"pairs@0", pairs},
                    {"labels@0", labels}};
  const RunResult back = results_from_json(good, "r.json");
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i)
    for (std::size_t k = 0; k < r.hypotheses[i].per_layer.size(); ++k)
      EXPECT_EQ(back.hypotheses[i].per_layer[k].detail, r.hypotheses[i].per_layer[k].detail);
  EXPECT_EQ(render_results_json(back), text);

  // Version 1: the same details inline, no tables.
  nlohmann::json v1 = good;
  v1["schema_version"] = 1;
  v1.erase("tables");
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i)
    for (std::size_t k = 0; k < r.hypotheses[i].per_layer.size(); ++k)
      v1["hypotheses"][i]["per_layer"][k]["detail"] = r.hypotheses[i].per_layer[k].detail;
  EXPECT_EQ(render_results_json(results_from_json(v1, "old.json")), text);

  auto expect_error = [](const nlohmann::json& j, const std::string& field,
                         const std::string& words) {
    try {
      results_from_json(j, "r.json");
      ADD_FAILURE() << "accepted; expected an error at " << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), "r.json");
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  nlohmann::json j = good;
  j["tables"].erase("similarity.up@1");
  expect_error(j, "hypotheses[0].per_layer[1].detail.similarity.up", "similarity.up@1");
  j = good;
  j["hypotheses"][1]["per_layer"][0]["detail"]["similarity"]["act"] = {{"$table", 7}};
  expect_error(j, "hypotheses[1].per_layer[0].detail.similarity.act", "table reference");
  j = good;
  j["hypotheses"][1]["per_layer"][0]["detail"]["pairs"] = {{"$table", "pairs@0"}, {"x", 1}};
  expect_error(j, "hypotheses[1].per_layer[0].detail.pairs", "table reference");
  j = good;
  j["tables"]["similarity.act@0"] = {{1.0, 0.5}, {0.5}};  // ragged
  expect_error(j, "tables[\"similarity.act@0\"]", "all of one length");
  j = good;
  j["tables"]["similarity.act@0"] = {{1.0, "x"}, {0.5, 1.0}};
  expect_error(j, "tables[\"similarity.act@0\"]", "numbers or null");
  j = good;
  j["tables"]["pairs@0"] = nlohmann::json::array();
  expect_error(j, "tables[\"pairs@0\"]", "non-empty");
  j = good;
  j["tables"] = nlohmann::json::array();
  expect_error(j, "tables", "object");
  j = good;
  j["schema_version"] = 0;
  expect_error(j, "schema_version", "found 0");
}

TEST(Reports, ResultsJsonMatchesItsSchema) {
  std::ifstream in(std::string(MOEPROBE_SOURCE_DIR) + "/reports/results.schema.json");
  ASSERT_TRUE(in.good());
  const auto schema = nlohmann::json::parse(in);
  EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
  const auto j = nlohmann::json::parse(render_results_json(testing::sample_run()));
  check_required(schema, j, "$");
  // And the check can fail.
  auto broken = j;
  broken["hypotheses"][0]["outcome"] = "MAYBE";
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    check_required(schema, broken, "$");
  }
  EXPECT_GE(failures.size(), 1);
}

TEST(Reports, MarkdownTableShape) {
  const std::string md = render_markdown(testing::sample_run());
  std::istringstream in(md);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(in, line))
    if (line.rfind("|", 0) == 0) rows.push_back(line);
  ASSERT_EQ(rows.size(), 2u + 6u);
  auto cells = [](const std::string& row) {
    int n = 0;
    for (std::size_t k = 0; k < row.size(); ++k)
      if (row[k] == '|' && (k == 0 || row[k - 1] != '\\')) ++n;
    return n - 1;
  };
  for (const auto& row : rows) EXPECT_EQ(cells(row), 6) << row;
  EXPECT_EQ(rows[1], "|---|---|---|---|---|---|");
  EXPECT_NE(md.find("✅ PASS"), std::string::npos);
  EXPECT_NE(md.find("❌ FAIL"), std::string::npos);
  EXPECT_NE(md.find("Mixtral-8x7B 0.3"), std::string::npos);
  EXPECT_NE(md.find("1 passed, 1 failed, 1 warned, 1 inconclusive, 1 errors, 1 skipped"),
            std::string::npos);
}

TEST(Reports, HtmlIsSelfContained) {
  const std::string html = render_html(testing::sample_run());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"),
            html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(html.find("<tag>"), std::string::npos);    // escaped
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("moeprobe_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Reports, AtomicWriteCreatesTheDirectoryAndLeavesNoTemporaries) {
  const fs::path d = fresh_dir("atomic") / "nested";
  write_reports(testing::sample_run(), d, {"json", "junit", "md", "html"});
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"results.json", "tables.safetensors", "junit.xml",
                                          "summary.md", "report.html"}));
  fs::remove_all(d.parent_path());
}

TEST(Reports, AtomicWriteFailureLeavesNothing) {
  const fs::path d = fresh_dir("atomic_fail");
  fs::create_directories(d);
  // A directory where the second file must go makes its rename fail after the first succeeded.
  fs::create_directories(d / "b.txt" / "occupied");
  EXPECT_THROW(write_files_atomically(d, {{"a.txt", "A"}, {"b.txt", "B"}}), InputError);
  EXPECT_FALSE(fs::exists(d / "a.txt"));
  EXPECT_FALSE(fs::exists(d / ".a.txt.tmp"));
  EXPECT_FALSE(fs::exists(d / ".b.txt.tmp"));
  // An output path that is a file cannot become a directory.
  std::ofstream(d / "file") << "x";
  EXPECT_THROW(write_files_atomically(d / "file", {{"a.txt", "A"}}), InputError);
  fs::remove_all(d);
}

TEST(Reports, FormatList) {
  EXPECT_EQ(parse_report_formats("html,md,junit"), (std::set<std::string>{"html", "md", "junit"}));
  EXPECT_EQ(parse_report_formats("json, markdown"), (std::set<std::string>{"json", "md"}));
  EXPECT_THROW(parse_report_formats("pdf"), InputError);
}

}  // namespace
}  // namespace moeprobe
