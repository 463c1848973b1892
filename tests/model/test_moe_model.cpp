// MoeModel on the HF fixtures (four families, per-expert and fused layouts) and on tiny synthetic
// checkpoints for the families without a fixture.
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "model/moe_model.h"
#include "model_test_util.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testutil::hf_fixture;
using testutil::ScratchDir;

struct Expected {
  std::string dir, family, layout;
  int layers, experts, top_k;
  int64_t hidden, inter;
  int shared;
  int64_t shared_inter;
  bool fused;
};

// Short names in ctest output instead of a byte dump of the struct.
void PrintTo(const Expected& x, std::ostream* os) {
  *os << x.dir;
}

class Fixtures : public ::testing::TestWithParam<Expected> {};

TEST_P(Fixtures, LoadAndMapToFamily) {
  const Expected& x = GetParam();
  const auto m = MoeModel::open(hf_fixture(x.dir));
  const ModelConfig& c = m->config();
  EXPECT_EQ(m->family().name, x.family);
  EXPECT_EQ(m->layout().name, x.layout);
  EXPECT_EQ(m->layout().fused(), x.fused);
  EXPECT_EQ(c.num_layers, x.layers);
  EXPECT_EQ(c.moe_layers, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.num_experts, x.experts);
  EXPECT_EQ(c.top_k, x.top_k);
  EXPECT_EQ(c.routing.top_k, x.top_k);
  EXPECT_EQ(c.hidden_size, x.hidden);
  EXPECT_EQ(c.expert_intermediate_size, x.inter);
  EXPECT_EQ(c.num_shared_experts, x.shared);
  EXPECT_EQ(c.shared_intermediate_size, x.shared_inter);
  EXPECT_EQ(m->checkpoint().mapped_shards(), 0u) << "open must read headers only";
  for (int l : c.moe_layers) {
    const MoeLayer layer = m->layer(l);
    EXPECT_EQ(layer.layer, l);
    EXPECT_EQ(layer.num_experts(), x.experts);
    EXPECT_EQ(layer.router.shape, (std::vector<int64_t>{x.experts, x.hidden}));
    for (const auto& e : layer.experts) {
      EXPECT_EQ(e.act.shape, (std::vector<int64_t>{x.inter, x.hidden}));
      EXPECT_EQ(e.up.shape, (std::vector<int64_t>{x.inter, x.hidden}));
      EXPECT_EQ(e.down.shape, (std::vector<int64_t>{x.hidden, x.inter}));
    }
    EXPECT_EQ(static_cast<int>(layer.shared.size()), x.shared > 0 ? 1 : 0);
  }
  EXPECT_FALSE(m->has_dense_ffn(0));
}

INSTANTIATE_TEST_SUITE_P(
    Hf, Fixtures,
    ::testing::Values(
        Expected{"mixtral_classic", "mixtral", "classic", 2, 4, 2, 32, 64, 0, 0, false},
        Expected{"mixtral_fused", "mixtral", "fused", 2, 4, 2, 32, 64, 0, 0, true},
        Expected{"qwen2_moe_tiny", "qwen2_moe", "fused", 2, 4, 2, 32, 16, 1, 24, true},
        Expected{"deepseek_v2_tiny", "deepseek_v2", "fused", 2, 4, 2, 16, 16, 1, 16, true}),
    [](const auto& info) { return info.param.dir; });

void expect_same_bytes(const TensorView& a, const TensorView& b) {
  ASSERT_EQ(a.shape, b.shape) << a.name << " vs " << b.name;
  ASSERT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0) << a.name << " vs " << b.name;
  std::vector<float> fa(a.numel()), fb(b.numel());
  a.read_float(0, a.numel(), fa.data());
  b.read_float(0, b.numel(), fb.data());
  EXPECT_EQ(fa, fb);
}

TEST(MoeModel, MixtralClassicAndFusedAreBitIdentical) {
  const auto classic = MoeModel::open(hf_fixture("mixtral_classic"));
  const auto fused = MoeModel::open(hf_fixture("mixtral_fused"));
  for (int l : classic->config().moe_layers) {
    const MoeLayer a = classic->layer(l), b = fused->layer(l);
    expect_same_bytes(a.router, b.router);
    ASSERT_EQ(a.num_experts(), b.num_experts());
    for (int e = 0; e < a.num_experts(); ++e) {
      expect_same_bytes(a.experts[e].act, b.experts[e].act);
      expect_same_bytes(a.experts[e].up, b.experts[e].up);
      expect_same_bytes(a.experts[e].down, b.experts[e].down);
    }
  }
  // The fixtures hold random weights: act and up must differ, or the comparison above proves
  // nothing about which half of gate_up is which.
  const MoeLayer b = fused->layer(0);
  EXPECT_NE(std::memcmp(b.experts[0].act.data, b.experts[0].up.data, b.experts[0].act.nbytes()), 0);
}

TEST(MoeModel, FusedExpertsAreSubViewsNotCopies) {
  const auto m = MoeModel::open(hf_fixture("mixtral_fused"));
  const MoeLayer layer = m->layer(1);
  const TensorView gate_up = m->checkpoint().tensor("model.layers.1.mlp.experts.gate_up_proj");
  const TensorView down = m->checkpoint().tensor("model.layers.1.mlp.experts.down_proj");
  const int64_t I = 64, H = 32;
  for (int e = 0; e < 4; ++e) {
    EXPECT_EQ(layer.experts[e].act.data, gate_up.data + (e * 2 * I * H) * 4);
    EXPECT_EQ(layer.experts[e].up.data, gate_up.data + (e * 2 * I * H + I * H) * 4);
    EXPECT_EQ(layer.experts[e].down.data, down.data + (e * H * I) * 4);
  }
}

TEST(MoeModel, DeepseekV2SharedExperts) {
  const auto m = MoeModel::open(hf_fixture("deepseek_v2_tiny"));
  const MoeLayer layer = m->layer(0);
  ASSERT_EQ(layer.shared.size(), 1u);
  EXPECT_EQ(layer.shared[0].act.name, "model.layers.0.mlp.shared_experts.gate_proj.weight");
  EXPECT_EQ(layer.shared[0].up.name, "model.layers.0.mlp.shared_experts.up_proj.weight");
  EXPECT_EQ(layer.shared[0].down.shape, (std::vector<int64_t>{16, 16}));
  EXPECT_FALSE(layer.shared_gate.has_value());
  // config: norm_topk_prob true, no topk_method (greedy), routed_scaling_factor 1.
  EXPECT_EQ(layer.routing.scoring, Scoring::Softmax);
  EXPECT_TRUE(layer.routing.softmax_before_topk);
  EXPECT_TRUE(layer.routing.renormalize);
  EXPECT_EQ(layer.routing.n_group, 1);
  EXPECT_DOUBLE_EQ(layer.routing.routed_scaling_factor, 1.0);
}

TEST(MoeModel, Qwen2SharedExpertGate) {
  const auto m = MoeModel::open(hf_fixture("qwen2_moe_tiny"));
  const MoeLayer layer = m->layer(1);
  ASSERT_EQ(layer.shared.size(), 1u);
  EXPECT_EQ(layer.shared[0].act.shape, (std::vector<int64_t>{24, 32}));
  EXPECT_EQ(layer.shared[0].down.shape, (std::vector<int64_t>{32, 24}));
  ASSERT_TRUE(layer.shared_gate.has_value());
  EXPECT_EQ(layer.shared_gate->name, "model.layers.1.mlp.shared_expert_gate.weight");
  EXPECT_EQ(layer.shared_gate->shape, (std::vector<int64_t>{1, 32}));
  EXPECT_FALSE(layer.routing.renormalize);  // norm_topk_prob: false
  EXPECT_EQ(layer.activation, Activation::SiLU);
}

TEST(MoeModel, MixtralRoutingIsTopkThenSoftmax) {
  const auto m = MoeModel::open(hf_fixture("mixtral_classic"));
  EXPECT_FALSE(m->config().routing.softmax_before_topk);
  EXPECT_TRUE(m->config().routing.renormalize);
  EXPECT_EQ(m->config().routing.scoring, Scoring::Softmax);
}

TEST(MoeModel, ForcedFamilyAndNonMoeLayer) {
  const auto m = MoeModel::open(hf_fixture("mixtral_classic"), "mixtral");
  EXPECT_EQ(m->family().name, "mixtral");
  EXPECT_THROW(m->layer(2), InputError);
  EXPECT_THROW(MoeModel::open(hf_fixture("mixtral_classic"), "nope"), InputError);
}

class Synthetic : public ::testing::Test {
 protected:
  std::vector<Family> families = load_families(default_families_dir());
  ScratchDir scratch{"moe-model"};
};

TEST_F(Synthetic, DeepseekV1FirstDenseAndLayerFreq) {
  const Family& fam = testutil::family_named(families, "deepseek");
  testutil::TinySpec s;
  s.num_layers = 5;
  s.moe_layers = {2, 4};  // first_k_dense_replace 1, moe_layer_freq 2
  s.shared_blocks = 1;
  s.shared_inter = 2 * s.expert_inter;  // two shared experts in one block
  const nlohmann::json cfg = {
      {"model_type", "deepseek"}, {"num_hidden_layers", 5},     {"hidden_size", 8},
      {"intermediate_size", 12},  {"moe_intermediate_size", 4}, {"n_routed_experts", 4},
      {"n_shared_experts", 2},    {"num_experts_per_tok", 2},   {"first_k_dense_replace", 1},
      {"moe_layer_freq", 2},      {"norm_topk_prob", false},    {"scoring_func", "softmax"}};
  testutil::write_tiny_checkpoint(scratch.path() / "m", fam, s, cfg);
  const auto m = MoeModel::open(scratch.path() / "m");
  EXPECT_EQ(m->config().moe_layers, (std::vector<int>{2, 4}));
  EXPECT_EQ(m->layout().name, "per_expert");
  EXPECT_EQ(m->config().num_shared_experts, 2);
  EXPECT_EQ(m->config().shared_intermediate_size, 8);
  const MoeLayer layer = m->layer(4);
  ASSERT_EQ(layer.shared.size(), 1u);
  EXPECT_EQ(layer.shared[0].act.shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(layer.experts[3].down.name, "model.layers.4.mlp.experts.3.down_proj.weight");
  EXPECT_FALSE(layer.routing.renormalize);
  EXPECT_TRUE(m->has_dense_ffn(0));
  EXPECT_FALSE(m->has_dense_ffn(2));
  const ExpertWeights d = m->dense_ffn(0);
  EXPECT_EQ(d.act.shape, (std::vector<int64_t>{12, 8}));
  EXPECT_EQ(d.down.shape, (std::vector<int64_t>{8, 12}));
  EXPECT_THROW(m->dense_ffn(2), InputError);
}

TEST_F(Synthetic, Qwen2SparseStepAndMlpOnlyLayersPerExpertLayout) {
  const Family& fam = testutil::family_named(families, "qwen2_moe");
  testutil::TinySpec s;
  s.num_layers = 6;
  s.moe_layers = {3, 5};  // decoder_sparse_step 2 -> 1, 3, 5; mlp_only_layers [1]
  s.shared_blocks = 1;
  const nlohmann::json cfg = {{"model_type", "qwen2_moe"},  {"num_hidden_layers", 6},
                              {"hidden_size", 8},           {"intermediate_size", 12},
                              {"moe_intermediate_size", 4}, {"shared_expert_intermediate_size", 6},
                              {"num_experts", 4},           {"num_experts_per_tok", 2},
                              {"decoder_sparse_step", 2},   {"mlp_only_layers", {1}},
                              {"norm_topk_prob", true}};
  testutil::write_tiny_checkpoint(scratch.path() / "m", fam, s, cfg);
  const auto m = MoeModel::open(scratch.path() / "m");
  EXPECT_EQ(m->config().moe_layers, (std::vector<int>{3, 5}));
  EXPECT_EQ(m->layout().name, "per_expert");
  EXPECT_TRUE(m->config().routing.renormalize);
  const MoeLayer layer = m->layer(3);
  EXPECT_EQ(layer.experts[1].up.name, "model.layers.3.mlp.experts.1.up_proj.weight");
  ASSERT_TRUE(layer.shared_gate.has_value());
}

TEST_F(Synthetic, DeepseekV3RoutingFromConfig) {
  const Family& fam = testutil::family_named(families, "deepseek_v3");
  testutil::TinySpec s;
  s.experts = 8;
  s.score_correction_bias = true;
  s.shared_blocks = 1;
  s.shared_inter = 4;
  const nlohmann::json cfg = {{"model_type", "deepseek_v3"},
                              {"num_hidden_layers", 2},
                              {"hidden_size", 8},
                              {"intermediate_size", 12},
                              {"moe_intermediate_size", 4},
                              {"n_routed_experts", 8},
                              {"n_shared_experts", 1},
                              {"num_experts_per_tok", 2},
                              {"n_group", 4},
                              {"topk_group", 2},
                              {"routed_scaling_factor", 2.5},
                              {"scoring_func", "sigmoid"},
                              {"topk_method", "noaux_tc"},
                              {"norm_topk_prob", true}};
  testutil::write_tiny_checkpoint(scratch.path() / "m", fam, s, cfg);
  const auto m = MoeModel::open(scratch.path() / "m");
  const RoutingConvention& r = m->config().routing;
  EXPECT_EQ(r.scoring, Scoring::Sigmoid);
  EXPECT_TRUE(r.selection_bias);
  EXPECT_EQ(r.n_group, 4);
  EXPECT_EQ(r.topk_group, 2);
  EXPECT_DOUBLE_EQ(r.routed_scaling_factor, 2.5);
  EXPECT_TRUE(r.renormalize);
  const MoeLayer layer = m->layer(1);
  ASSERT_TRUE(layer.score_correction_bias.has_value());
  EXPECT_EQ(layer.score_correction_bias->shape, (std::vector<int64_t>{8}));

  // Without the selection bias tensor the V3 routing cannot be computed: an error at open.
  ScratchDir other("v3-nobias");
  s.score_correction_bias = false;
  testutil::write_tiny_checkpoint(other.path() / "m", fam, s, cfg);
  try {
    MoeModel::open(other.path() / "m");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(e.field().find("e_score_correction_bias"), std::string::npos) << e.what();
  }
}

TEST_F(Synthetic, Grok1AndOlmoePerExpertNames) {
  {
    const Family& fam = testutil::family_named(families, "grok1");
    testutil::TinySpec s;
    s.experts = 8;
    const nlohmann::json cfg = {{"model_type", "grok-1"}, {"num_hidden_layers", 2},
                                {"hidden_size", 8},       {"intermediate_size", 4},
                                {"num_experts", 8},       {"num_experts_per_tok", 2}};
    testutil::write_tiny_checkpoint(scratch.path() / "grok", fam, s, cfg);
    const auto m = MoeModel::open(scratch.path() / "grok");
    EXPECT_EQ(m->family().name, "grok1");
    const MoeLayer layer = m->layer(0);
    EXPECT_EQ(layer.activation, Activation::GELU);
    EXPECT_EQ(layer.experts[7].act.name, "model.layers.0.moe_block.experts.7.linear.weight");
    EXPECT_EQ(layer.experts[7].up.name, "model.layers.0.moe_block.experts.7.linear_v.weight");
    EXPECT_EQ(layer.experts[7].down.name, "model.layers.0.moe_block.experts.7.linear_1.weight");
    EXPECT_FALSE(layer.routing.renormalize);
  }
  {
    const Family& fam = testutil::family_named(families, "olmoe");
    testutil::TinySpec s;
    s.max_shard_bytes = 1500;  // several shards: views must come from the right one
    const nlohmann::json cfg = {{"model_type", "olmoe"}, {"num_hidden_layers", 2},
                                {"hidden_size", 8},      {"intermediate_size", 4},
                                {"num_experts", 4},      {"num_experts_per_tok", 2}};
    testutil::write_tiny_checkpoint(scratch.path() / "olmoe", fam, s, cfg);
    const auto m = MoeModel::open(scratch.path() / "olmoe");
    EXPECT_GT(m->checkpoint().shards().size(), 2u);
    const MoeLayer layer = m->layer(1);
    EXPECT_FALSE(layer.routing.renormalize);
    // The generator writes 0.25, 0.5, ... in declaration order: consecutive within a tensor.
    std::vector<float> v(2);
    layer.experts[2].down.read_float(0, 2, v.data());
    EXPECT_FLOAT_EQ(v[1] - v[0], 0.25f);
  }
}

TEST_F(Synthetic, MistralIsDense) {
  const Family& fam = testutil::family_named(families, "mistral");
  testutil::TinySpec s;
  s.moe_layers = {};
  const nlohmann::json cfg = {{"model_type", "mistral"},
                              {"num_hidden_layers", 2},
                              {"hidden_size", 8},
                              {"intermediate_size", 12},
                              {"architectures", {"MistralForCausalLM"}}};
  testutil::write_tiny_checkpoint(scratch.path() / "m", fam, s, cfg);
  const auto m = MoeModel::open(scratch.path() / "m");
  EXPECT_EQ(m->family().name, "mistral");
  EXPECT_EQ(m->config().num_experts, 0);
  EXPECT_TRUE(m->config().moe_layers.empty());
  EXPECT_TRUE(m->has_dense_ffn(1));
  EXPECT_EQ(m->dense_ffn(1).up.shape, (std::vector<int64_t>{12, 8}));
  EXPECT_THROW(m->layer(0), InputError);
}

// Adding a family is one file: a new family YAML in a families directory of its own, with its own
// MoE-layer rule and topk_method mapping, opens a checkpoint written in its names.
TEST(NewFamily, OneFileInAFamiliesDirectoryLoadsACheckpoint) {
  ScratchDir scratch("new-family");
  const fs::path fams = scratch.path() / "families";
  fs::create_directories(fams);
  std::ofstream(fams / "phimoe.yaml") << R"(name: phimoe
description: a family the code has never heard of
detect:
  model_types: [phimoe]
  architectures: [PhiMoEForCausalLM]
config_keys:
  num_layers: num_hidden_layers
  hidden_size: hidden_size
  expert_intermediate_size: intermediate_size
  num_experts: num_local_experts
  top_k: num_experts_per_tok
  decoder_sparse_step: moe_every
  topk_method: router_mode
config_defaults:
  num_shared_experts: 0
  topk_method: sparse
routing:
  scoring: softmax
  softmax_before_topk: false
  renormalize: True
moe_layers:
  period: decoder_sparse_step
  period_offset: 1
topk_method:
  sparse: {}
  capped: {routed_scaling_factor: 0.5}
layouts:
  - name: phi
    router: model.layers.{L}.moe.router.weight
    expert_act: model.layers.{L}.moe.experts.{E}.w_gate.weight
    expert_up: model.layers.{L}.moe.experts.{E}.w_in.weight
    expert_down: model.layers.{L}.moe.experts.{E}.w_out.weight
dense:
  embed: model.embed.weight
  final_norm: model.final_norm.weight
  input_norm: model.layers.{L}.norm.weight
  dense_act: model.layers.{L}.ffn.w_gate.weight
  dense_up: model.layers.{L}.ffn.w_in.weight
  dense_down: model.layers.{L}.ffn.w_out.weight
)";
  const std::vector<Family> families = load_families(fams);
  ASSERT_EQ(families.size(), 1u);
  testutil::TinySpec s;
  s.num_layers = 4;
  s.moe_layers = {1, 3};  // (L + 1) % 2 == 0
  const nlohmann::json cfg = {{"model_type", "phimoe"}, {"num_hidden_layers", 4},
                              {"hidden_size", 8},       {"intermediate_size", 4},
                              {"num_local_experts", 4}, {"num_experts_per_tok", 2},
                              {"moe_every", 2},         {"router_mode", "capped"}};
  testutil::write_tiny_checkpoint(scratch.path() / "m", families[0], s, cfg);
  const auto m = MoeModel::open(scratch.path() / "m", "", fams);
  EXPECT_EQ(m->family().name, "phimoe");
  EXPECT_EQ(m->layout().name, "phi");
  EXPECT_EQ(m->config().moe_layers, (std::vector<int>{1, 3}));
  EXPECT_FALSE(m->config().routing.softmax_before_topk);
  EXPECT_TRUE(m->config().routing.renormalize);
  EXPECT_DOUBLE_EQ(m->config().routing.routed_scaling_factor, 0.5);
  const MoeLayer layer = m->layer(3);
  EXPECT_EQ(layer.experts[2].down.name, "model.layers.3.moe.experts.2.w_out.weight");
  EXPECT_TRUE(m->has_dense_ffn(0));

  // A topk_method value the family file does not map is bad input naming config key and values.
  testutil::edit_json(scratch.path() / "m" / "config.json",
                      [](nlohmann::json& j) { j["router_mode"] = "dense"; });
  try {
    MoeModel::open(scratch.path() / "m", "", fams);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "router_mode");
    EXPECT_NE(e.problem().find("capped, sparse"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moeprobe
