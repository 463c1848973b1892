// moeprobe synth RECIPE.yaml --out MODEL_DIR [--seed N] [--dtype bf16|f16|f32] [--layers N]
// Writes a synthetic MoE checkpoint with the recipe's planted findings (src/synth).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "synth/generator.h"
#include "synth/recipe.h"
#include "util/error.h"
#include "util/progress.h"

namespace moeprobe::cli {
namespace {

struct SynthArgs {
  std::string recipe, out, dtype, families;
  int64_t seed = -1;
  int layers = 0;
  int threads = 0;
  double max_output_gb = synth::kDefaultMaxOutputBytes / 1e9;
  bool quiet = false;
};

}  // namespace

CommandRun setup_synth(CLI::App* sub) {
  auto args = std::make_shared<SynthArgs>();
  sub->add_option("recipe", args->recipe, "Recipe YAML (fixtures/recipes/*.yaml)")->required();
  sub->add_option("--out", args->out, "Model directory to write")->required();
  sub->add_option("--seed", args->seed, "Random seed (overrides the recipe's)");
  sub->add_option("--dtype", args->dtype, "bf16, f16 or f32 (overrides the recipe's)");
  sub->add_option("--layers", args->layers, "Number of decoder layers (overrides the recipe's)");
  sub->add_option("--families", args->families, "Directory of family YAML files");
  sub->add_option("--threads", args->threads, "Generator threads (default: hardware, at most 8)");
  sub->add_option("--max-output-gb", args->max_output_gb,
                  "Refuse a model whose estimated size is above this (GB)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--quiet", args->quiet, "Print nothing on success (no progress either)");
  return [args]() {
    synth::RecipeOverrides ov;
    if (args->seed >= 0) ov.seed = static_cast<uint64_t>(args->seed);
    if (!args->dtype.empty()) {
      ov.dtype = synth::parse_synth_dtype(args->dtype);
      if (!ov.dtype) throw InputError("<command line>", "--dtype", "expected bf16, f16 or f32");
    }
    if (args->layers != 0) ov.num_layers = args->layers;
    const auto start = std::chrono::steady_clock::now();
    const synth::Recipe recipe = synth::load_recipe(args->recipe, ov);
    int threads =
        args->threads > 0 ? args->threads : static_cast<int>(std::thread::hardware_concurrency());
    threads = std::clamp(threads, 1, 8);
    // Progress per layer on stderr (util/progress.h), unless this --quiet or the global one.
    const auto result = synth::synthesize(
        recipe, args->out, args->families, threads,
        static_cast<uint64_t>(std::min(args->max_output_gb * 1e9, 1e19)),
        args->quiet ? std::function<void(const std::string&)>() : stderr_progress_sink());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!args->quiet) {
      std::printf("synth: %s -> %s: %zu files, %.1f MB of tensors, %.2f s\n", recipe.name.c_str(),
                  args->out.c_str(), result.files.size(), result.tensor_bytes / 1e6, secs);
      for (const auto& l : result.layers) {
        if (l.router_r2_target >= 0)
          std::printf("  layer %d: router R^2 target %.3f planted %.3f\n", l.layer,
                      l.router_r2_target, l.router_r2);
        if (l.norm_target >= 0)
          std::printf("  layer %d: norm routing target %.3f calibrated %.3f\n", l.layer,
                      l.norm_target, l.norm_achieved);
      }
    }
    return static_cast<int>(kExitOk);
  };
}

}  // namespace moeprobe::cli
