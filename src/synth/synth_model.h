// The model a recipe asks for, resolved against its family file: the family, the expert layout,
// every size, and the dense reference family when the recipe writes one. Resolving checks that
// the family can express the recipe (shared experts, dense first layers, layout); after it, the
// rest of synth only writes.
#pragma once

#include <cstdint>
#include <filesystem>

#include "model/family.h"
#include "synth/recipe.h"
#include "synth/rng.h"

namespace moeprobe::synth {

struct Model {
  const Recipe& r;
  Family fam;
  ExpertLayout layout;
  NormalKind kind;
  int threads;
  int L = 0, E = 0, K = 0, first_dense = 0, n_moe = 0, heads = 0, kv = 0, hd = 0;
  int64_t H = 0, I = 0, V = 0, dense_I = 0, shared_I = 0;
  int n_shared = 0;
  Activation act = Activation::SiLU;
  Family ref_fam;  // the dense reference model's family (r.plant.write_reference)
};

// Throws InputError(recipe file, key, what was expected) when the family cannot express it.
Model resolve_model(const Recipe& r, const std::filesystem::path& families_dir, int threads);

}  // namespace moeprobe::synth
