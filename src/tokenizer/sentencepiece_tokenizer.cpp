#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace moeprobe::tokenizer {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& file,
                                               const nlohmann::json& config)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = sp_->Load(file);
  if (!status.ok())
    throw InputError(file, "", "not a readable SentencePiece model: " + status.ToString());
  if (config.is_object()) {
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
      add_bos_ = config["add_bos_token"].get<bool>();
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean())
      add_eos_ = config["add_eos_token"].get<bool>();
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text, bool add_special,
                                                    const std::string& where) const {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw InputError(where, "byte " + std::to_string(bad), "text is not valid UTF-8");
  std::vector<int> pieces;
  const auto status = sp_->Encode(text, &pieces);
  if (!status.ok()) throw InputError(where, "", "SentencePiece failed: " + status.ToString());
  std::vector<TokenId> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special && add_bos_ && sp_->bos_id() >= 0) ids.push_back(sp_->bos_id());
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special && add_eos_ && sp_->eos_id() >= 0) ids.push_back(sp_->eos_id());
  return ids;
}

}  // namespace moeprobe::tokenizer
