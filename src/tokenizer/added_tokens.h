// tokenizer.json "added_tokens": split out of the text before anything else, leftmost-longest.
// Tokens with normalized=false match the raw text; normalized=true ones match after the
// normalizer ran on the remaining segments. lstrip/rstrip swallow adjacent whitespace;
// single_word matches only between word boundaries.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe::tokenizer {

struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false, special = false;
};

// A piece of the input: an added token (id >= 0) or text still to tokenise.
struct Segment {
  std::string text;
  int64_t token_id = -1;
  bool at_start = false;
};

class AddedTokenMatcher {
 public:
  void add(const AddedToken& token);
  bool empty() const { return tokens_.empty(); }
  // Splits every text segment of `segments` at the tokens; added-token segments pass through.
  void split(std::vector<Segment>& segments) const;

 private:
  // Longest token starting at s[pos] (index into tokens_), or -1.
  int64_t longest_at(std::string_view s, size_t pos) const;
  std::vector<AddedToken> tokens_;
  std::map<std::string, size_t, std::less<>> by_content_;
  // Byte trie over the contents: children sorted by byte; terminal_ = token index or -1.
  std::vector<std::vector<std::pair<unsigned char, int32_t>>> children_{1};
  std::vector<int64_t> terminal_{-1};
};

std::vector<AddedToken> parse_added_tokens(const nlohmann::json& list, const std::string& file);

}  // namespace moeprobe::tokenizer
