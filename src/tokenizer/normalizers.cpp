#include "tokenizer/normalizers.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <vector>

#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"

namespace moeprobe::tokenizer {
namespace {

class UnicodeForm : public Normalizer {
 public:
  UnicodeForm(const char* name, UNormalization2Mode mode, const std::string& file,
              const std::string& field) {
    UErrorCode status = U_ZERO_ERROR;
    norm_ = icu::Normalizer2::getInstance(nullptr, name, mode, status);
    if (U_FAILURE(status) || !norm_) throw InputError(file, field, "ICU normalizer unavailable");
  }
  void apply(std::string& text) const override {
    UErrorCode status = U_ZERO_ERROR;
    const icu::UnicodeString in = icu::UnicodeString::fromUTF8(text);
    // Most text is already normalised: skip the rebuild then.
    if (norm_->isNormalized(in, status) && U_SUCCESS(status)) return;
    status = U_ZERO_ERROR;
    const icu::UnicodeString out = norm_->normalize(in, status);
    if (U_FAILURE(status)) throw std::runtime_error("ICU normalisation failed");
    text.clear();
    out.toUTF8String(text);
  }

 private:
  const icu::Normalizer2* norm_ = nullptr;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string s) : prefix_(std::move(s)) {}
  void apply(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);  // HF: only non-empty strings get the prefix
  }

 private:
  std::string prefix_;
};

class Replace : public Normalizer {
 public:
  Replace(const nlohmann::json& spec, const std::string& file, const std::string& field) {
    const auto& pattern = require_field(spec, "pattern", file, field);
    content_ = string_field(spec, "content", file, field);
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      literal_ = pattern["String"].get<std::string>();
      if (literal_.empty()) throw InputError(file, field + ".pattern.String", "is empty");
    } else if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>(), false, file,
                                       field + ".pattern.Regex");
    } else {
      throw InputError(file, field + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
    }
  }
  void apply(std::string& text) const override {
    if (regex_) {
      regex_->find_all(text, matches_);
    } else {
      matches_.clear();
      for (size_t p = text.find(literal_); p != std::string::npos;
           p = text.find(literal_, p + literal_.size()))
        matches_.emplace_back(p, p + literal_.size());
    }
    if (matches_.empty()) return;
    std::string out;
    out.reserve(text.size() + matches_.size() * content_.size());
    size_t last = 0;
    for (const auto& [b, e] : matches_) {
      out.append(text, last, b - last);
      out += content_;
      last = e;
    }
    out.append(text, last, std::string::npos);
    text.swap(out);
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<Regex> regex_;
  mutable std::vector<std::pair<size_t, size_t>> matches_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void apply(std::string& text) const override {
    for (const auto& p : parts_) p->apply(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& file,
                                            const std::string& field) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, file, field);
  if (type == "NFC") return std::make_unique<UnicodeForm>("nfc", UNORM2_COMPOSE, file, field);
  if (type == "NFD") return std::make_unique<UnicodeForm>("nfc", UNORM2_DECOMPOSE, file, field);
  if (type == "NFKC") return std::make_unique<UnicodeForm>("nfkc", UNORM2_COMPOSE, file, field);
  if (type == "NFKD") return std::make_unique<UnicodeForm>("nfkc", UNORM2_DECOMPOSE, file, field);
  if (type == "Prepend")
    return std::make_unique<Prepend>(string_field(spec, "prepend", file, field));
  if (type == "Replace") return std::make_unique<Replace>(spec, file, field);
  if (type == "Sequence") {
    const auto& list = require_field(spec, "normalizers", file, field);
    if (!list.is_array()) throw InputError(file, field + ".normalizers", "expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_normalizer(list[i], file, field + ".normalizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  unsupported(file, field, type);
}

}  // namespace moeprobe::tokenizer
