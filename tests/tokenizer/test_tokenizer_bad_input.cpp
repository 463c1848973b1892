// Bad tokenizer files and texts: InputError naming the file and the component or field; and the
// byte-level tokenizer.json that `moeprobe synth` writes tokenises as Hugging Face would.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

// A byte-level BPE like the one `moeprobe synth` writes: 4 specials, 256 byte tokens, no merges,
// plus one merge so merging is exercised.
nlohmann::json byte_level_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::array();
  const char* specials[] = {"<unk>", "<s>", "</s>", "<pad>"};
  for (int i = 0; i < 4; ++i) {
    vocab[specials[i]] = i;
    added.push_back({{"id", i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  // GPT-2 byte map for printable ASCII is the identity; space is U+0120 "Ġ".
  for (int b = 0; b < 256; ++b) {
    std::string s;
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    int cp = b;
    if (!printable) {
      int n = 256;
      for (int c = 0; c < b; ++c)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE)) ++n;
      cp = n;
    }
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    vocab[s] = 4 + b;
  }
  vocab["ab"] = 260;
  const nlohmann::json bl = {{"type", "ByteLevel"},
                             {"add_prefix_space", false},
                             {"trim_offsets", true},
                             {"use_regex", false}};
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", bl},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder", bl},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", "<unk>"},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"vocab", vocab},
            {"merges", {"a b"}}}}};
}

class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moeprobe_tok_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text, const std::string& name = "tokenizer.json") {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  // The InputError message of loading `path`, or "" when it loads.
  static std::string load_error(const std::string& path) {
    try {
      tokenizer::load_tokenizer(path);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TokenizerFiles, SynthByteLevelTokenizerEncodes) {
  const auto tok = tokenizer::load_tokenizer(write(byte_level_tokenizer().dump()));
  // "ab" merges; " " is byte 0x20 → id 36; "é" is two bytes; "<s>" in the text is the special.
  EXPECT_EQ(tok->encode("ab c", false), (std::vector<int64_t>{260, 4 + ' ', 4 + 'c'}));
  EXPECT_EQ(tok->encode("é<s>", true), (std::vector<int64_t>{1, 4 + 0xC3, 4 + 0xA9, 1}));
  EXPECT_EQ(tok->encode("", true), (std::vector<int64_t>{1}));
}

TEST_F(TokenizerFiles, MalformedJsonNamesTheFile) {
  const std::string path = write("{\"model\": ");
  const std::string err = load_error(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("not valid JSON"), std::string::npos) << err;
}

TEST_F(TokenizerFiles, UnsupportedComponentsNameFileAndType) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"pre_tokenizer", {{"type", "Whitespace"}}},
      {"normalizer", {{"type", "BertNormalizer"}}},
      {"post_processor", {{"type", "Mystery"}}},
  };
  for (const auto& [key, value] : cases) {
    auto spec = byte_level_tokenizer();
    spec[key] = value;
    const std::string path = write(spec.dump());
    const std::string err = load_error(path);
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_NE(err.find(key + ".type"), std::string::npos) << err;
    EXPECT_NE(err.find(value["type"].get<std::string>()), std::string::npos) << err;
  }
  auto spec = byte_level_tokenizer();
  spec["model"]["type"] = "WordPiece";
  const std::string err = load_error(write(spec.dump()));
  EXPECT_NE(err.find("model.type"), std::string::npos) << err;
  EXPECT_NE(err.find("WordPiece"), std::string::npos) << err;
}

TEST_F(TokenizerFiles, BadFieldsAreNamed) {
  auto spec = byte_level_tokenizer();
  spec["model"]["merges"] = {"a zzz"};
  EXPECT_NE(load_error(write(spec.dump())).find("model.merges[0]"), std::string::npos);
  spec = byte_level_tokenizer();
  spec["model"]["vocab"]["x"] = "seven";
  EXPECT_NE(load_error(write(spec.dump())).find("model.vocab"), std::string::npos);
  spec = byte_level_tokenizer();
  spec["pre_tokenizer"] = {{"type", "Split"},
                           {"pattern", {{"Regex", "(unclosed"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}};
  EXPECT_NE(load_error(write(spec.dump())).find("pre_tokenizer.pattern.Regex"), std::string::npos);
  spec = byte_level_tokenizer();
  spec["added_tokens"][0].erase("content");
  EXPECT_NE(load_error(write(spec.dump())).find("added_tokens[0].content"), std::string::npos);
  EXPECT_NE(load_error(write("junk", "tokenizer.model")).find("SentencePiece"), std::string::npos);
  EXPECT_NE(load_error((dir_ / "absent.json").string()).find("no such file"), std::string::npos);
}

TEST_F(TokenizerFiles, ConfigBosMustExist) {
  const std::string path = write(byte_level_tokenizer().dump());
  write(R"({"add_bos_token": true, "bos_token": "<nope>"})", "tokenizer_config.json");
  EXPECT_NE(load_error(path).find("bos_token"), std::string::npos);
  write(R"({"add_bos_token": false, "add_eos_token": true, "eos_token": "</s>"})",
        "tokenizer_config.json");
  EXPECT_EQ(tokenizer::load_tokenizer(path)->encode("a", true), (std::vector<int64_t>{4 + 'a', 2}));
}

TEST_F(TokenizerFiles, InvalidUtf8TextIsRejected) {
  const auto tok = tokenizer::load_tokenizer(write(byte_level_tokenizer().dump()));
  try {
    tok->encode("ok \xff", false, "input.txt");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("input.txt"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos);
  }
}

}  // namespace
}  // namespace moeprobe
