// Helpers for the synth tests: generate a recipe into a temp directory and read tensors back as
// float64 through the checkpoint reader. Statistics are computed here, not with the metrics
// library, so the tests check the generator independently.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "synth/generator.h"
#include "synth/recipe.h"
#include "synth/rng.h"

namespace moeprobe::synth::testing {

namespace fs = std::filesystem;

inline fs::path families_dir() {
  return fs::path(MOEPROBE_SOURCE_DIR) / "configs" / "families";
}

inline fs::path temp_dir(const std::string& tag) {
  static int counter = 0;
  fs::path p =
      fs::temp_directory_path() / ("moeprobe_synth_" + tag + "_" + std::to_string(::getpid()) +
                                   "_" + std::to_string(counter++));
  fs::remove_all(p);
  return p;
}

inline SynthResult generate(const std::string& yaml, const fs::path& out, uint64_t seed,
                            DType dtype = DType::BF16) {
  RecipeOverrides ov;
  ov.seed = seed;
  ov.dtype = dtype;
  const Recipe r = parse_recipe(yaml, "test_recipe.yaml", ov);
  return synthesize(r, out, families_dir(), 2);
}

using Mat = std::vector<double>;

inline Mat read(const Checkpoint& ck, const std::string& name) {
  const TensorView v = ck.tensor(name);
  Mat out(static_cast<std::size_t>(v.numel()));
  v.read_double(0, v.numel(), out.data());
  return out;
}

inline double dot(const double* a, const double* b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline double cosine(const Mat& a, const Mat& b) {
  return dot(a.data(), b.data(), a.size()) /
         std::sqrt(dot(a.data(), a.data(), a.size()) * dot(b.data(), b.data(), b.size()));
}
inline double cosine(const double* a, const double* b, std::size_t n) {
  return dot(a, b, n) / std::sqrt(dot(a, a, n) * dot(b, b, n));
}

// Mean of the rows of an [rows, cols] matrix.
inline std::vector<double> row_mean(const Mat& m, int64_t rows, int64_t cols) {
  std::vector<double> out(static_cast<std::size_t>(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[j] += m[i * cols + j] / rows;
  return out;
}

inline double pearson_r2(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy * sxy / (sxx * syy);
}

// Standard normal inputs for the dynamic statistics (independent of the generator's streams).
inline std::vector<double> random_inputs(int tokens, int64_t hidden, uint64_t seed) {
  std::vector<double> x(static_cast<std::size_t>(tokens * hidden));
  Rng rng(stream_key(seed, "test-inputs"));
  for (std::size_t i = 0; i + 1 < x.size(); i += 2) rng.normal_pair(x[i], x[i + 1]);
  return x;
}

inline std::string mixtral_names(int l, int e, const char* w) {
  return "model.layers." + std::to_string(l) + ".block_sparse_moe.experts." + std::to_string(e) +
         "." + w + ".weight";
}
inline std::string mixtral_router(int l) {
  return "model.layers." + std::to_string(l) + ".block_sparse_moe.gate.weight";
}

}  // namespace moeprobe::synth::testing
