// End-to-end tests of `moeprobe compare` and `moeprobe report` on hand-made results.json files.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "reports/json_report.h"
#include "reports/write_reports.h"
#include "tests/cli/cli_test_util.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

fs::path write_results(const fs::path& dir, const std::string& name, const RunResult& r) {
  const fs::path p = dir / name;
  std::ofstream(p) << render_results_json(r);
  return p;
}

TEST(CompareCli, ExitCodes) {
  const fs::path dir = testing::temp_dir("compare");
  const RunResult base = testing::sample_run();
  RunResult drifted = base;
  drifted.hypotheses[0].value += 0.1;
  const auto a = write_results(dir, "a.json", base);
  const auto b = write_results(dir, "b.json", base);
  const auto c = write_results(dir, "c.json", drifted);

  auto same = run_cli("compare \"" + a.string() + "\" \"" + b.string() + "\"", dir);
  EXPECT_EQ(same.code, 0) << same.err;
  EXPECT_NE(same.out.find("0 of"), std::string::npos) << same.out;

  auto drift = run_cli("compare \"" + a.string() + "\" \"" + c.string() + "\" --out \"" +
                           (dir / "drift.md").string() + "\"",
                       dir);
  EXPECT_EQ(drift.code, 1) << drift.err;
  EXPECT_NE(drift.out.find("❌ drift"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "drift.md"));

  // A tolerance wide enough on the command line: no drift.
  EXPECT_EQ(run_cli("compare \"" + a.string() + "\" \"" + c.string() + "\" --abs 0.5", dir).code,
            0);

  std::ofstream(dir / "bad.json") << "{\"schema_version\": 1}";
  auto bad = run_cli("compare \"" + a.string() + "\" \"" + (dir / "bad.json").string() + "\"", dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("bad.json"), std::string::npos);
  EXPECT_NE(bad.err.find("suite"), std::string::npos);
  std::ofstream(dir / "garbage.json") << "not json";
  EXPECT_EQ(
      run_cli("compare \"" + a.string() + "\" \"" + (dir / "garbage.json").string() + "\"", dir)
          .code,
      2);
  EXPECT_EQ(
      run_cli("compare \"" + a.string() + "\" \"" + (dir / "missing.json").string() + "\"", dir)
          .code,
      2);
  fs::remove_all(dir);
}

TEST(ReportCli, RegeneratesReportsFromJson) {
  const fs::path dir = testing::temp_dir("report");
  const auto a = write_results(dir, "a.json", testing::sample_run());
  auto r = run_cli("report \"" + a.string() + "\" --out \"" + (dir / "out").string() + "\"", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out" / "report.html"));
  EXPECT_TRUE(fs::exists(dir / "out" / "summary.md"));
  EXPECT_TRUE(fs::exists(dir / "out" / "junit.xml"));
  EXPECT_FALSE(fs::exists(dir / "out" / "results.json"));
  auto j = run_cli(
      "report \"" + a.string() + "\" --out \"" + (dir / "out2").string() + "\" --format json", dir);
  EXPECT_EQ(j.code, 0);
  EXPECT_EQ(testing::read_text(dir / "out2" / "results.json"), testing::read_text(a));
  EXPECT_EQ(
      run_cli("report \"" + a.string() + "\" --out \"" + (dir / "o3").string() + "\" --format pdf",
              dir)
          .code,
      2);
  EXPECT_FALSE(fs::exists(dir / "o3"));
  fs::remove_all(dir);
}

// Schema 3: report reads the tables file beside results.json (exit 2 naming it when it is
// missing); compare reads the values only and needs none.
TEST(ReportCli, ReadsTheTablesFileBesideResults) {
  const fs::path dir = testing::temp_dir("report_tables");
  RunResult r = testing::sample_run();
  for (auto& h : r.hypotheses)
    for (auto& l : h.per_layer) l.detail["rank_count"] = {{3, 1}, {0, 7}};
  write_reports(r, dir / "run", {"json"});
  const std::string results = (dir / "run" / "results.json").string();
  auto ok = run_cli(
      "report \"" + results + "\" --out \"" + (dir / "out").string() + "\" --format json,html",
      dir);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(testing::read_text(dir / "out" / "tables.safetensors"),
            testing::read_text(dir / "run" / "tables.safetensors"));
  fs::remove(dir / "run" / "tables.safetensors");
  auto missing = run_cli("report \"" + results + "\" --out \"" + (dir / "o2").string() + "\"", dir);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("results.json: tables_file: names"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("tables.safetensors, which is missing"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "o2"));
  EXPECT_EQ(run_cli("compare \"" + results + "\" \"" + results + "\"", dir).code, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moeprobe
