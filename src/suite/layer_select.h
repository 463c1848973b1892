// Layer selectors of a suite, over the positions of a model's MoE layers (0 = the first MoE
// layer, -1 = the last): "moe" / "all" (every MoE layer), a Python-like slice "0:-1", "2:10:2",
// "::3", a single position "-1", or a list "[3, 7, 11]" (negative positions allowed).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace moeprobe {

struct LayerSelector {
  enum class Kind { All, Slice, List };
  Kind kind = Kind::All;
  std::optional<long> start, stop;  // Slice (Python semantics, clamped)
  long step = 1;
  std::vector<long> positions;  // List (also a single position)
  std::string text;             // as written, for reports

  // The selected positions among n MoE layers, ascending and unique. A listed position outside
  // [-n, n) makes *error say why and returns nothing.
  std::vector<int> resolve(int n, std::string* error = nullptr) const;
};

// Parses a selector; nullopt (with *error saying what was expected) when malformed.
std::optional<LayerSelector> parse_layer_selector(const std::string& text, std::string* error);

}  // namespace moeprobe
