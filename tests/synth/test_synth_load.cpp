// Generated models load through MoeModel::open with the recipe's shapes, for every family and
// layout, and every committed recipe parses; the small ones generate and load too.
#include <gtest/gtest.h>

#include <cstring>

#include "model/moe_model.h"
#include "synth_test_util.h"

namespace moeprobe::synth::testing {
namespace {

TEST(SynthLoad, EveryFamilyOpensAsMoeModel) {
  struct Case {
    std::string head;
    int shared;
    int first_dense;
  };
  const Case cases[] = {{"family: mixtral\nlayout: classic\n", 0, 0},
                        {"family: mixtral\nlayout: fused\n", 0, 0},
                        {"family: qwen2_moe\n", 1, 0},
                        {"family: deepseek\n", 2, 1},
                        {"family: olmoe\n", 0, 0},
                        {"family: grok1\n", 0, 0}};
  for (const auto& c : cases) {
    std::string y =
        c.head +
        "model: {num_layers: 3, hidden_size: 32, intermediate_size: 48, num_experts: 6, "
        "top_k: 2, num_attention_heads: 4";
    if (c.first_dense) y += ", num_shared_experts: 2, first_k_dense_replace: 1";
    y += "}\nplant:\n  upcycling: {strength: 0.4}\n  norm_routing: {strength: 0.5}\n";
    const auto dir = temp_dir("load");
    generate(y, dir, 1);
    const auto model = MoeModel::open(dir, "", families_dir());
    const ModelConfig& cfg = model->config();
    EXPECT_EQ(cfg.num_layers, 3) << c.head;
    EXPECT_EQ(cfg.hidden_size, 32);
    EXPECT_EQ(cfg.expert_intermediate_size, 48);
    EXPECT_EQ(cfg.num_experts, 6);
    EXPECT_EQ(cfg.top_k, 2);
    EXPECT_EQ(cfg.num_shared_experts, c.shared) << c.head;
    ASSERT_EQ(cfg.moe_layers.size(), 3u - c.first_dense) << c.head;
    EXPECT_EQ(cfg.moe_layers.front(), c.first_dense);
    EXPECT_EQ(model->layout().fused(), c.head.find("fused") != std::string::npos);
    for (int l : cfg.moe_layers) {
      const MoeLayer layer = model->layer(l);
      EXPECT_EQ(layer.num_experts(), 6);
      EXPECT_EQ(layer.router.shape, (std::vector<int64_t>{6, 32}));
      EXPECT_EQ(layer.experts[5].act.shape, (std::vector<int64_t>{48, 32}));
      EXPECT_EQ(layer.experts[5].down.shape, (std::vector<int64_t>{32, 48}));
      if (c.shared) {
        ASSERT_FALSE(layer.shared.empty()) << c.head;
        EXPECT_EQ(layer.shared[0].act.dim(0), c.shared * 48);
      }
    }
    if (c.first_dense) EXPECT_TRUE(model->has_dense_ffn(0));
    fs::remove_all(dir);
  }
}

TEST(SynthLoad, ReferenceModelOpensAsDenseMistral) {
  const auto dir = temp_dir("ref");
  generate(
      "family: mixtral\nmodel: {num_layers: 2, hidden_size: 32, intermediate_size: 48, "
      "num_experts: 4, num_attention_heads: 4}\nplant:\n  upcycling: {strength: 0.3, "
      "write_reference: true}\n",
      dir, 1);
  Checkpoint ref(dir / "reference");
  EXPECT_EQ(ref.config()["model_type"], "mistral");
  EXPECT_EQ(ref.tensor("model.layers.1.mlp.down_proj.weight").shape,
            (std::vector<int64_t>{32, 48}));
  // Embeddings and attention are shared by name with the MoE model: identical bytes.
  Checkpoint moe(dir);
  const auto a = moe.tensor("model.layers.1.self_attn.q_proj.weight");
  const auto b = ref.tensor("model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(0, std::memcmp(a.data, b.data, a.nbytes()));
  fs::remove_all(dir);
}

TEST(SynthLoad, EveryCommittedRecipeParsesAndSmallOnesLoad) {
  const fs::path dir = fs::path(MOEPROBE_SOURCE_DIR) / "fixtures" / "recipes";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const Recipe full = load_recipe(entry.path());
    ++n;
    if (entry.path().stem().string().rfind("a", 0) == 0) {
      EXPECT_FALSE(full.expect.empty()) << entry.path();
    }
    // Three layers are enough to show that the recipe generates and loads (seconds, not minutes).
    RecipeOverrides ov;
    ov.num_layers = std::max(3, full.shape.first_k_dense_replace + 1);
    const Recipe r = full.plant.dark_cross_layers.empty() ? load_recipe(entry.path(), ov) : full;
    // Generate the controls (hidden 128) and the demo; skip the multi-GB one.
    if (r.shape.hidden_size * r.shape.intermediate_size * r.shape.num_experts > (int64_t(1) << 22))
      continue;
    const auto out = temp_dir("recipe");
    synthesize(r, out, families_dir(), 2);
    const auto model = MoeModel::open(out, "", families_dir());
    EXPECT_EQ(model->config().num_experts, r.shape.num_experts) << entry.path();
    fs::remove_all(out);
  }
  EXPECT_GE(n, 26);
}

}  // namespace
}  // namespace moeprobe::synth::testing
