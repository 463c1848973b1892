// `moeprobe synth`: writes a complete synthetic model directory (config.json, safetensors shards,
// tokenizer.json, synth.json) for a recipe, streaming tensor by tensor so memory stays at one
// matrix in flight. Same recipe and seed -> byte-identical files.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "synth/recipe.h"

namespace moeprobe::synth {

// What was planted, per MoE layer, for synth.json and the tests.
struct LayerReport {
  int layer = 0;           // decoder layer index
  double similarity = 0;   // upcycling c (0: scratch)
  double keep_order = 1;   // fraction of neurons in place
  double mean_neuron = 0;  // planted mean pairwise cosine of act mean neurons
  double router_r2_target = -1, router_r2 = -1, router_alpha = 0;
  double norm_target = -1, norm_achieved = -1, norm_amplitude = 0;
  double activation_ratio_target = -1, dead_fraction = 0;
  double output_scale = 1;
  std::vector<int> dark_experts;
  std::vector<double> base_weight;  // per expert: weight of the shared base (upcycled layers)
};

struct SynthResult {
  std::filesystem::path out_dir;
  std::vector<LayerReport> layers;
  uint64_t tensor_bytes = 0;
  std::vector<std::filesystem::path> files;  // every file written, sorted
};

// The largest model synth writes unless told otherwise (`synth --max-output-gb`).
constexpr uint64_t kDefaultMaxOutputBytes = 64ull * 1000 * 1000 * 1000;

// families_dir empty: default_families_dir(). Throws InputError for recipe/family mismatches.
// The model is written into a directory beside out_dir and renamed into place at the end, so a
// failure leaves out_dir as it was; out_dir must be absent, empty or an earlier synth output. The
// size is estimated from the shapes first and refused above max_output_bytes or the free space.
// `progress` (util/progress.h) gets one line per decoder layer written.
SynthResult synthesize(const Recipe& recipe, const std::filesystem::path& out_dir,
                       const std::filesystem::path& families_dir = {}, int threads = 2,
                       uint64_t max_output_bytes = kDefaultMaxOutputBytes,
                       const std::function<void(const std::string&)>& progress = {});

// Vocabulary of the byte-level tokenizer: 4 specials then the 256 bytes (id = 4 + byte).
constexpr int kTokenizerSpecials = 4;
constexpr int kTokenizerVocab = 260;

}  // namespace moeprobe::synth
