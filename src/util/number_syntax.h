// Linear scanners for the number syntaxes of the text inputs: YAML core-schema scalars and the
// thresholds of a suite ("> 0.5", "in [0, 1]"). Hand-written rather than std::regex because
// libstdc++'s regex executor recurses once per input character: a 19 kB scalar of digits in a
// recipe overflowed the stack (fuzz_recipe, pass 5). These run in constant stack.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>

namespace moeprobe {

// Advances `i` past a run of base-10 digits; returns how many there were.
inline std::size_t skip_digits(const std::string& s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i - start;
}

// Advances `i` past blanks (space, \t, \n, \v, \f, \r).
inline void skip_blanks(const std::string& s, std::size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

// Advances `i` past a decimal number [-+]?(D+(.D*)?|.D+)([eE][-+]?D+)? and returns true, or
// leaves `i` where it was and returns false.
inline bool scan_decimal(const std::string& s, std::size_t& i) {
  std::size_t k = i;
  if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
  std::size_t mantissa = skip_digits(s, k);
  if (k < s.size() && s[k] == '.') {
    ++k;
    mantissa += skip_digits(s, k);
  }
  if (mantissa == 0) return false;
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    std::size_t e = k + 1;
    if (e < s.size() && (s[e] == '+' || s[e] == '-')) ++e;
    if (skip_digits(s, e) == 0) return false;
    k = e;
  }
  i = k;
  return true;
}

// Whether all of `s` is [-+]?[0-9]+.
inline bool is_decimal_integer(const std::string& s) {
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  return skip_digits(s, i) > 0 && i == s.size();
}

// Whether all of `s` is `prefix` followed by one or more digits of `base` (8 or 16).
inline bool is_prefixed_integer(const std::string& s, const char* prefix, int base) {
  const std::string p(prefix);
  if (s.size() <= p.size() || s.compare(0, p.size(), p) != 0) return false;
  for (std::size_t i = p.size(); i < s.size(); ++i) {
    const char c = s[i];
    const bool ok =
        base == 8 ? (c >= '0' && c <= '7') : std::isxdigit(static_cast<unsigned char>(c));
    if (!ok) return false;
  }
  return true;
}

// Whether all of `s` is one decimal number (see scan_decimal).
inline bool is_decimal_number(const std::string& s) {
  std::size_t i = 0;
  return scan_decimal(s, i) && i == s.size();
}

}  // namespace moeprobe
