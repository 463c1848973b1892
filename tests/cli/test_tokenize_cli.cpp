// moeprobe tokenize end to end: ids, --json, --jsonl, --no-special, and bad input → exit 2 with
// nothing on stdout.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_test_util.h"

namespace moeprobe {
namespace {

using testing::run_cli;

const std::string kOlmoe = std::string(MOEPROBE_TEST_DATA) + "/tokenizers/olmoe/tokenizer.json";
const std::string kMixtral = std::string(MOEPROBE_TEST_DATA) + "/tokenizers/mixtral";

TEST(TokenizeCli, PrintsIds) {
  const auto dir = testing::temp_dir("tokenize_ids");
  // Reference ids from Hugging Face tokenizers (olmoe: no BOS; Mixtral: BOS 1 unless --no-special).
  auto r = run_cli("tokenize \"" + kOlmoe + "\" --text 'Hello world' --json", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[12092,1533]}\n");
  r = run_cli("tokenize \"" + kMixtral + "\" --text 'Hello world'", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 22557 1526\n");
  r = run_cli("tokenize \"" + kMixtral + "/tokenizer.model\" --text 'Hello world' --no-special",
              dir);
  EXPECT_EQ(r.out, "22557 1526\n");
  std::ofstream(dir / "in.jsonl") << "\"Hello world\"\n\n\"\"\n";
  r = run_cli("tokenize \"" + kOlmoe + "\" --jsonl \"" + (dir / "in.jsonl").string() + "\"", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[12092,1533]}\n{\"ids\":[]}\n");
  std::ofstream(dir / "in.txt") << "Hello world";
  r = run_cli("tokenize \"" + kOlmoe + "\" --file \"" + (dir / "in.txt").string() + "\"", dir);
  EXPECT_EQ(r.out, "12092 1533\n");
  std::filesystem::remove_all(dir);
}

TEST(TokenizeCli, BadInputExits2WithNothingPrinted) {
  const auto dir = testing::temp_dir("tokenize_bad");
  std::ofstream(dir / "bad.jsonl") << "\"fine\"\n{\"not\": \"a string\"}\n";
  auto r =
      run_cli("tokenize \"" + kOlmoe + "\" --jsonl \"" + (dir / "bad.jsonl").string() + "\"", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;

  std::ofstream(dir / "tokenizer.json") << R"({"model": {"type": "Unigram", "vocab": []}})";
  r = run_cli("tokenize \"" + dir.string() + "\" --text hi", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Unigram"), std::string::npos) << r.err;

  r = run_cli("tokenize \"" + kOlmoe + "\"", dir);  // no input given
  EXPECT_EQ(r.code, 2);
  r = run_cli("tokenize \"" + kOlmoe + "\" --text a --file b", dir);
  EXPECT_EQ(r.code, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moeprobe
