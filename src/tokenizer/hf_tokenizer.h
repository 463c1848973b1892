// A tokenizer.json pipeline: added tokens → normalizer → pre-tokenizer → BPE → post-processor.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace moeprobe::tokenizer {

class HfTokenizer : public Tokenizer {
 public:
  // config: tokenizer_config.json beside it, or null.
  HfTokenizer(const nlohmann::json& spec, const std::string& file, const nlohmann::json& config,
              const std::string& config_file);
  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              const std::string& where) const override;
  std::string describe() const override { return "tokenizer.json (BPE)"; }

 private:
  int64_t id_of(const std::string& token) const;

  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  SpecialWrap specials_;
};

}  // namespace moeprobe::tokenizer
