#include "synth/tokenizer_files.h"

#include <string>

#include <nlohmann/json.hpp>

#include "synth/generator.h"
#include "synth/text_file.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest move above 255.
std::string byte_token(int b) {
  int cp = b;
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  if (!printable) {
    int n = 0;
    for (int c = 0; c < b; ++c)
      if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

}  // namespace

void write_tokenizer_files(const fs::path& dir) {
  const char* specials[kTokenizerSpecials] = {"<unk>", "<s>", "</s>", "<pad>"};
  ojson added = ojson::array();
  ojson vocab = ojson::object();
  for (int i = 0; i < kTokenizerSpecials; ++i) {
    added.push_back({{"id", i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
    vocab[specials[i]] = i;
  }
  for (int b = 0; b < 256; ++b) vocab[byte_token(b)] = kTokenizerSpecials + b;
  const ojson byte_level = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", true},
                            {"use_regex", false}};
  ojson tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", ojson::array()}}}};
  write_text(dir / "tokenizer.json", tok.dump(1) + "\n");
  const ojson cfg = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                     {"bos_token", "<s>"},
                     {"eos_token", "</s>"},
                     {"unk_token", "<unk>"},
                     {"pad_token", "<pad>"},
                     {"add_bos_token", true},
                     {"add_eos_token", false},
                     {"model_max_length", 4096}};
  write_text(dir / "tokenizer_config.json", cfg.dump(1) + "\n");
}

}  // namespace moeprobe::synth
