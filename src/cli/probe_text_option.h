// `run --probe-text FILE [--probe-lines SPEC]`, `run --probe-tokens FILE` and the suite's text
// probes (`probe: {text: FILE, lines: SPEC}`, `probe: {tokens: FILE}`, `probe: long | short`,
// the paper's two inputs): the probe is captured (probe/capture.h) into a temporary activations
// file inside the run's output directory, handed to the run as its activations, and removed
// afterwards, whatever the outcome.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "suite/schema.h"

namespace moeprobe::cli {

struct ProbeTextArgs {
  std::string text, lines, tokens;
};

void add_probe_text_options(CLI::App* run, ProbeTextArgs& args);

// Removes the temporary activations file (and the output directory when it created it and
// nothing else is in it).
class CapturedProbe {
 public:
  CapturedProbe(std::filesystem::path file, std::filesystem::path created_dir);
  ~CapturedProbe();
  CapturedProbe(const CapturedProbe&) = delete;
  CapturedProbe& operator=(const CapturedProbe&) = delete;
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_, created_dir_;
};

// Every probe a run captured, removed (with the output directory when the capture created it and
// nothing else is in it) when this goes.
struct CapturedProbes {
  CapturedProbes() = default;
  CapturedProbes(CapturedProbes&&) = default;
  CapturedProbes& operator=(CapturedProbes&&) = default;
  ~CapturedProbes();
  std::vector<std::unique_ptr<CapturedProbe>> files;
  std::filesystem::path created_dir;
  // --probe-text / --probe-tokens: the one probe of every hypothesis (empty: none given).
  std::string override_file;
  // The suite's text probes, each captured once: the probe as written (its JSON dump) -> file.
  std::map<std::string, std::filesystem::path> by_probe;
};

// Captures --probe-text/--probe-tokens, or else every distinct text probe the suite's dynamic
// hypotheses name (their own `probe:` or the suite's). Nothing when `activations` (run
// --activations) is given, which takes precedence over the suite's probes (together with
// --probe-text it is a usage error). Throws InputError for bad probe input.
CapturedProbes capture_text_probes(const ProbeTextArgs& args, const Suite& suite,
                                   const std::string& activations, const std::string& model_dir,
                                   const std::string& out_dir, std::ostream* log);

}  // namespace moeprobe::cli
