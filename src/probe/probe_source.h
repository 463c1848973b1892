// Where a run's probe activations come from: `run --activations FILE|synthetic[:TOKENS]`, else
// the suite's `probe:` entry (`probe: synthetic`, `probe: {activations: FILE}` relative to the
// suite's directory, or `probe: {synthetic: {tokens, seed, sequences}}`). Other probe keys (text
// to run through the forward pass) are resolved elsewhere and leave the spec empty here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/activations.h"

namespace moeprobe {

struct ProbeSpec {
  enum class Kind { None, File, Synthetic };
  Kind kind = Kind::None;
  std::filesystem::path file;  // Kind::File
  int64_t tokens = 512;        // Kind::Synthetic
  uint64_t seed = 0;
  int sequences = 1;
  std::string origin;  // "--activations" or "<suite>: probe", for messages
  bool empty() const { return kind == Kind::None; }
};

// `--activations VALUE`: "synthetic", "synthetic:TOKENS" or a file path. Throws InputError.
ProbeSpec probe_spec_from_option(const std::string& value);
// The suite's probe entry (null: none). Throws InputError naming the suite and key.
ProbeSpec probe_spec_from_suite(const nlohmann::json& probe, const std::filesystem::path& suite);

// Opens the probe for the model's decoder `layers` (validated against the model).
std::unique_ptr<ProbeActivations> open_probe(const ProbeSpec& spec, const MoeModel& model,
                                             const std::vector<int>& layers);

}  // namespace moeprobe
