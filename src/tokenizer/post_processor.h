// tokenizer.json "post_processor" for single sequences: TemplateProcessing (special tokens
// around $A), BertProcessing / RobertaProcessing (cls $A sep), ByteLevel (offsets only: no change
// to ids), Sequence. Applied only when special tokens are asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe::tokenizer {

struct SpecialWrap {
  std::vector<int64_t> prefix, suffix;
  void apply(std::vector<int64_t>& ids) const {
    ids.insert(ids.begin(), prefix.begin(), prefix.end());
    ids.insert(ids.end(), suffix.begin(), suffix.end());
  }
};

// null → no special tokens. Unsupported type → InputError naming file and type.
SpecialWrap parse_post_processor(const nlohmann::json& spec, const std::string& file,
                                 const std::string& field);

}  // namespace moeprobe::tokenizer
