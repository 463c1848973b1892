#include "tokenizer/pre_tokenizers.h"

#include <array>

#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"
#include "util/input_file.h"

namespace moeprobe::tokenizer {

const std::string& byte_level_char(unsigned char b) {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int next = 256;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
      append_utf8(t[c], printable ? c : next++);
    }
    return t;
  }();
  return table[b];
}

namespace {

enum class Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const nlohmann::json& spec, const std::string& file,
                        const std::string& field) {
  const std::string b = string_field(spec, "behavior", file, field);
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "Removed") return Behavior::Removed;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  throw InputError(file, field + ".behavior",
                   "expected Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous, "
                   "got \"" +
                       printable(b, 80) + "\"");
}

// Splits every piece at the regex's matches, keeping them according to `behavior`.
void split_by(const Regex& re, Behavior behavior, std::vector<Piece>& pieces) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  std::vector<std::pair<size_t, size_t>> matches;
  for (auto& piece : pieces) {
    const std::string& s = piece.text;
    re.find_all(s, matches);
    if (matches.empty()) {
      out.push_back(std::move(piece));
      continue;
    }
    // Parts of s as (begin, end, is_match), gaps included.
    struct Part {
      size_t b, e;
      bool match;
    };
    std::vector<Part> parts;
    size_t last = 0;
    for (const auto& [b, e] : matches) {
      if (b > last) parts.push_back({last, b, false});
      parts.push_back({b, e, true});
      last = e;
    }
    if (last < s.size()) parts.push_back({last, s.size(), false});
    std::vector<std::pair<size_t, size_t>> spans;
    for (size_t i = 0; i < parts.size(); ++i) {
      const Part& p = parts[i];
      switch (behavior) {
        case Behavior::Isolated:
          spans.emplace_back(p.b, p.e);
          break;
        case Behavior::Removed:
          if (!p.match) spans.emplace_back(p.b, p.e);
          break;
        case Behavior::MergedWithPrevious:
          if (p.match && !spans.empty() && spans.back().second == p.b && !parts[i - 1].match)
            spans.back().second = p.e;
          else
            spans.emplace_back(p.b, p.e);
          break;
        case Behavior::MergedWithNext:
          if (!p.match && i > 0 && parts[i - 1].match)
            spans.back().second = p.e;
          else
            spans.emplace_back(p.b, p.e);
          break;
        case Behavior::Contiguous:
          if (p.match && i > 0 && parts[i - 1].match)
            spans.back().second = p.e;
          else
            spans.emplace_back(p.b, p.e);
          break;
      }
    }
    for (size_t i = 0; i < spans.size(); ++i)
      out.push_back({s.substr(spans[i].first, spans[i].second - spans[i].first),
                     piece.at_start && spans[i].first == 0});
  }
  pieces.swap(out);
}

class Split : public PreTokenizer {
 public:
  Split(const nlohmann::json& spec, const std::string& file, const std::string& field)
      : behavior_(parse_behavior(spec, file, field)) {
    const auto& pattern = require_field(spec, "pattern", file, field);
    if (bool_field(spec, "invert", false, file, field))
      throw InputError(file, field + ".invert",
                       "unsupported value true (only false is implemented)");
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string())
      re_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>(), false, file,
                                    field + ".pattern.Regex");
    else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
      re_ = std::make_unique<Regex>(pattern["String"].get<std::string>(), true, file,
                                    field + ".pattern.String");
    else
      throw InputError(file, field + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
  }
  void split(std::vector<Piece>& pieces) const override { split_by(*re_, behavior_, pieces); }

 private:
  Behavior behavior_;
  std::unique_ptr<Regex> re_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(const nlohmann::json& spec, const std::string& file, const std::string& field)
      : add_prefix_space_(bool_field(spec, "add_prefix_space", true, file, field)) {
    if (bool_field(spec, "use_regex", true, file, field))
      gpt2_ = std::make_unique<Regex>(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
          false, file, field);
  }
  void split(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_)
      for (auto& p : pieces)
        if (!p.text.empty() && p.text[0] != ' ') p.text.insert(0, " ");
    if (gpt2_) split_by(*gpt2_, Behavior::Isolated, pieces);
    for (auto& p : pieces) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      for (unsigned char c : p.text) mapped += byte_level_char(c);
      p.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> gpt2_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(const nlohmann::json& spec, const std::string& file, const std::string& field)
      : replacement_(string_field(spec, "replacement", file, field)),
        split_(bool_field(spec, "split", true, file, field)) {
    if (replacement_.empty()) throw InputError(file, field + ".replacement", "is empty");
    if (spec.contains("prepend_scheme") && spec["prepend_scheme"].is_string()) {
      scheme_ = spec["prepend_scheme"].get<std::string>();
      if (scheme_ != "always" && scheme_ != "first" && scheme_ != "never")
        throw InputError(file, field + ".prepend_scheme", "expected always, first or never");
    } else {
      scheme_ = bool_field(spec, "add_prefix_space", true, file, field) ? "always" : "never";
    }
    if (split_) re_ = std::make_unique<Regex>(replacement_, true, file, field + ".replacement");
  }
  void split(std::vector<Piece>& pieces) const override {
    for (auto& p : pieces) {
      std::string out;
      for (char c : p.text) {
        if (c == ' ')
          out += replacement_;
        else
          out += c;
      }
      const bool prepend = scheme_ == "always" || (scheme_ == "first" && p.at_start);
      if (prepend && out.compare(0, replacement_.size(), replacement_) != 0)
        out.insert(0, replacement_);
      p.text.swap(out);
    }
    if (re_) split_by(*re_, Behavior::MergedWithNext, pieces);
  }

 private:
  std::string replacement_, scheme_;
  bool split_;
  std::unique_ptr<Regex> re_;
};

class Digits : public PreTokenizer {
 public:
  Digits(const nlohmann::json& spec, const std::string& file, const std::string& field)
      : re_(bool_field(spec, "individual_digits", false, file, field) ? "\\p{N}" : "\\p{N}+", false,
            file, field) {}
  void split(std::vector<Piece>& pieces) const override {
    split_by(re_, Behavior::Isolated, pieces);
  }

 private:
  Regex re_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void split(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec,
                                                 const std::string& file,
                                                 const std::string& field) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, file, field);
  if (type == "Split") return std::make_unique<Split>(spec, file, field);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(spec, file, field);
  if (type == "Metaspace") return std::make_unique<Metaspace>(spec, file, field);
  if (type == "Digits") return std::make_unique<Digits>(spec, file, field);
  if (type == "Sequence") {
    const auto& list = require_field(spec, "pretokenizers", file, field);
    if (!list.is_array()) throw InputError(file, field + ".pretokenizers", "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p =
          make_pre_tokenizer(list[i], file, field + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  unsupported(file, field, type);
}

}  // namespace moeprobe::tokenizer
