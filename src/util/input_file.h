// Checked reading of untrusted inputs: every text file moeprobe reads (suites, recipes, family
// files, config.json, index files, results.json, benchmark JSON, tokenizer.json) goes through
// read_text_file, and every JSON text through parse_json. Limits (docs/RELIABILITY.md):
// - a text input must be a regular file (checked without blocking: a FIFO, a directory or a
//   device is refused before anything is read) of at most kMaxTextInputBytes;
// - JSON nesting deeper than kMaxJsonDepth is refused while parsing, so no recursive walk, copy
//   or dump of a parsed value can overflow the stack;
// - numbers that no double or 64-bit integer holds (1e999, 2^64) are refused, never rounded.
// Every failure is an InputError naming the file and what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace moeprobe {

constexpr uint64_t kMaxTextInputBytes = 64ull << 20;  // 64 MiB
constexpr int kMaxJsonDepth = 64;

// Opens `path` for reading without blocking (O_NONBLOCK, so a FIFO cannot hang the open) and
// checks it is a regular file; returns the descriptor (blocking mode restored). `what` names the
// input in messages ("suite file", "config.json"). The caller closes it.
int open_regular_file(const std::filesystem::path& path, const std::string& what);

// The whole file, refused when it is not a regular file or larger than `limit` bytes.
std::string read_text_file(const std::filesystem::path& path, const std::string& what,
                           uint64_t limit = kMaxTextInputBytes);

// Parses JSON text; malformed JSON, nesting beyond max_depth and numbers out of range are
// InputError(file, "", ...). Duplicate keys keep the last value (as nlohmann's parser does).
nlohmann::json parse_json(const std::string& text, const std::string& file,
                          int max_depth = kMaxJsonDepth);

// read_text_file + parse_json.
nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what,
                              uint64_t limit = kMaxTextInputBytes);

// Throws InputError(file, "line N", ...) at the first byte sequence that is not UTF-8.
void check_utf8(const std::string& text, const std::string& file);

// Whether `path` is `dir` or lies inside it (symbolic links and ".." resolved as far as the
// paths exist): an output that would replace or hold an input is refused with this.
bool is_inside(const std::filesystem::path& path, const std::filesystem::path& dir);

// A value for an error message: short values as JSON, long ones cut to about `max_chars`
// characters (invalid UTF-8 replaced), so a message never carries an unbounded input.
std::string json_excerpt(const nlohmann::json& v, std::size_t max_chars = 80);

// A string from an input for a message: control bytes (NUL included) written as \xNN, cut to
// about max_chars characters.
std::string printable(const std::string& s, std::size_t max_chars = 200);

}  // namespace moeprobe
