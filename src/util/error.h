// Errors that reach the user. InputError means "the input is wrong" (exit code 2): it always names
// the file, the field (tensor, key, line) and what was expected, so a user can fix the input
// without reading our code.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

namespace moeprobe {

// Control bytes (NUL included, newline and tab excepted) written as \xNN: a name taken from an
// input can neither truncate a message at a NUL nor move the terminal's cursor.
inline std::string escape_control_bytes(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

class InputError : public std::runtime_error {
 public:
  static constexpr std::size_t kMaxFieldBytes = 256, kMaxProblemBytes = 4096;

  InputError(std::string file, std::string field, std::string problem)
      : std::runtime_error(format(file, field, problem)),
        file_(std::move(file)),
        field_(std::move(field)),
        problem_(std::move(problem)) {}

  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& problem() const { return problem_; }

 private:
  // A last bound on what a message quotes from the input (call sites cut values to ~80
  // characters with json_excerpt/printable): a field or problem built from a huge key or value
  // stays a readable line instead of megabytes. Cut at a UTF-8 character boundary.
  static std::string bounded(std::string s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return s;
    std::size_t k = max_bytes;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    s.resize(k);
    return s + "...";
  }
  static std::string format(const std::string& file, const std::string& field,
                            const std::string& problem) {
    std::string out =
        file.empty() ? std::string("<input>") : bounded(escape_control_bytes(file), 4096);
    if (!field.empty()) out += ": " + bounded(escape_control_bytes(field), kMaxFieldBytes);
    return out + ": " + bounded(escape_control_bytes(problem), kMaxProblemBytes);
  }
  std::string file_, field_, problem_;
};

// Exit codes of the command line (docs/ARCHITECTURE.md, "Error policy"): 0 nothing failed (SKIPPED
// hypotheses included), 1 a finding failed or a metric drifted, 2 bad input or usage (nothing
// written), 3 an internal error: a bug in moeprobe, never the user's input.
enum ExitCode : int {
  kExitOk = 0,
  kExitFindingFailed = 1,
  kExitBadInput = 2,
  kExitInternalError = 3
};

}  // namespace moeprobe
