// The regular expressions of tokenizer.json (Split pre-tokenizer, Replace normalizer), through
// PCRE2 with JIT in UTF + UCP mode. Hugging Face tokenizers uses Oniguruma, whose \s also matches
// U+0085 (NEL); PCRE2's does not, so \s and \S are rewritten to include it (measured against the
// reference on the stress set). U+000B and U+FEFF behave alike in both engines.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moeprobe::tokenizer {

class Regex {
 public:
  // literal: match the pattern as a plain string. file/field name the source in errors.
  Regex(const std::string& pattern, bool literal, const std::string& file,
        const std::string& field);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-empty matches as [begin, end) byte offsets, left to right. text must be valid UTF-8.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  void* code_ = nullptr;        // pcre2_code_8
  void* match_data_ = nullptr;  // pcre2_match_data_8, reused (not thread-safe)
};

}  // namespace moeprobe::tokenizer
