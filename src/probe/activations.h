// The probe a dynamic analysis runs on: per decoder layer, the input of the MoE block for every
// probe token (the post-attention-norm hidden state the router sees), [T, H] float.
//
// Two sources:
// - an activations file (safetensors, written by `moeprobe capture`): tensors
//   `layers.{L}.moe_input` F32 [T, H], `token_ids` I64 [T], `sequence_starts` I64 [S] (first
//   token of each sequence), `bos_mask` U8 [T] (1 at BOS positions), `__metadata__`
//   {"moeprobe_activations": "1", "model", "tokenizer", "probe"}. Memory-mapped; validated at open.
// - a synthetic Gaussian probe: x_t = w ⊙ z_t with z_t ~ N(0, I) and w the layer's
//   post-attention RMSNorm weight (Grok: its pre-MoE norm), seeded. With the unit norm weights
//   of `moeprobe synth` this is exactly the input distribution the synthetic dynamic findings are
//   calibrated for (src/synth: router alpha, norm-routing amplitude). It is labelled "synthetic
//   gaussian, not text" wherever results name the probe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/tensor_view.h"

namespace moeprobe {

class MoeModel;
class SafetensorsFile;

constexpr const char* kSyntheticProbeName = "synthetic gaussian, not text";

struct ProbeInfo {
  std::string name;    // the file's metadata "probe" (or the file name), or kSyntheticProbeName
  std::string source;  // the activations file, or "synthetic"
  bool synthetic = false;
  uint64_t seed = 0;  // synthetic only
  int64_t tokens = 0, hidden = 0;
  std::vector<int64_t> token_ids;        // [T]; empty for a synthetic probe
  std::vector<int64_t> sequence_starts;  // [S], ascending, starting at 0
  std::vector<uint8_t> bos_mask;         // [T], 1 at BOS positions
  std::string model, tokenizer;          // from the file's metadata, when present
  int64_t bos_count() const;
  // Tokens kept when BOS positions are excluded (or all of them).
  std::vector<int64_t> token_indices(bool exclude_bos) const;
  // {"name", "source", "tokens", "bos_tokens", "sequences", ...} for results.json.
  nlohmann::json to_json() const;
};

// One layer's MoE input. `x` stays valid while the LayerActivations (and its ProbeActivations)
// live.
struct LayerActivations {
  int layer = 0;                                    // decoder layer index
  TensorView x;                                     // [T, H] float
  std::shared_ptr<const std::vector<float>> owned;  // synthetic data behind x
};

class ProbeActivations {
 public:
  ~ProbeActivations();
  // Opens an activations file and validates it against the model: every `layers.{L}.moe_input`
  // it holds has the hidden size `hidden`, the same T > 0 and only finite values; every decoder
  // layer in `layers` is present; the token tensors have their shapes. Throws InputError naming
  // the file and the tensor (or metadata key).
  static std::unique_ptr<ProbeActivations> open(const std::filesystem::path& file, int64_t hidden,
                                                const std::vector<int>& layers);
  // A synthetic Gaussian probe of `tokens` tokens split into `sequences` sequences (position 0
  // of each marked as BOS when `mark_bos`, so BOS exclusion can be exercised), for the model's
  // MoE layers. Throws InputError for tokens < 1 or a norm weight of the wrong size.
  static std::unique_ptr<ProbeActivations> synthetic(const MoeModel& model, int64_t tokens,
                                                     uint64_t seed, int sequences = 1,
                                                     bool mark_bos = false);

  const ProbeInfo& info() const { return info_; }
  // A captured probe's file is temporary: results name where it came from instead.
  void set_source(std::string source) { info_.source = std::move(source); }
  bool has_layer(int decoder_layer) const;
  // The layer's [T, H] input (synthetic: generated on each call, T * H floats).
  LayerActivations layer(int decoder_layer) const;

 private:
  ProbeActivations() = default;
  ProbeInfo info_;
  std::unique_ptr<SafetensorsFile> file_;
  std::map<int, TensorView> views_;  // file-backed layers
  // Synthetic: the norm weight per decoder layer.
  std::map<int, std::vector<float>> norm_weight_;
};

}  // namespace moeprobe
