// The subcommand registry through the CLI: `list` (metrics, families, suites, recipes; text and
// JSON), an unknown subcommand (exit 2 naming the known ones), --version (version and revision).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.h"
#include "util/blas_kernels.h"
#include "util/build_info.h"

#include <cstdlib>
#include <optional>

namespace moeprobe {
namespace {

using testing::run_cli;

nlohmann::json list_json(const std::string& what) {
  const auto r = run_cli("list " + what + " --json");
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

const nlohmann::json* find_named(const nlohmann::json& rows, const std::string& name) {
  for (const auto& row : rows)
    if (row.at("name") == name) return &row;
  return nullptr;
}

TEST(CliList, MetricsNameTheirAnalysisAndDescription) {
  const nlohmann::json rows = list_json("metrics");
  ASSERT_TRUE(rows.is_array());
  ASSERT_GE(rows.size(), 5u);
  const nlohmann::json* a4 = nullptr;
  for (const auto& row : rows) {
    EXPECT_FALSE(row.at("name").get<std::string>().empty());
    EXPECT_FALSE(row.at("description").get<std::string>().empty()) << row.dump();
    EXPECT_EQ(row.at("analysis").get<std::string>().rfind("A", 0), 0u) << row.dump();
    if (row.at("analysis") == "A4") a4 = &row;
  }
  EXPECT_NE(a4, nullptr) << "no A4 metric listed";
  const auto text = run_cli("list metrics");
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("name", 0), 0u) << text.out;  // a header line
  EXPECT_NE(text.out.find(rows[0].at("name").get<std::string>()), std::string::npos);
}

TEST(CliList, FamiliesSuitesAndRecipes) {
  const nlohmann::json families = list_json("families");
  const nlohmann::json* mixtral = find_named(families, "mixtral");
  ASSERT_NE(mixtral, nullptr) << families.dump();
  EXPECT_NE(mixtral->at("description").get<std::string>().find("Mixtral"), std::string::npos);

  const nlohmann::json suites = list_json("suites");
  const nlohmann::json* closer = find_named(suites, "closer-look-static");
  ASSERT_NE(closer, nullptr) << suites.dump();
  for (const char* a : {"A1", "A2", "A3", "A4", "A5"})
    EXPECT_NE(closer->at("analysis").get<std::string>().find(a), std::string::npos) << a;

  const nlohmann::json recipes = list_json("recipes");
  const nlohmann::json* upcycled = find_named(recipes, "a1_upcycled_positive");
  ASSERT_NE(upcycled, nullptr) << recipes.dump();
  EXPECT_NE(upcycled->at("analysis").get<std::string>().find("A1"), std::string::npos);
  EXPECT_NE(upcycled->at("description").get<std::string>().find("A1 positive"), std::string::npos)
      << upcycled->dump();
}

TEST(CliList, UnknownListingIsBadInput) {
  const auto r = run_cli("list colours");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("metrics, families, suites, recipes"), std::string::npos) << r.err;
}

TEST(CliRegistry, UnknownSubcommandIsExit2NamingTheKnownOnes) {
  const auto r = run_cli("frobnicate --model x");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("inspect, run"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("Usage"), std::string::npos) << "printed the help instead: " << r.out;
}

TEST(CliRegistry, VersionPrintsVersionAndGitRevision) {
  const auto r = run_cli("--version");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(build_version()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("(") + build_revision() + ")"), std::string::npos) << r.out;
}

// The kernel set OpenBLAS runs in `moeprobe` started with OPENBLAS_CORETYPE = `coretype` (unset
// when nullopt), from --version's BLAS line; "" when the BLAS is not OpenBLAS.
std::string cli_blas_core(const std::optional<std::string>& coretype) {
  const char* saved = std::getenv("OPENBLAS_CORETYPE");
  const std::optional<std::string> before =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  if (coretype)
    setenv("OPENBLAS_CORETYPE", coretype->c_str(), 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  const auto r = run_cli("--version");
  if (before)
    setenv("OPENBLAS_CORETYPE", before->c_str(), 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("BLAS: "), std::string::npos) << r.out;
  const std::string marker = "running its ";
  const auto at = r.out.find(marker);
  if (at == std::string::npos) return "";
  const auto from = at + marker.size();
  return r.out.substr(from, r.out.find(' ', from) - from);
}

TEST(CliRegistry, NeverRunsAFallbackBlasKernelSetOnACpuThatHasBetter) {
  const std::string core = cli_blas_core(std::nullopt);
  if (core.empty()) GTEST_SKIP() << "the BLAS linked is not OpenBLAS";
  EXPECT_FALSE(better_blas_core(core, detect_cpu_vector_units()).has_value())
      << "moeprobe runs OpenBLAS's " << core << " kernels on a CPU with AVX2";
}

TEST(CliRegistry, AnExplicitBlasKernelChoiceIsKept) {
  if (cli_blas_core(std::nullopt).empty()) GTEST_SKIP() << "the BLAS linked is not OpenBLAS";
  EXPECT_EQ(cli_blas_core(std::string("Prescott")), "Prescott");
}

TEST(CliRegistry, AFallbackBlasKernelSetStartsTheProgramAgainWithTheBestOne) {
  const CpuVectorUnits units = detect_cpu_vector_units();
  if (cli_blas_core(std::nullopt).empty()) GTEST_SKIP() << "the BLAS linked is not OpenBLAS";
  if (!units.avx2_fma) GTEST_SKIP() << "this CPU has no AVX2: Prescott-class kernels are right";
  setenv("MOEPROBE_ASSUME_BLAS_CORE", "Prescott", 1);
  const std::string core = cli_blas_core(std::nullopt);
  unsetenv("MOEPROBE_ASSUME_BLAS_CORE");
  EXPECT_EQ(core, units.avx512 ? "SkylakeX" : "Haswell");
  // The arguments survive the second start: a subcommand's output is unchanged.
  setenv("MOEPROBE_ASSUME_BLAS_CORE", "Prescott", 1);
  const auto r = run_cli("list families");
  unsetenv("MOEPROBE_ASSUME_BLAS_CORE");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, run_cli("list families").out);
}

TEST(CliRegistry, HelpListsEverySubcommand) {
  const auto r = run_cli("--help");
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* name : {"inspect", "run", "synth", "compare", "report", "list", "perf-gate"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace moeprobe
