// Helpers for the probe tests: a tiny synthetic MoE checkpoint and hand-written activations files.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors_writer.h"
#include "synth/generator.h"
#include "synth/recipe.h"

namespace moeprobe::probetest {

namespace fs = std::filesystem;

inline fs::path temp_dir(const std::string& tag) {
  static int counter = 0;
  fs::path p =
      fs::temp_directory_path() / ("moeprobe_probe_" + tag + "_" + std::to_string(::getpid()) +
                                   "_" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A 3-layer Mixtral-like model (H 24, I 20, 6 experts, top-2), bf16.
inline fs::path tiny_model(const fs::path& dir) {
  const std::string yaml =
      "schema: moeprobe/recipe/v1\nfamily: mixtral\nseed: 3\n"
      "model: {num_layers: 3, hidden_size: 24, intermediate_size: 20, num_experts: 6, top_k: 2, "
      "num_attention_heads: 2}\n";
  synth::RecipeOverrides ov;
  const synth::Recipe r = synth::parse_recipe(yaml, "tiny.yaml", ov);
  synth::synthesize(r, dir, fs::path(MOEPROBE_SOURCE_DIR) / "configs" / "families", 2);
  return dir;
}

struct ActivationsFile {
  int64_t tokens = 8, hidden = 24;
  std::vector<int> layers = {0, 1, 2};
  std::vector<uint8_t> bos;  // default: BOS at 0 and 4
  std::vector<int64_t> starts = {0, 4};
  std::map<std::string, std::string> metadata = {{"moeprobe_activations", "1"},
                                                 {"probe", "test probe"}};
  float poison = 0.0f;  // written at layer 1, token 3, element 2 when non-zero
  bool with_bos = true;
  void write(const fs::path& path) const {
    std::vector<uint8_t> mask = bos;
    if (mask.empty()) {
      mask.assign(static_cast<std::size_t>(tokens), 0);
      for (int64_t s : starts)
        if (s < tokens) mask[static_cast<std::size_t>(s)] = 1;
    }
    std::vector<TensorSpec> specs;
    for (int L : layers)
      specs.push_back({"layers." + std::to_string(L) + ".moe_input", DType::F32, {tokens, hidden}});
    specs.push_back({"token_ids", DType::I64, {tokens}});
    specs.push_back({"sequence_starts", DType::I64, {static_cast<int64_t>(starts.size())}});
    if (with_bos) specs.push_back({"bos_mask", DType::U8, {static_cast<int64_t>(mask.size())}});
    SafetensorsWriter w(path, specs, metadata);
    for (int L : layers) {
      std::vector<float> x(static_cast<std::size_t>(tokens * hidden));
      for (std::size_t k = 0; k < x.size(); ++k)
        x[k] = static_cast<float>(std::sin(0.37 * static_cast<double>(k) + L));
      if (poison != 0 && L == 1 && tokens > 3 && hidden > 2) x[3 * hidden + 2] = poison;
      w.write_floats("layers." + std::to_string(L) + ".moe_input", x.data(), x.size());
    }
    std::vector<int64_t> ids(static_cast<std::size_t>(tokens));
    for (int64_t t = 0; t < tokens; ++t) ids[t] = 100 + t;
    w.write("token_ids", ids.data(), ids.size() * 8);
    w.write("sequence_starts", starts.data(), starts.size() * 8);
    if (with_bos) w.write("bos_mask", mask.data(), mask.size());
    w.finish();
  }
};

}  // namespace moeprobe::probetest
