// tokenizer.model through SentencePiece itself (Debian libsentencepiece-dev). With special tokens:
// BOS in front (when the model has one and tokenizer_config.json does not set add_bos_token to
// false), EOS at the end only when add_eos_token is true — as Llama/Mixtral tokenizers do.
// SentencePiece runs in the isolated module of sentencepiece_module_abi.h (it cannot share a
// process's symbol scope with LibTorch), loaded on first use.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

struct MoeprobeSentencePieceApi;

namespace moeprobe::tokenizer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& file, const nlohmann::json& config);
  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;
  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              const std::string& where) const override;
  std::string describe() const override { return "tokenizer.model (SentencePiece)"; }

 private:
  const MoeprobeSentencePieceApi* api_ = nullptr;
  void* processor_ = nullptr;  // owned, released through api_
  int bos_id_ = -1, eos_id_ = -1;
  bool add_bos_ = true, add_eos_ = false;
};

}  // namespace moeprobe::tokenizer
