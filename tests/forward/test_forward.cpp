// Forward-pass conformance: logits of every HF fixture model against transformers' float64
// reference, the MoE blocks through the LibTorch block, layer streaming, bad input and the CLI.
// Skips when moeprobe was built without LibTorch.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "../cli/cli_test_util.h"
#include "../model/model_test_util.h"
#include "forward/forward.h"
#include "moe_block_fixture.h"
#include "util/error.h"

namespace moeprobe {
namespace {

#define REQUIRE_TORCH() \
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch"

struct Reference {
  std::vector<int64_t> ids;
  std::vector<double> logits;
};

Reference reference_of(const std::filesystem::path& dir) {
  const nlohmann::json r = testutil::read_json(dir / "reference.json");
  return {r.at("input_ids").get<std::vector<int64_t>>(),
          r.at("hf_logits").get<std::vector<double>>()};
}

std::vector<double> as_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

class ForwardHfModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardHfModel, LogitsMatchTransformersFloat64) {
  REQUIRE_TORCH();
  const auto dir = testutil::hf_fixture(GetParam());
  const Reference ref = reference_of(dir);
  const auto out = run_forward(*MoeModel::open(dir), {ref.ids});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tokens, static_cast<int64_t>(ref.ids.size()));
  ASSERT_EQ(out[0].values.size(), ref.logits.size());
  const double err = testutil::relative_max_error(as_double(out[0].values), ref.logits);
  std::printf("%s: max-abs error / max |logit| = %.3g\n", GetParam().c_str(), err);
  EXPECT_LT(err, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardHfModel,
                         ::testing::Values("mixtral_classic", "mixtral_fused", "qwen2_moe_tiny",
                                           "deepseek_v2_tiny"));

// Families with no HF fixture: tiny models against the float64 Python reference written from
// the HF math (tests/data/forward/README.md).
class ForwardPythonReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardPythonReference, LogitsMatchFloat64Reference) {
  REQUIRE_TORCH();
  const auto dir = std::filesystem::path(MOEPROBE_TEST_DATA) / "forward" / GetParam();
  const Reference ref = reference_of(dir);
  const auto out = run_forward(*MoeModel::open(dir), {ref.ids});
  ASSERT_EQ(out[0].values.size(), ref.logits.size());
  const double err = testutil::relative_max_error(as_double(out[0].values), ref.logits);
  std::printf("%s: max-abs error / max |logit| = %.3g\n", GetParam().c_str(), err);
  EXPECT_LT(err, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Families, ForwardPythonReference,
                         ::testing::Values("qwen3_moe_synth", "olmoe_synth", "deepseek_synth",
                                           "deepseek_v3_tiny", "grok1_synth", "gpt_oss_synth",
                                           "glm4_moe_synth"));

// gpt-oss's dequantised twin (BF16-style layout: gate_up [E, H, 2I], down [E, I, H], read through
// transposed views) computes the same logits as the MXFP4 checkpoint's reference.
TEST(Forward, GptOssTwinMatchesTheMxfp4Reference) {
  REQUIRE_TORCH();
  const auto dir = std::filesystem::path(MOEPROBE_TEST_DATA) / "forward" / "gpt_oss_synth";
  const Reference ref = reference_of(dir);
  const auto twin = run_forward(*MoeModel::open(dir / "twin"), {ref.ids});
  const auto mx = run_forward(*MoeModel::open(dir), {ref.ids});
  const double err = testutil::relative_max_error(as_double(twin[0].values), ref.logits);
  std::printf("gpt_oss_synth/twin: max-abs error / max |logit| = %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  EXPECT_LT(testutil::relative_max_error(as_double(twin[0].values), as_double(mx[0].values)), 1e-6);
}

// FP8 block-scaled experts (Kimi-K2, the DeepSeek-V3 architecture) are dequantised inside the
// forward pass: the logits equal those of the checkpoint's dequantised F32 twin.
TEST(Forward, Fp8CheckpointMatchesItsDequantisedTwin) {
  REQUIRE_TORCH();
  const auto scratch = testing::temp_dir("forward_fp8");
  const auto recipe = scratch / "recipe.yaml";
  std::ofstream(recipe) << "family: kimi_k2\nlayout: classic\nseed: 3\nmodel: {num_layers: 2, "
                           "hidden_size: 64, intermediate_size: 32, num_experts: 24, top_k: 4, "
                           "num_shared_experts: 1}\nquantization: {scheme: fp8, block: [32, 32], "
                           "twin: twin}\n";
  const auto r = testing::run_cli(
      "synth \"" + recipe.string() + "\" --out \"" + (scratch / "m").string() + "\"", scratch);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<int64_t> ids = {1, 5, 9, 200, 17, 3};
  const auto q = MoeModel::open(scratch / "m");
  ASSERT_EQ(q->quantization().method, "fp8");
  const auto fp8 = run_forward(*q, {ids});
  const auto twin = run_forward(*MoeModel::open(scratch / "m" / "twin"), {ids});
  const double err =
      testutil::relative_max_error(as_double(fp8[0].values), as_double(twin[0].values));
  std::printf("fp8 vs twin: max-abs error / max |logit| = %.3g\n", err);
  EXPECT_LT(err, 1e-5);
}

// Each gpt-oss ingredient changes the logits: with every layer on full
// attention, with the swiglu clamp at its real 7.0 (the fixture clamps at 0.8), or with YaRN
// truncated, the forward pass no longer matches the reference.
TEST(Forward, GptOssIngredientsEachMatter) {
  REQUIRE_TORCH();
  const auto src = std::filesystem::path(MOEPROBE_TEST_DATA) / "forward" / "gpt_oss_synth";
  const Reference ref = reference_of(src);
  const std::vector<std::function<void(nlohmann::json&)>> edits = {
      [](nlohmann::json& j) {
        j["layer_types"] = {"full_attention", "full_attention"};
      },
      [](nlohmann::json& j) { j.erase("swiglu_limit"); },
      [](nlohmann::json& j) { j["rope_scaling"]["truncate"] = true; },
      [](nlohmann::json& j) {
        j["rope_scaling"] = {{"rope_type", "default"}};
      },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    testutil::ScratchDir tmp("fwd");
    const auto dir = tmp.path() / "m";
    std::filesystem::create_directories(dir);
    for (const char* f : {"config.json", "model.safetensors"})
      std::filesystem::copy_file(src / f, dir / f);
    testutil::edit_json(dir / "config.json", edits[i]);
    const auto out = run_forward(*MoeModel::open(dir), {ref.ids});
    // Above the conformance tolerance, so the reference test would catch each one missing.
    EXPECT_GT(testutil::relative_max_error(as_double(out[0].values), ref.logits), 1e-4)
        << "edit " << i;
  }
}

class ForwardHfBlock : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardHfBlock, LibTorchBlockMatchesTransformers) {
  REQUIRE_TORCH();
  const testutil::BlockFixture b = GetParam() == "v3_route_ref"
                                       ? testutil::load_v3_route_ref()
                                       : testutil::load_hf_block(GetParam());
  const std::vector<float> x(b.input.begin(), b.input.end());
  const std::vector<float> y = run_moe_block(b.layer, b.rule, x.data(), b.tokens);
  const double err = testutil::relative_max_error(as_double(y), b.expected);
  std::printf("%s: block max-abs error / max |out| = %.3g\n", GetParam().c_str(), err);
  EXPECT_LT(err, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Blocks, ForwardHfBlock,
                         ::testing::Values("mixtral_layer0", "qwen2_moe_layer0",
                                           "qwen15_moe_layer0", "qwen3_moe_layer0",
                                           "v3_route_ref"));

TEST(Forward, SequencesRunOnTheirOwnAndAdvanceLayerByLayer) {
  REQUIRE_TORCH();
  const auto model = MoeModel::open(testutil::hf_fixture("qwen2_moe_tiny"));
  const std::vector<int64_t> a = {3, 7, 11, 2}, b = {5, 1};
  std::vector<std::pair<int, std::size_t>> calls;
  ForwardOptions opts;
  opts.on_moe_input = [&](int layer, std::size_t seq, const float*, int64_t tokens,
                          int64_t hidden) {
    calls.emplace_back(layer, seq);
    EXPECT_EQ(tokens, seq == 0 ? 4 : 2);
    EXPECT_EQ(hidden, 32);
  };
  const auto both = run_forward(*model, {a, b}, opts);
  const std::vector<std::pair<int, std::size_t>> order = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  EXPECT_EQ(calls, order);
  const auto alone = run_forward(*model, {b});
  ASSERT_EQ(both.size(), 2u);
  ASSERT_EQ(both[1].values.size(), alone[0].values.size());
  for (std::size_t i = 0; i < alone[0].values.size(); ++i)
    EXPECT_NEAR(both[1].values[i], alone[0].values[i], 1e-6);
  ForwardOptions no_logits;
  EXPECT_TRUE(run_forward(*model, {a}, no_logits = ForwardOptions{false, {}}).empty());
}

TEST(Forward, RejectsBadTokens) {
  REQUIRE_TORCH();
  const auto model = MoeModel::open(testutil::hf_fixture("mixtral_fused"));
  EXPECT_THROW(run_forward(*model, {{1, 48}}), InputError);
  EXPECT_THROW(run_forward(*model, {{-1}}), InputError);
  EXPECT_THROW(run_forward(*model, {{}}), InputError);
  EXPECT_THROW(run_forward(*model, {std::vector<int64_t>(65, 1)}), InputError);  // > 64 positions
}

TEST(Forward, RopeParametersEqualRopeTheta) {
  REQUIRE_TORCH();
  testutil::ScratchDir tmp("fwd");
  const auto dir = testutil::copy_fixture("mixtral_fused", tmp.path());
  testutil::edit_json(dir / "config.json", [](nlohmann::json& j) {
    j.erase("rope_theta");
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  });
  const Reference ref = reference_of(testutil::hf_fixture("mixtral_fused"));
  const auto out = run_forward(*MoeModel::open(dir), {ref.ids});
  EXPECT_LT(testutil::relative_max_error(as_double(out[0].values), ref.logits), 1e-4);
}

// Mixtral's sliding_window: positions inside the window see what full attention sees, later
// ones do not.
TEST(Forward, SlidingWindowLimitsAttention) {
  REQUIRE_TORCH();
  testutil::ScratchDir tmp("fwd");
  const auto dir = testutil::copy_fixture("mixtral_fused", tmp.path());
  testutil::edit_json(dir / "config.json", [](nlohmann::json& j) { j["sliding_window"] = 2; });
  const Reference ref = reference_of(testutil::hf_fixture("mixtral_fused"));
  const auto out = run_forward(*MoeModel::open(dir), {ref.ids});
  const std::size_t vocab = static_cast<std::size_t>(out[0].vocab);
  const auto row = [&](const auto& v, std::size_t t) {
    return std::vector<double>(v.begin() + t * vocab, v.begin() + (t + 1) * vocab);
  };
  for (std::size_t t : {0u, 1u})
    EXPECT_LT(testutil::relative_max_error(row(as_double(out[0].values), t), row(ref.logits, t)),
              1e-4);
  EXPECT_GT(testutil::relative_max_error(row(as_double(out[0].values), 4), row(ref.logits, 4)),
            1e-3);
}

TEST(ForwardCli, JsonLogitsMatchReference) {
  REQUIRE_TORCH();
  const auto scratch = testing::temp_dir("forward");
  const auto dir = testutil::hf_fixture("deepseek_v2_tiny");
  const Reference ref = reference_of(dir);
  std::string ids;
  for (int64_t id : ref.ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const auto r =
      testing::run_cli("forward \"" + dir.string() + "\" --tokens " + ids + " --json", scratch);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("shape"), nlohmann::json::array({5, 32}));
  EXPECT_LT(testutil::relative_max_error(j.at("logits").get<std::vector<double>>(), ref.logits),
            1e-4);
  const auto text = testing::run_cli("forward \"" + dir.string() + "\" --tokens 1,2", scratch);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("position 1 (token 2):"), std::string::npos);
}

TEST(ForwardCli, BadInputExitsTwo) {
  const auto scratch = testing::temp_dir("forward_bad");
  const std::string dir = testutil::hf_fixture("mixtral_fused").string();
  auto r = testing::run_cli("forward \"" + dir + "\" --tokens 1,x", scratch);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--tokens"), std::string::npos) << r.err;
  if (!forward_available()) {
    r = testing::run_cli("forward \"" + dir + "\" --tokens 1", scratch);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("LibTorch"), std::string::npos) << r.err;
    return;
  }
  r = testing::run_cli("forward \"" + dir + "\" --tokens 1,999", scratch);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace moeprobe
