#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cctype>

#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace moeprobe::tokenizer {
namespace {

// Word characters for single_word boundaries (ASCII alphanumerics and '_', and any non-ASCII
// letter-ish byte sequence treated as a word character).
bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

// Code point that ends just before byte `end` (s valid UTF-8).
uint32_t code_point_before(std::string_view s, size_t end, size_t& begin) {
  begin = end - 1;
  while (begin > 0 && (static_cast<unsigned char>(s[begin]) & 0xC0) == 0x80) --begin;
  size_t i = begin;
  return next_code_point(s, i);
}

}  // namespace

std::vector<AddedToken> parse_added_tokens(const nlohmann::json& list, const std::string& file) {
  std::vector<AddedToken> out;
  if (list.is_null()) return out;
  if (!list.is_array()) throw InputError(file, "added_tokens", "expected an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    const auto& t = list[i];
    AddedToken a;
    a.content = string_field(t, "content", file, field);
    const auto& id = require_field(t, "id", file, field);
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      throw InputError(file, field + ".id", "expected a non-negative integer");
    a.id = id.get<int64_t>();
    a.lstrip = bool_field(t, "lstrip", false, file, field);
    a.rstrip = bool_field(t, "rstrip", false, file, field);
    a.single_word = bool_field(t, "single_word", false, file, field);
    a.special = bool_field(t, "special", false, file, field);
    a.normalized = bool_field(t, "normalized", !a.special, file, field);
    if (a.content.empty()) throw InputError(file, field + ".content", "is empty");
    if (find_invalid_utf8(a.content) != std::string::npos)
      throw InputError(file, field + ".content", "is not valid UTF-8");
    out.push_back(std::move(a));
  }
  return out;
}

void AddedTokenMatcher::add(const AddedToken& token) {
  const auto it = by_content_.find(token.content);
  if (it != by_content_.end()) {
    tokens_[it->second] = token;  // a later entry with the same content wins
    return;
  }
  by_content_.emplace(token.content, tokens_.size());
  int32_t node = 0;
  for (unsigned char c : token.content) {
    auto& kids = children_[node];
    auto k = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t(-1)));
    if (k == kids.end() || k->first != c) {
      const auto next = static_cast<int32_t>(children_.size());
      k = kids.insert(k, {c, next});
      children_.emplace_back();
      terminal_.push_back(-1);
    }
    node = k->second;
  }
  terminal_[node] = static_cast<int64_t>(tokens_.size());
  tokens_.push_back(token);
}

int64_t AddedTokenMatcher::longest_at(std::string_view s, size_t pos) const {
  int64_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const auto& kids = children_[node];
    const unsigned char c = s[i];
    const auto k = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t(-1)));
    if (k == kids.end() || k->first != c) break;
    node = k->second;
    if (terminal_[node] >= 0) best = terminal_[node];
  }
  return best;
}

void AddedTokenMatcher::split(std::vector<Segment>& segments) const {
  if (tokens_.empty()) return;
  std::vector<Segment> out;
  for (auto& seg : segments) {
    if (seg.token_id >= 0) {
      out.push_back(std::move(seg));
      continue;
    }
    const std::string_view s = seg.text;
    size_t text_begin = 0;  // start of the pending text before the next match
    size_t pos = 0;
    while (pos < s.size()) {
      const int64_t found = longest_at(s, pos);
      if (found < 0) {
        ++pos;
        continue;
      }
      const AddedToken* t = &tokens_[found];
      if (t->single_word) {
        // A rejected match is consumed as text, as the reference's non-overlapping search does.
        const size_t end = pos + t->content.size();
        const bool left_ok = pos == 0 || !is_word_byte(static_cast<unsigned char>(s[pos - 1]));
        const bool right_ok = end == s.size() || !is_word_byte(static_cast<unsigned char>(s[end]));
        if (!left_ok || !right_ok) {
          pos = end;
          continue;
        }
      }
      size_t start = pos, stop = pos + t->content.size();
      if (t->lstrip) {
        while (start > text_begin) {
          size_t b;
          if (!is_unicode_whitespace(code_point_before(s, start, b))) break;
          start = b;
        }
      }
      if (t->rstrip) {
        while (stop < s.size()) {
          size_t i = stop;
          if (!is_unicode_whitespace(next_code_point(s, i))) break;
          stop = i;
        }
      }
      if (start > text_begin)
        out.push_back({std::string(s.substr(text_begin, start - text_begin)), -1,
                       seg.at_start && text_begin == 0});
      out.push_back({std::string(s.substr(start, stop - start)), t->id, false});
      text_begin = pos = stop;
    }
    if (text_begin < s.size())
      out.push_back({std::string(s.substr(text_begin)), -1, seg.at_start && text_begin == 0});
  }
  segments.swap(out);
}

}  // namespace moeprobe::tokenizer
