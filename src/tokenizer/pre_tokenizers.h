// tokenizer.json "pre_tokenizer": Split (regex or string, all five behaviours), ByteLevel (GPT-2
// byte-to-unicode map, optional GPT-2 regex), Metaspace, Digits, Sequence. Each re-splits the
// pieces the previous one produced.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe::tokenizer {

struct Piece {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec,
                                                 const std::string& file, const std::string& field);

// The GPT-2 map from bytes to printable code points (UTF-8 encoded), used by ByteLevel.
const std::string& byte_level_char(unsigned char b);

}  // namespace moeprobe::tokenizer
