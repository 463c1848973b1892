// Family files: every bundled YAML loads, detection works, and the strict schema rejects typos.
#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "model/family.h"
#include "util/error.h"

namespace moeprobe {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("moeprobe_family_" + name + "_" +
              std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

const Family& find(const std::vector<Family>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return f;
  throw std::runtime_error("no family " + name);
}

TEST(Family, EveryBundledFamilyLoads) {
  // Whatever files the directory holds (a new family is one more file, no test edit), at least
  // the bundled nine, each detected by its own model_type.
  const auto families = load_families(default_families_dir());
  std::vector<std::string> names, files;
  for (const auto& f : families) names.push_back(f.name);
  for (const auto& e : std::filesystem::directory_iterator(default_families_dir()))
    if (e.path().extension() == ".yaml") files.push_back(e.path().stem().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(names, files);
  for (const char* bundled : {"deepseek", "deepseek_v2", "deepseek_v3", "grok1", "mistral",
                              "mixtral", "olmoe", "qwen2_moe", "qwen3_moe"})
    EXPECT_NE(std::find(names.begin(), names.end(), bundled), names.end()) << bundled;
  for (const auto& f : families) {
    ASSERT_FALSE(f.model_types.empty()) << f.name;
    EXPECT_EQ(detect_family(families, {{"model_type", f.model_types[0]}}, "config.json").name,
              f.name);
  }
  for (const auto& f : families) {
    EXPECT_FALSE(f.dense.embed.empty()) << f.name;
    EXPECT_FALSE(f.dense.lm_head.empty()) << f.name;
    EXPECT_FALSE(f.dense.final_norm.empty()) << f.name;
    EXPECT_FALSE(f.dense.input_norm.empty()) << f.name;
    EXPECT_FALSE(f.dense.q_proj.empty()) << f.name;
    EXPECT_FALSE(f.dense.o_proj.empty()) << f.name;
    if (f.layouts.empty())
      EXPECT_FALSE(f.dense.dense_act.empty()) << f.name;  // dense, like mistral
  }
}

TEST(Family, ConventionsOfKnownFamilies) {
  const auto fs = load_families(default_families_dir());
  const Family& mixtral = find(fs, "mixtral");
  EXPECT_FALSE(mixtral.routing.softmax_before_topk);
  EXPECT_TRUE(mixtral.routing.renormalize);
  ASSERT_EQ(mixtral.layouts.size(), 3u);
  EXPECT_EQ(mixtral.layouts[0].expert_act,
            "model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight");
  EXPECT_EQ(mixtral.layouts[0].expert_up,
            "model.layers.{L}.block_sparse_moe.experts.{E}.w3.weight");
  EXPECT_TRUE(mixtral.layouts[2].fused());
  const Family& v3 = find(fs, "deepseek_v3");
  EXPECT_EQ(v3.routing.scoring, Scoring::Sigmoid);
  EXPECT_TRUE(v3.routing.selection_bias);
  EXPECT_FALSE(v3.layouts[0].score_correction_bias.empty());
  const Family& grok = find(fs, "grok1");
  EXPECT_EQ(grok.activation, Activation::GELU);
  EXPECT_EQ(grok.layouts[0].expert_down, "model.layers.{L}.moe_block.experts.{E}.linear_1.weight");
  EXPECT_STREQ(activation_name(grok.activation), "gelu");
  const Family& qwen = find(fs, "qwen2_moe");
  EXPECT_FALSE(qwen.layouts[0].shared_gate.empty());
}

TEST(Family, DetectByModelTypeThenArchitecture) {
  const auto fs = load_families(default_families_dir());
  EXPECT_EQ(detect_family(fs, {{"model_type", "qwen2_moe"}}, "config.json").name, "qwen2_moe");
  EXPECT_EQ(detect_family(fs, {{"model_type", "x"}, {"architectures", {"OlmoeForCausalLM"}}},
                          "config.json")
                .name,
            "olmoe");
  EXPECT_EQ(detect_family(fs, {{"model_type", "mixtral"}}, "config.json", "deepseek").name,
            "deepseek");
  try {
    detect_family(fs, {{"model_type", "not_a_family"}}, "/m/config.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "/m/config.json");
    EXPECT_EQ(e.field(), "model_type");
    EXPECT_NE(e.problem().find("mixtral"), std::string::npos);
  }
  EXPECT_THROW(detect_family(fs, {{"model_type", "mixtral"}}, "c", "nope"), InputError);
}

TEST(Family, ExpandPattern) {
  EXPECT_EQ(expand_pattern("model.layers.{L}.mlp.experts.{E}.w1.weight", 12, 7),
            "model.layers.12.mlp.experts.7.w1.weight");
  EXPECT_EQ(expand_pattern("model.layers.{L}.mlp.gate.weight", 0),
            "model.layers.0.mlp.gate.weight");
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

const char* kMinimal = R"(detect:
  model_types: [toy]
config_keys:
  num_layers: num_hidden_layers
  hidden_size: hidden_size
  expert_intermediate_size: intermediate_size
  num_experts: num_local_experts
  top_k: num_experts_per_tok
layouts:
  - name: a
    router: model.layers.{L}.gate.weight
    fused_gate_up: model.layers.{L}.gate_up
    fused_down: model.layers.{L}.down
)";

TEST(Family, MinimalFileLoads) {
  const auto dir = temp_dir("minimal");
  write(dir / "toy.yaml", kMinimal);
  const Family f = load_family(dir / "toy.yaml");
  EXPECT_EQ(f.name, "toy");
  EXPECT_TRUE(f.routing.softmax_before_topk);
  std::filesystem::remove_all(dir);
}

void expect_error(const std::string& text, const std::string& field, const std::string& what) {
  const auto dir = temp_dir("bad");
  write(dir / "toy.yaml", text);
  try {
    load_family(dir / "toy.yaml");
    ADD_FAILURE() << "expected InputError for field " << field;
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), (dir / "toy.yaml").string());
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(e.problem().find(what), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Family, UnknownKeysAreErrors) {
  expect_error(std::string(kMinimal) + "routng:\n  scoring: softmax\n", "routng", "unknown key");
  expect_error(std::string(kMinimal) + "routing:\n  scorng: softmax\n", "routing.scorng",
               "unknown key");
  expect_error(std::string(kMinimal) + "    routerr: x\n", "layouts[0].routerr", "unknown key");
  expect_error(std::string(kMinimal) + "dense:\n  embedding: x\n", "dense.embedding",
               "unknown key");
  std::string bad_canon = kMinimal;
  bad_canon.replace(bad_canon.find("  top_k:"), 8, "  topk:");
  expect_error(bad_canon, "config_keys.topk", "unknown key");
}

TEST(Family, MoeLayerRuleAndTopkMethodsAreData) {
  const auto fs = load_families(default_families_dir());
  const Family& v3 = find(fs, "deepseek_v3");
  EXPECT_EQ(v3.moe_layers.first, "first_k_dense_replace");
  EXPECT_EQ(v3.moe_layers.period, "moe_layer_freq");
  ASSERT_TRUE(v3.topk_methods.count("noaux_tc"));
  EXPECT_EQ(v3.topk_methods.at("noaux_tc").selection_bias, true);
  EXPECT_EQ(v3.topk_methods.at("greedy").n_group, 1);
  const Family& qwen = find(fs, "qwen2_moe");
  EXPECT_EQ(qwen.moe_layers.period, "decoder_sparse_step");
  EXPECT_EQ(qwen.moe_layers.period_offset, 1);
  EXPECT_EQ(qwen.moe_layers.except, "mlp_only_layers");
  EXPECT_TRUE(find(fs, "mixtral").moe_layers.period.empty());  // every layer is MoE
}

TEST(Family, YamlCoreSchemaScalars) {
  // One rule everywhere (YAML 1.2 core schema): True is a boolean, yes a string, and an integer
  // out of range is an error naming the key and line.
  const auto dir = temp_dir("core");
  write(dir / "toy.yaml",
        std::string(kMinimal) + "config_defaults:\n  norm_topk_prob: True\n  scoring_func: yes\n");
  const Family f = load_family(dir / "toy.yaml");
  EXPECT_EQ(f.config_defaults.at("norm_topk_prob"), true);
  EXPECT_EQ(f.config_defaults.at("scoring_func"), "yes");
  std::filesystem::remove_all(dir);
  expect_error(std::string(kMinimal) + "routing:\n  n_group: 4294967296\n", "routing.n_group",
               "out of range");
  expect_error(std::string(kMinimal) + "routing:\n  renormalize: yes\n", "routing.renormalize",
               "true or false");
  expect_error(std::string(kMinimal) + "moe_layers:\n  period: moe_layer_freq\n",
               "moe_layers.period", "neither config_keys nor config_defaults");
  expect_error(std::string(kMinimal) + "moe_layers:\n  perod: top_k\n", "moe_layers.perod",
               "unknown key");
}

TEST(Family, InvalidValuesAreErrors) {
  expect_error(std::string(kMinimal) + "activation: relu\n", "activation", "expected silu");
  expect_error(std::string(kMinimal) + "routing:\n  scoring: tanh\n", "routing.scoring",
               "expected softmax or sigmoid");
  expect_error(std::string(kMinimal) + "routing:\n  renormalize: maybe\n", "routing.renormalize",
               "true or false");
  expect_error(std::string(kMinimal) + "name: other\n", "name", "differs");
  std::string no_e = kMinimal;
  no_e.replace(
      no_e.find(
          "    fused_gate_up: model.layers.{L}.gate_up\n    fused_down: model.layers.{L}.down\n"),
      std::string(
          "    fused_gate_up: model.layers.{L}.gate_up\n    fused_down: model.layers.{L}.down\n")
          .size(),
      "    expert_act: a.{L}\n    expert_up: b.{E}\n    expert_down: c.{E}\n");
  expect_error(no_e, "layouts[0].expert_act", "must contain {E}");
  expect_error("detect: [\n", "line 2", "malformed YAML");
}

}  // namespace
}  // namespace moeprobe
