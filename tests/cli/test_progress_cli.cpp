// Progress on stderr for the long commands (run, synth, capture): when stderr is not a terminal
// (these tests capture it into a file, as a CI log does) one plain line per layer, "layer L (k/n
// layers): ..."; the global --quiet silences it; stdout is the same either way.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "forward/forward.h"
#include "tests/cli/cli_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;
using testing::shell_quote;

// The progress lines of a stderr text, which must name layers 0..n-1 in order as steps 1..n and
// end in `extra` (": 3 tokens, ..."); other lines (notices) are left out.
std::vector<std::string> progress_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.find(" layers)") != std::string::npos) out.push_back(line);
  return out;
}

void expect_one_line_per_layer(const std::string& err, int layers, const std::string& extra) {
  const auto lines = progress_lines(err);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(layers)) << err;
  for (int l = 0; l < layers; ++l) {
    const std::regex want("moeprobe: layer " + std::to_string(l) + " \\(" + std::to_string(l + 1) +
                          "/" + std::to_string(layers) + " layers\\): " + extra +
                          ", [0-9.]+ s(, [0-9.]+ [kMGT]?B/s)?(, ETA .*)?");
    EXPECT_TRUE(std::regex_match(lines[l], want)) << lines[l];
  }
  EXPECT_EQ(lines.back().find("ETA"), std::string::npos) << lines.back();
  EXPECT_EQ(err.find('\r'), std::string::npos) << "a terminal's rewritten line in a log";
}

TEST(ProgressCli, SynthOneLinePerLayerQuietSilences) {
  const fs::path dir = testing::temp_dir("progress_synth");
  const fs::path recipe = dir / "tiny.yaml";
  std::ofstream(recipe) << "family: mixtral\nmodel: {num_layers: 3, hidden_size: 16, "
                           "intermediate_size: 16, num_experts: 4, top_k: 2, "
                           "num_attention_heads: 2}\n";
  const std::string args = "synth " + shell_quote(recipe.string()) + " --out ";
  const auto loud = run_cli(args + shell_quote((dir / "a").string()), dir);
  ASSERT_EQ(loud.code, 0) << loud.err;
  expect_one_line_per_layer(loud.err, 3, "[0-9]+ tensors");
  EXPECT_EQ(loud.out.rfind("synth: tiny -> ", 0), 0u) << loud.out;

  const auto quiet = run_cli("--quiet " + args + shell_quote((dir / "b").string()), dir);
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_TRUE(progress_lines(quiet.err).empty()) << quiet.err;
  // stdout says the same (but for the directory name and the time).
  EXPECT_EQ(quiet.out.substr(quiet.out.find('\n')), loud.out.substr(loud.out.find('\n')));
  // synth's own --quiet prints nothing at all.
  const auto silent = run_cli(args + shell_quote((dir / "c").string()) + " --quiet", dir);
  ASSERT_EQ(silent.code, 0) << silent.err;
  EXPECT_EQ(silent.out + silent.err, "");
  fs::remove_all(dir);
}

TEST(ProgressCli, CaptureOneLinePerDecoderLayerQuietSilences) {
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch";
  const fs::path dir = testing::temp_dir("progress_capture");
  std::ofstream(dir / "ids.txt") << "1,5,6\n7 8\n";
  const std::string args = "capture " +
                           shell_quote(std::string(MOEPROBE_TEST_DATA) + "/forward/mixtral_synth") +
                           " --tokens-file " + shell_quote((dir / "ids.txt").string()) + " --out " +
                           shell_quote((dir / "acts.safetensors").string());
  const auto loud = run_cli(args, dir);
  ASSERT_EQ(loud.code, 0) << loud.err;
  expect_one_line_per_layer(loud.err, 2, "5 tokens");
  const auto quiet = run_cli("--quiet " + args, dir);
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_TRUE(progress_lines(quiet.err).empty()) << quiet.err;
  EXPECT_NE(quiet.err.find("wrote "), std::string::npos) << quiet.err;  // the summary stays
  EXPECT_EQ(quiet.out, loud.out);
  fs::remove_all(dir);
}

TEST(ProgressCli, RunOneLinePerLayerQuietSilences) {
  const fs::path dir = testing::temp_dir("progress_run");
  const std::string args =
      "run " + shell_quote(std::string(MOEPROBE_SOURCE_DIR) + "/suites/smoke.yaml") + " --model " +
      shell_quote(std::string(MOEPROBE_TEST_DATA) + "/hf/mixtral_classic") + " --device cpu --out ";
  const auto loud = run_cli(args + shell_quote((dir / "a").string()), dir);
  ASSERT_TRUE(loud.code == 0 || loud.code == 1) << loud.err;
  const auto lines = progress_lines(loud.err);
  ASSERT_FALSE(lines.empty()) << loud.err;
  EXPECT_NE(lines.back().find("/" + std::to_string(lines.size()) + " layers): "), std::string::npos)
      << lines.back();
  const auto quiet = run_cli("--quiet " + args + shell_quote((dir / "b").string()), dir);
  EXPECT_EQ(quiet.code, loud.code) << quiet.err;
  EXPECT_TRUE(progress_lines(quiet.err).empty()) << quiet.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moeprobe
