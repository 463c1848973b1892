// A tokenizer turns text into the token ids of a checkpoint, identical to Hugging Face `tokenizers`
// (tokenizer.json) or SentencePiece (tokenizer.model). Open one with load_tokenizer().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moeprobe::tokenizer {

using TokenId = int64_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // add_special: apply the post-processor (BOS/EOS). Special-token strings inside the text are
  // recognised either way, as in Hugging Face tokenizers. Not thread-safe (word caches).
  // Throws InputError when text is not valid UTF-8 (`where` names its source).
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special,
                                      const std::string& where = "<text>") const = 0;
  // "tokenizer.json (BPE)" or "tokenizer.model (SentencePiece)": for messages and metadata.
  virtual std::string describe() const = 0;
};

// PATH: a model directory (tokenizer.json preferred, else tokenizer.model), a tokenizer.json or a
// tokenizer.model. tokenizer_config.json beside it (add_bos_token, add_eos_token) is honoured.
// Malformed files and unsupported components throw InputError naming the file and component.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace moeprobe::tokenizer
