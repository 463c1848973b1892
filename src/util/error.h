// Errors that reach the user. InputError means "the input is wrong" (exit code 2): it always names
// the file, the field (tensor, key, line) and what was expected, so a user can fix the input
// without reading our code.
#pragma once

#include <stdexcept>
#include <string>

namespace moeprobe {

class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string field, std::string problem)
      : std::runtime_error(format(file, field, problem)),
        file_(std::move(file)),
        field_(std::move(field)),
        problem_(std::move(problem)) {}

  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& problem() const { return problem_; }

 private:
  static std::string format(const std::string& file, const std::string& field,
                            const std::string& problem) {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (!field.empty()) out += ": " + field;
    return out + ": " + problem;
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
