// End-to-end tests of `moeprobe run`: bad suites exit 2 naming file, line and key; a failing run
// leaves no report behind; a run on the HF fixtures writes all four reports.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

const std::string kSource = MOEPROBE_SOURCE_DIR;
const std::string kData = MOEPROBE_TEST_DATA;

fs::path write_suite(const fs::path& dir, const std::string& text) {
  const fs::path p = dir / "suite.yaml";
  std::ofstream(p) << text;
  return p;
}

const char* kHeader = "schema: moeprobe/suite/v1\nname: t\nhypotheses:\n";

struct BadSuite {
  std::string body;
  std::vector<std::string> needles;
};

TEST(RunCli, BadSuitesExitTwoNamingFileLineAndKey) {
  const fs::path dir = testing::temp_dir("bad_suites");
  const std::vector<BadSuite> cases = {
      {"  - id: a\n    metric: gate_neuron_r\n    expect: \">= 0.1\"\n    colour: red\n",
       {"line 7", "hypotheses[0].colour", "unknown key"}},
      {"  - id: a\n    metric: gate_neuron_r\n    expect: \"=> 0.1\"\n",
       {"line 6", "hypotheses[0].expect", "expected"}},
      {"  - id: a\n    metric: gate_neuron_r\n    expect: \">= 0.1\"\n    aggregate: average\n",
       {"line 7", "hypotheses[0].aggregate", "unknown aggregate"}},
      {"  - id: a\n    metric: gate_neuron_r\n    expect: \">= 0.1\"\n    layers: \"1:2:3:4\"\n",
       {"line 7", "hypotheses[0].layers"}},
      {"  - id: a\n    metric: no_such_metric\n    expect: \">= 0.1\"\n",
       {"line 5", "hypotheses[0].metric", "unknown metric \"no_such_metric\""}},
      {"  - id: a\n    metric: [gate_neuron_r\n", {"malformed YAML", "line"}},
  };
  for (const auto& c : cases) {
    const fs::path suite = write_suite(dir, kHeader + c.body);
    const fs::path out = dir / "out";
    const auto r = run_cli("run \"" + suite.string() + "\" --model \"" + kData +
                               "/hf/mixtral_classic\" --out \"" + out.string() + "\"",
                           dir);
    EXPECT_EQ(r.code, 2) << c.body << r.err;
    EXPECT_NE(r.err.find(suite.string()), std::string::npos) << r.err;
    for (const auto& n : c.needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << "missing \"" << n << "\" in " << r.err;
    EXPECT_FALSE(fs::exists(out)) << "a failed run left " << out;
  }
  fs::remove_all(dir);
}

TEST(RunCli, UnreadableModelLeavesNoReport) {
  const fs::path dir = testing::temp_dir("no_model");
  const fs::path out = dir / "out";
  const auto r = run_cli("run \"" + kSource + "/suites/smoke.yaml\" --model \"" +
                             (dir / "missing").string() + "\" --out \"" + out.string() + "\"",
                         dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("error:"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "results.json"));
  EXPECT_FALSE(fs::exists(out / "junit.xml"));
  fs::remove_all(dir);
}

TEST(RunCli, UsageErrorsExitTwo) {
  const fs::path dir = testing::temp_dir("usage");
  EXPECT_EQ(run_cli("run", dir).code, 2);
  EXPECT_EQ(run_cli("run \"" + kSource + "/suites/smoke.yaml\"", dir).code, 2);  // no --model
  EXPECT_EQ(run_cli("run \"" + kSource + "/suites/smoke.yaml\" --model x --device tpu", dir).code,
            2);
  fs::remove_all(dir);
}

// The bundled suites are valid (their metrics exist and accept their params): only an unreadable
// model can stop them.
TEST(RunCli, BundledSuitesValidate) {
  const fs::path dir = testing::temp_dir("bundled");
  for (const char* s : {"closer_look.yaml", "smoke.yaml"}) {
    const auto r =
        run_cli("run \"" + kSource + "/suites/" + s + "\" --model \"" + (dir / "missing").string() +
                    "\" --out \"" + (dir / "out").string() + "\"",
                dir);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err.find("suites/"), std::string::npos)
        << s << ": the suite itself was rejected: " << r.err;
  }
  fs::remove_all(dir);
}

TEST(RunCli, SmokeSuiteOnHfFixtureWritesReports) {
  const fs::path dir = testing::temp_dir("smoke_run");
  const fs::path out = dir / "reports";
  for (const char* model : {"mixtral_classic", "mixtral_fused"}) {
    const auto r = run_cli("run \"" + kSource + "/suites/smoke.yaml\" --model \"" + kData + "/hf/" +
                               model + "\" --device cpu --out \"" + out.string() + "\"",
                           dir);
    ASSERT_TRUE(r.code == 0 || r.code == 1) << model << ": " << r.err;
    for (const char* f :
         {"results.json", "tables.safetensors", "junit.xml", "summary.md", "report.html"})
      EXPECT_TRUE(fs::exists(out / f)) << f;
    const auto j = nlohmann::json::parse(testing::read_text(out / "results.json"));
    EXPECT_EQ(j["schema_version"], 3);
    EXPECT_EQ(j["tables_file"], "tables.safetensors");
    EXPECT_EQ(j["model"]["family"], "mixtral");
    ASSERT_EQ(j["hypotheses"].size(), 3u);
    int failed = 0;
    for (const auto& h : j["hypotheses"]) {
      EXPECT_NE(h["outcome"], "ERROR") << h.dump();
      failed += h["outcome"] == "FAIL" ? 1 : 0;
      EXPECT_EQ(h["per_layer"].size(), j["model"]["moe_layers"].size() >= 2 ? 2u : 1u);
    }
    EXPECT_EQ(r.code, failed > 0 ? 1 : 0);
    EXPECT_NE(r.out.find("| Outcome | Hypothesis |"), std::string::npos);
    // --layers restricts every hypothesis; --strict counts INCONCLUSIVE.
    const auto first = run_cli("run \"" + kSource + "/suites/smoke.yaml\" --model \"" + kData +
                                   "/hf/" + model + "\" --layers 0 --out \"" + out.string() + "\"",
                               dir);
    ASSERT_TRUE(first.code == 0 || first.code == 1) << first.err;
    const auto j0 = nlohmann::json::parse(testing::read_text(out / "results.json"));
    for (const auto& h : j0["hypotheses"]) EXPECT_EQ(h["per_layer"].size(), 1u);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moeprobe
