// The one helper every test uses to run the built moeprobe binary end to end: exit code, stdout
// and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace moeprobe::testing {

struct CliResult {
  int code = -1;  // the exit status; -1 when the process did not exit normally (a crash)
  std::string out, err;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh, empty directory under the system temp dir, per test process.
inline std::filesystem::path temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("moeprobe_cli_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Single-quoted for the shell, so any path can be passed in `args`.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `moeprobe ARGS`, args passed through the shell (quote paths with shell_quote); stdout and
// stderr captured through files in `scratch`.
inline CliResult run_cli(const std::string& args, const std::filesystem::path& scratch) {
  const auto out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const std::string cmd = shell_quote(MOEPROBE_CLI) + " " + args + " >" +
                          shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// The same with a scratch directory of its own, removed afterwards.
inline CliResult run_cli(const std::string& args) {
  std::random_device rd;
  const auto scratch =
      std::filesystem::temp_directory_path() / ("moeprobe_cli_io_" + std::to_string(::getpid()) +
                                                "_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(scratch);
  CliResult r = run_cli(args, scratch);
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  return r;
}

}  // namespace moeprobe::testing
