// config.json -> family -> canonical MoE layers: the input's first byte picks one of three tiny
// synthetic checkpoints (mixtral, qwen2_moe, deepseek, written once at start-up with
// `synth`), the rest replaces its config.json; the model is opened (family detection, sizes
// through the checked accessor, tensor validation), summarised as `inspect` does, and every MoE
// layer's canonical view is built.
#include "fuzz/fuzz_util.h"
#include "model/model_summary.h"
#include "model/moe_model.h"
#include "synth/generator.h"
#include "synth/recipe.h"

namespace {

namespace fs = std::filesystem;

const fs::path kFamilies = fs::path(MOEPROBE_SOURCE_DIR) / "configs" / "families";
const char* const kFamilyNames[] = {"mixtral", "qwen2_moe", "deepseek"};

const std::vector<fs::path>& models() {
  static const std::vector<fs::path> dirs = [] {
    std::vector<fs::path> out;
    for (const char* family : kFamilyNames) {
      const std::string recipe = std::string("family: ") + family +
                                 "\nmodel: {num_layers: 2, hidden_size: 16, intermediate_size: 8,"
                                 " num_experts: 4, top_k: 2, num_attention_heads: 2}\n";
      const fs::path dir = moeprobe::fuzz::scratch_dir() / family;
      moeprobe::synth::synthesize(moeprobe::synth::parse_recipe(recipe, "fuzz.yaml"), dir,
                                  kFamilies, 1);
      out.push_back(dir);
    }
    return out;
  }();
  return dirs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  if (size < 1) return 0;
  const fs::path& dir = models()[data[0] % 3];
  fuzz::write_file(dir / "config.json", fuzz::as_text(data + 1, size - 1));
  return fuzz::run_contract([&] {
    const auto model = MoeModel::open(dir, "", kFamilies);
    (void)format_summary_table(summarize_model(*model));
    for (int l : model->config().moe_layers) {
      const MoeLayer layer = model->layer(l);
      for (const auto& e : layer.experts)
        if (e.act.rank() != 2) std::abort();
    }
  });
}
