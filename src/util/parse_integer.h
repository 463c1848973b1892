// Whole-string integer parsing for command-line values and text inputs (token ids, line numbers).
#pragma once

#include <optional>
#include <string>

namespace moeprobe {

// The value when all of `text` is one base-10 integer (no sign-only, blanks or trailing text).
inline std::optional<long long> parse_integer(const std::string& text) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used == 0 || used != text.size()) return std::nullopt;
  return v;
}

}  // namespace moeprobe
