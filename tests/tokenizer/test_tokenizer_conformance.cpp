// Token ids identical to the references (Hugging Face tokenizers for tokenizer.json, SentencePiece
// for tokenizer.model) on the probe lines, the stress set and every line of WikiText-103's test
// file, with and without special tokens. References: tests/data/tokenizers/*.refs.json, written
// by scripts/make-tokenizer-refs.{js,py}.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_data.h"

namespace moeprobe {
namespace {

using testing::fnv1a_ids;

struct Case {
  const char* name;
  std::filesystem::path file;
};

std::vector<Case> cases() {
  const auto d = testing::tokenizer_data_dir();
  return {{"olmoe", d / "olmoe/tokenizer.json"},
          {"mixtral", d / "mixtral/tokenizer.model"},
          {"grok1", d / "grok1/tokenizer.model"},
          {"qwen3", testing::npm_models_dir("tokenizer-qwen3") / "tokenizer.json"},
          {"deepseek_v3", testing::npm_models_dir("tokenizer-deepseek_v3") / "tokenizer.json"},
          {"gptoss", testing::npm_models_dir("tokenizer-gptoss") / "tokenizer.json"},
          {"llama2", testing::npm_models_dir("tokenizer-llama2") / "tokenizer.json"}};
}

std::string show(const std::string& s) {
  return s.size() > 80 ? s.substr(0, 80) + "…" : s;
}

class Conformance : public ::testing::TestWithParam<Case> {};

TEST_P(Conformance, IdsMatchReference) {
  const Case& c = GetParam();
  if (!std::filesystem::exists(c.file))
    GTEST_SKIP() << c.file << " is absent: run scripts/fetch-test-data.sh (needs npm) to fetch it";
  const auto refs = nlohmann::json::parse(
      testing::slurp(testing::tokenizer_data_dir() / (std::string(c.name) + ".refs.json")));
  const auto tok = tokenizer::load_tokenizer(c.file.string());
  const auto stress =
      nlohmann::json::parse(testing::slurp(testing::tokenizer_data_dir() / "stress.json"))["texts"]
          .get<std::vector<std::string>>();
  const std::vector<std::pair<std::string, std::vector<std::string>>> sets = {
      {"probe", testing::probe_lines()},
      {"stress", stress},
      {"wikitext", testing::wikitext_lines()}};
  for (const auto& [set, texts] : sets) {
    for (const char* mode : {"plain", "special"}) {
      const auto& expected = refs["sets"][set][mode];
      ASSERT_EQ(expected.size(), texts.size()) << c.name << " " << set << ": reference out of date";
      size_t mismatches = 0;
      for (size_t i = 0; i < texts.size(); ++i) {
        const auto ids = tok->encode(texts[i], std::string(mode) == "special");
        const bool same = expected[i].is_string() ? fnv1a_ids(ids) == expected[i].get<std::string>()
                                                  : ids == expected[i].get<std::vector<int64_t>>();
        if (!same && ++mismatches <= 3)
          ADD_FAILURE() << c.name << " " << set << " " << mode << " text " << i << " \""
                        << show(texts[i]) << "\": got " << nlohmann::json(ids).dump().substr(0, 300)
                        << " expected " << expected[i].dump().substr(0, 300);
      }
      EXPECT_EQ(mismatches, 0u) << c.name << " " << set << " " << mode << ": " << mismatches
                                << " of " << texts.size() << " texts differ";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, Conformance, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace moeprobe
