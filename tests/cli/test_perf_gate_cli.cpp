// End-to-end tests of `moeprobe perf-gate` on the recorded Google Benchmark pairs in
// tests/data/perf/ (see record.sh there for how each was made).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

const fs::path kData = fs::path(MOEPROBE_TEST_DATA) / "perf";

struct Gate {
  testing::CliResult cli;
  nlohmann::json json;  // FILE.json written beside --out FILE.md
  std::string verdict(const std::string& benchmark, const std::string& metric = "real_time") const {
    for (const auto& r : json["rows"])
      if (r["benchmark"] == benchmark && r["metric"] == metric) return r["verdict"];
    return "(no row)";
  }
};

Gate gate(const std::string& current, const std::string& extra = "") {
  const fs::path dir = testing::temp_dir("perf_gate_" + fs::path(current).stem().string());
  const fs::path thresholds = fs::path(MOEPROBE_SOURCE_DIR) / "configs/perf/default.yaml";
  Gate g;
  g.cli = run_cli("perf-gate \"" + (kData / "baseline.json").string() + "\" \"" +
                      (kData / current).string() + "\" --thresholds \"" + thresholds.string() +
                      "\" --out \"" + (dir / "gate.md").string() + "\" " + extra,
                  dir);
  if (fs::exists(dir / "gate.json")) {
    std::ifstream in(dir / "gate.json");
    g.json = nlohmann::json::parse(in);
    EXPECT_EQ(testing::read_text(dir / "gate.md"), g.cli.out);  // the printed table is the file
  }
  return g;
}

const std::string kStats = "BM_MatrixSetStats<CpuBackend>/16/512/1024/1/real_time";
const std::string kCosine = "BM_NeuronCosine/128/1024/real_time";
const std::string kAssign = "BM_Assignment/128/real_time";

TEST(PerfGateCli, IdenticalRunsAreSame) {
  const Gate g = gate("baseline.json");
  EXPECT_EQ(g.cli.code, 0) << g.cli.err;
  ASSERT_FALSE(g.json["rows"].empty());
  for (const auto& r : g.json["rows"]) {
    EXPECT_EQ(r["verdict"], "SAME") << r.dump();
    EXPECT_DOUBLE_EQ(r["p_value"].get<double>(), 1.0);
  }
  EXPECT_DOUBLE_EQ(g.json["geomean_time_ratio"].get<double>(), 1.0);
  EXPECT_NE(g.cli.out.find("| benchmark | metric | baseline | current | change | p | verdict |"),
            std::string::npos);
}

TEST(PerfGateCli, RerunOfTheSameCodeDoesNotFail) {
  const Gate g = gate("rerun.json");
  EXPECT_EQ(g.cli.code, 0) << g.cli.out;
  EXPECT_EQ(g.json["counts"]["SLOW"], 0);
  EXPECT_EQ(g.json["counts"]["FAST"], 0);
  EXPECT_EQ(g.verdict(kCosine), "SAME");
  EXPECT_EQ(g.verdict(kAssign), "SAME");
}

TEST(PerfGateCli, PlantedSlowdownIsSlowAndFails) {
  const Gate g = gate("slow20.json");
  EXPECT_EQ(g.cli.code, 1) << g.cli.out;
  EXPECT_EQ(g.verdict(kCosine), "SLOW");
  EXPECT_EQ(g.verdict(kAssign), "SLOW");
  EXPECT_EQ(g.verdict(kAssign, "bytes_per_second"), "SLOW");  // higher is better: fell
  EXPECT_TRUE(g.json["regressed"].get<bool>());
  EXPECT_GT(g.json["geomean_time_ratio"].get<double>(), 1.1);
  EXPECT_NE(g.cli.out.find("❌ SLOW"), std::string::npos);
  // The same pair in report-only mode: the table, exit 0.
  const Gate report = gate("slow20.json", "--report-only");
  EXPECT_EQ(report.cli.code, 0);
  EXPECT_EQ(report.verdict(kAssign), "SLOW");
}

TEST(PerfGateCli, NoisyPairIsAmbiguousAndPasses) {
  const Gate g = gate("noisy.json");
  EXPECT_EQ(g.cli.code, 0) << g.cli.out;
  for (const std::string& b : {kStats, kCosine, kAssign}) {
    EXPECT_EQ(g.verdict(b), "AMBIGUOUS") << b;
  }
  EXPECT_NE(g.cli.out.find("too noisy"), std::string::npos);
}

TEST(PerfGateCli, RenamedBenchmarkIsNewAndMissing) {
  const Gate g = gate("renamed.json");
  EXPECT_EQ(g.cli.code, 0) << g.cli.out;
  EXPECT_EQ(g.verdict(kAssign), "MISSING");
  EXPECT_EQ(g.verdict("BM_LinearAssignment/128/real_time"), "NEW");
  EXPECT_EQ(g.json["counts"]["NEW"], 1);
  EXPECT_EQ(g.json["counts"]["MISSING"], 1);
}

TEST(PerfGateCli, AggregatesOnlyWarnsThatNoTestIsPossible) {
  const Gate g = gate("aggregates.json");
  EXPECT_EQ(g.cli.code, 0);
  EXPECT_NE(g.cli.err.find("aggregates only"), std::string::npos) << g.cli.err;
  EXPECT_EQ(g.verdict(kStats), "AMBIGUOUS");
}

TEST(PerfGateCli, SkippedBenchmarksAreAmbiguousWithTheReason) {
  const fs::path dir = testing::temp_dir("perf_gate_skipped");
  const std::string f = (kData / "cuda_skipped.json").string();
  const auto r = run_cli("perf-gate \"" + f + "\" \"" + f + "\"", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("skipped in the current run: no CUDA device"), std::string::npos) << r.out;
}

TEST(PerfGateCli, BadInputExitsTwoNamingFileAndField) {
  const auto truncated = gate("truncated.json");
  EXPECT_EQ(truncated.cli.code, 2);
  EXPECT_NE(truncated.cli.err.find("truncated.json"), std::string::npos) << truncated.cli.err;
  EXPECT_NE(truncated.cli.err.find("malformed JSON"), std::string::npos);
  EXPECT_TRUE(truncated.json.is_null());  // nothing written

  const auto missing = gate("no_real_time.json", "--report-only");
  EXPECT_EQ(missing.cli.code, 2);  // --report-only does not hide bad input
  EXPECT_NE(missing.cli.err.find("no_real_time.json: benchmarks[2].real_time"), std::string::npos)
      << missing.cli.err;

  EXPECT_EQ(gate("does_not_exist.json").cli.code, 2);

  const fs::path dir = testing::temp_dir("perf_gate_thresholds");
  std::ofstream(dir / "t.yaml") << "alpha: 0.05\ndefault:\n  treshold: 0.1\n";
  const std::string base = (kData / "baseline.json").string();
  const auto bad = run_cli("perf-gate \"" + base + "\" \"" + base + "\" --thresholds \"" +
                               (dir / "t.yaml").string() + "\"",
                           dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("t.yaml: default.treshold: line 3: unknown key"), std::string::npos)
      << bad.err;
}

TEST(PerfGateCli, CpuTimeIsSelectable) {
  const Gate g = gate("slow20.json", "--time cpu");
  EXPECT_NE(g.verdict(kAssign, "cpu_time"), "(no row)");
  EXPECT_EQ(g.verdict(kAssign), "(no row)");
}

}  // namespace
}  // namespace moeprobe
