// Determinism, the files a synthetic model directory holds, every family, and recipe validation
// through the command line (exit code 2 naming the key).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "synth_test_util.h"
#include "tests/cli/cli_test_util.h"
#include "util/error.h"

namespace moeprobe::synth::testing {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kSmall = R"(
family: mixtral
model: {num_layers: 2, hidden_size: 32, intermediate_size: 64, num_experts: 4, top_k: 2, num_attention_heads: 4}
plant:
  upcycling: {strength: 0.4, write_reference: true}
  neuron_order: {strength: 0.5}
  router_association: {strength: 0.5}
  norm_routing: {strength: 0.6}
  activation_ratio: {strength: 0.9}
)";

TEST(SynthFiles, SameSeedSameBytesDifferentSeedDifferent) {
  for (DType dt : {DType::BF16, DType::F32}) {
    const auto a = temp_dir("det_a"), b = temp_dir("det_b"), c = temp_dir("det_c");
    const auto ra = generate(kSmall, a, 11, dt);
    const auto rb = generate(kSmall, b, 11, dt);
    generate(kSmall, c, 12, dt);
    ASSERT_EQ(ra.files.size(), rb.files.size());
    ASSERT_GE(ra.files.size(), 8u);  // config, weights, tokenizer x2, synth.json, reference/...
    for (std::size_t i = 0; i < ra.files.size(); ++i) {
      const auto rel = fs::relative(ra.files[i], a);
      EXPECT_EQ(rel, fs::relative(rb.files[i], b));
      EXPECT_EQ(slurp(ra.files[i]), slurp(b / rel)) << rel;
    }
    EXPECT_NE(slurp(a / "model.safetensors"), slurp(c / "model.safetensors"));
    EXPECT_NE(slurp(a / "reference" / "model.safetensors"),
              slurp(c / "reference" / "model.safetensors"));
    // Thread count does not change the bytes.
    const auto d = temp_dir("det_d");
    RecipeOverrides ov;
    ov.seed = 11;
    ov.dtype = dt;
    synthesize(parse_recipe(kSmall, "t.yaml", ov), d, families_dir(), 1);
    EXPECT_EQ(slurp(a / "model.safetensors"), slurp(d / "model.safetensors"));
    for (const auto& p : {a, b, c, d}) fs::remove_all(p);
  }
}

TEST(SynthFiles, ShardsAboveShardBytesWithIndex) {
  const auto dir = temp_dir("shard");
  std::string y = std::string(kSmall) + "shard_bytes: 1048576\n";
  // 2 layers x 4 experts of 32x64 is small; grow the vocabulary so the model passes 1 MiB.
  y.replace(y.find("num_layers: 2"), 13, "num_layers: 2, vocab_size: 8192");
  generate(y, dir, 1, DType::F32);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  Checkpoint ck(dir);
  EXPECT_GE(ck.shards().size(), 2u);
  EXPECT_EQ(ck.tensor("model.embed_tokens.weight").shape, (std::vector<int64_t>{8192, 32}));
  fs::remove_all(dir);
}

TEST(SynthFiles, TokenizerIsByteLevel) {
  const auto dir = temp_dir("tok");
  generate(kSmall, dir, 1);
  const auto tok = nlohmann::json::parse(slurp(dir / "tokenizer.json"));
  EXPECT_EQ(tok["model"]["type"], "BPE");
  EXPECT_EQ(tok["model"]["vocab"].size(), 260u);
  EXPECT_EQ(tok["model"]["vocab"]["<s>"], 1);
  EXPECT_EQ(tok["model"]["vocab"]["A"], 4 + 'A');
  EXPECT_EQ(tok["model"]["vocab"]["\xC4\xA0"], 4 + ' ');  // GPT-2 byte map: space is U+0120
  EXPECT_EQ(tok["pre_tokenizer"]["type"], "ByteLevel");
  fs::remove_all(dir);
}

struct FamilyCase {
  const char* yaml;
  std::vector<std::string> names;  // tensors that must exist
  std::vector<std::vector<int64_t>> shapes;
};

TEST(SynthFiles, EveryFamilyWritesItsTensorNamesAndConfig) {
  const std::string shape =
      "model: {num_layers: 2, hidden_size: 32, intermediate_size: 48, num_experts: 4, top_k: 2, "
      "num_attention_heads: 4, num_key_value_heads: 2";
  const FamilyCase cases[] = {
      {"family: mixtral\nlayout: classic\n",
       {"model.layers.1.block_sparse_moe.gate.weight",
        "model.layers.1.block_sparse_moe.experts.3.w2.weight"},
       {{4, 32}, {32, 48}}},
      {"family: mixtral\nlayout: fused\n",
       {"model.layers.1.mlp.experts.gate_up_proj", "model.layers.1.mlp.experts.down_proj"},
       {{4, 96, 32}, {4, 32, 48}}},
      {"family: qwen2_moe\n",
       {"model.layers.0.mlp.shared_expert.gate_proj.weight",
        "model.layers.0.mlp.shared_expert_gate.weight", "model.layers.0.self_attn.q_proj.bias"},
       {{48, 32}, {1, 32}, {32}}},
      {"family: deepseek\n",
       {"model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.shared_experts.up_proj.weight",
        "model.layers.1.mlp.experts.0.down_proj.weight"},
       {{128, 32}, {96, 32}, {32, 48}}},
      {"family: olmoe\n",
       {"model.layers.0.mlp.experts.2.gate_proj.weight", "model.layers.0.self_attn.k_norm.weight"},
       {{48, 32}, {16}}},
      {"family: grok1\n",
       {"model.layers.1.moe_block.experts.0.linear_1.weight",
        "model.layers.1.post_moe_norm.weight"},
       {{32, 48}, {32}}},
  };
  for (const auto& c : cases) {
    std::string y = std::string(c.yaml) + shape;
    if (std::string(c.yaml).find("deepseek") != std::string::npos)
      y += ", num_shared_experts: 2, first_k_dense_replace: 1, dense_intermediate_size: 128";
    y += "}\n";
    const auto dir = temp_dir("fam");
    generate(y, dir, 3);
    Checkpoint ck(dir);
    for (std::size_t i = 0; i < c.names.size(); ++i) {
      ASSERT_TRUE(ck.has(c.names[i])) << c.yaml << c.names[i];
      EXPECT_EQ(ck.tensor(c.names[i]).shape, c.shapes[i]) << c.names[i];
    }
    EXPECT_TRUE(ck.has("model.embed_tokens.weight"));
    EXPECT_TRUE(ck.has("lm_head.weight"));
    EXPECT_TRUE(ck.has("model.norm.weight"));
    EXPECT_EQ(ck.config()["num_hidden_layers"], 2);
    fs::remove_all(dir);
  }
}

// ---- validation through the command line ------------------------------------------------

// `moeprobe synth` on a recipe written from recipe_text.
::moeprobe::testing::CliResult synth_cli(const std::string& recipe_text,
                                         const std::string& extra = "") {
  const auto dir = temp_dir("cli");
  fs::create_directories(dir);
  const auto recipe = dir / "bad.yaml";
  std::ofstream(recipe) << recipe_text;
  const auto r = ::moeprobe::testing::run_cli(
      "synth " + ::moeprobe::testing::shell_quote(recipe.string()) + " --out " +
      ::moeprobe::testing::shell_quote((dir / "out").string()) + " --quiet " + extra);
  fs::remove_all(dir);
  return r;
}

TEST(SynthCli, GeneratesAndRejectsBadRecipes) {
  const std::string ok =
      "family: mixtral\nmodel: {num_layers: 1, hidden_size: 16, intermediate_size: 16, "
      "num_experts: 2, top_k: 1, num_attention_heads: 2}\n";
  EXPECT_EQ(synth_cli(ok).code, 0);
  EXPECT_EQ(synth_cli(ok, "--dtype f32 --seed 3 --layers 2").code, 0);

  struct Bad {
    std::string text, must_contain;
  };
  const Bad bad[] = {
      {ok + "colour: blue\n", "colour"},
      {"family: mixtral\nmodel: {num_experts: 2, top_k: 3}\n", "model.top_k"},
      {"family: mixtral\nmodel: {hidden_size: 0}\n", "model.hidden_size"},
      {"family: mixtral\nmodel: {num_shared_experts: 1}\n", "model.num_shared_experts"},
      {"family: mixtral\nplant:\n  upcycling: {strength: 1.5}\n", "plant.upcycling.strength"},
      {"family: mixtral\nplant:\n  upcycling: {strength: 0.3, sharpness: 2}\n",
       "plant.upcycling.sharpness"},
      {"family: mixtral\nmodel: {num_layers: 3}\nplant:\n  upcycling: {profile: [0.1, 0.2]}\n",
       "plant.upcycling.profile"},
      {"family: nosuchfamily\n", "unknown family"},
      {"family: mixtral\nmodel: {first_k_dense_replace: 1}\n", "model.first_k_dense_replace"},
      {"family: mixtral\nexpect: {a1-x: MAYBE}\n", "expect.a1-x"},
      {"family: [mixtral\n", "malformed YAML"},
  };
  for (const auto& b : bad) {
    const auto r = synth_cli(b.text);
    EXPECT_EQ(r.code, 2) << b.text;
    EXPECT_NE(r.err.find(b.must_contain), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("bad.yaml"), std::string::npos) << r.err;
  }
  // Line numbers come from the YAML marks.
  EXPECT_NE(synth_cli(ok + "colour: blue\n").err.find("line 3"), std::string::npos);
  EXPECT_EQ(synth_cli(ok, "--dtype f64").code, 2);
}

}  // namespace
}  // namespace moeprobe::synth::testing
