// tokenizer.model through SentencePiece itself (Debian libsentencepiece-dev). With special tokens:
// BOS in front (when the model has one and tokenizer_config.json does not set add_bos_token to
// false), EOS at the end only when add_eos_token is true — as Llama/Mixtral tokenizers do.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace moeprobe::tokenizer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& file, const nlohmann::json& config);
  ~SentencePieceTokenizer() override;
  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              const std::string& where) const override;
  std::string describe() const override { return "tokenizer.model (SentencePiece)"; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  bool add_bos_ = true, add_eos_ = false;
};

}  // namespace moeprobe::tokenizer
