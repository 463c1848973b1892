// Writes a small text file of a synthetic model (config.json, tokenizer files, synth.json).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "util/error.h"

namespace moeprobe::synth {

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw InputError(path.string(), "", "cannot write");
}

}  // namespace moeprobe::synth
