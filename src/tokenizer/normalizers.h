// tokenizer.json "normalizer": NFC/NFD/NFKC/NFKD (ICU), Prepend, Replace, Sequence.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace moeprobe::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

// null → nullptr (no normalisation). Unsupported type → InputError naming file and type.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& file,
                                            const std::string& field);

}  // namespace moeprobe::tokenizer
