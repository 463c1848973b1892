// Shared by the libFuzzer harnesses (fuzz/README.md). The oracle is moeprobe's error contract:
// bad input must end in InputError (exit 2) or a YAML error (also exit 2); any other exception is
// exit 3 ("internal error") and is reported as a finding, like a crash, a leak or a timeout.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <yaml-cpp/yaml.h>

#include "util/error.h"

namespace moeprobe::fuzz {

inline std::string as_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A scratch directory for harnesses that need files, made once per process.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const auto d =
        std::filesystem::temp_directory_path() / ("moeprobe-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs body; the contract's errors are expected, anything else aborts with the message.
template <class F>
int run_contract(F&& body) {
  try {
    body();
  } catch (const InputError&) {
  } catch (const YAML::Exception&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moeprobe fuzz: exit 3 (internal error) on this input: %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace moeprobe::fuzz
