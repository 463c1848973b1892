// The byte-level BPE tokenizer every synthetic model ships (tokenizer.json and
// tokenizer_config.json): 4 specials then the 256 bytes (generator.h: kTokenizerVocab).
#pragma once

#include <filesystem>

namespace moeprobe::synth {

void write_tokenizer_files(const std::filesystem::path& dir);

}  // namespace moeprobe::synth
