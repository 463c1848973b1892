// The model a recipe describes, resolved against its family file: sizes, layout, activation and
// the RNG kind, validated once before anything is generated or written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "io/dtype.h"
#include "model/family.h"
#include "synth/recipe.h"
#include "synth/rng.h"

namespace moeprobe::synth {

struct SynthModel {
  const Recipe& r;
  Family fam;
  ExpertLayout layout;
  NormalKind kind;
  int threads;
  int L = 0, E = 0, K = 0, first_dense = 0, n_moe = 0, heads = 0, kv = 0, hd = 0;
  int64_t H = 0, I = 0, V = 0, dense_I = 0, shared_I = 0;
  int n_shared = 0;
  Activation act = Activation::SiLU;
};

// Multi-head latent attention sizes (families naming kv_a_proj_with_mqa): small, fixed fractions
// of the model's sizes, written to config.json.
struct MlaDims {
  int64_t q_lora, kv_lora, nope, rope, v;
};
MlaDims mla_dims(const SynthModel& m);
bool has_mla(const Family& f);

// The family file of the recipe (InputError listing the known ones if there is none).
Family load_recipe_family(const Recipe& r, const std::filesystem::path& families_dir);

// Sizes from the recipe checked against what the family can express (shared experts, dense first
// layers, fused size limit); InputError naming the recipe field otherwise.
SynthModel resolve_model(const Recipe& r, Family fam, int threads);

// True when the family names a config key for the canonical size.
bool family_has_key(const Family& f, const std::string& canon);

// Tensor bytes the model will take, from the shapes alone (before any tensor is listed: a recipe
// inside every documented range can still ask for petabytes). Norms and biases are left out.
double estimate_tensor_bytes(const SynthModel& m, DType dt);

// "12.3 GB"
std::string gigabytes(double bytes);

}  // namespace moeprobe::synth
