// The forward pass's config checks (torch-free: they run in builds without LibTorch too): every
// option that changes the math is implemented or rejected naming its key.
#include <gtest/gtest.h>

#include "../model/model_test_util.h"
#include "forward/forward_config.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using testutil::copy_fixture;
using testutil::edit_json;
using testutil::ScratchDir;

std::string rejection(const std::string& fixture,
                      const std::function<void(nlohmann::json&)>& edit) {
  ScratchDir tmp("fwdcfg");
  const auto dir = copy_fixture(fixture, tmp.path());
  edit_json(dir / "config.json", edit);
  try {
    read_forward_config(*MoeModel::open(dir));
  } catch (const InputError& e) {
    return e.field();
  }
  return "";
}

TEST(ForwardConfig, ReadsStandardAndLatentAttention) {
  const ForwardConfig m =
      read_forward_config(*MoeModel::open(testutil::hf_fixture("mixtral_fused")));
  EXPECT_EQ(m.attention, AttentionKind::Standard);
  EXPECT_EQ(m.head_dim, 8);
  EXPECT_FALSE(m.rope.interleaved);
  EXPECT_DOUBLE_EQ(m.attention_scale, 1.0 / std::sqrt(8.0));
  const ForwardConfig d =
      read_forward_config(*MoeModel::open(testutil::hf_fixture("deepseek_v2_tiny")));
  EXPECT_EQ(d.attention, AttentionKind::Latent);
  EXPECT_EQ(d.kv_lora_rank, 8);
  EXPECT_EQ(d.rope.dim, 4);
  EXPECT_TRUE(d.rope.interleaved);
  EXPECT_DOUBLE_EQ(d.attention_scale, 1.0 / std::sqrt(8.0));
  EXPECT_FALSE(d.router.convention.renormalize);  // HF's DeepseekV2Moe ignores norm_topk_prob
}

TEST(ForwardConfig, YarnScaleCarriesMscaleSquared) {
  ScratchDir tmp("fwdcfg");
  const auto dir = copy_fixture("deepseek_v2_tiny", tmp.path());
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j["rope_parameters"] = {{"rope_type", "yarn"},
                            {"factor", 40.0},
                            {"mscale", 0.707},
                            {"mscale_all_dim", 0.707},
                            {"original_max_position_embeddings", 16},
                            {"rope_theta", 10000.0}};
  });
  const ForwardConfig fc = read_forward_config(*MoeModel::open(dir));
  const double m = 0.1 * 0.707 * std::log(40.0) + 1.0;
  EXPECT_NEAR(fc.attention_scale, m * m / std::sqrt(8.0), 1e-12);
  EXPECT_NEAR(fc.rope.attention_factor, 1.0, 1e-12);  // mscale == mscale_all_dim
  const std::vector<double> inv = rope_inverse_frequencies(fc.rope);
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_GT(inv[0], inv[1]);
}

TEST(ForwardConfig, RejectsWhatIsNotImplemented) {
  EXPECT_EQ(rejection("mixtral_fused",
                      [](nlohmann::json& j) {
                        j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
                      }),
            "rope_scaling.rope_type");
  EXPECT_EQ(rejection("mixtral_fused",
                      [](nlohmann::json& j) {
                        j["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 2.0}};
                      }),
            "rope_parameters.rope_type");
  EXPECT_EQ(rejection("qwen2_moe_tiny", [](nlohmann::json& j) { j["use_sliding_window"] = true; }),
            "use_sliding_window");
  EXPECT_EQ(rejection("mixtral_fused", [](nlohmann::json& j) { j["hidden_act"] = "relu"; }),
            "hidden_act");
  EXPECT_EQ(rejection("mixtral_fused", [](nlohmann::json& j) { j["partial_rotary_factor"] = 0.5; }),
            "partial_rotary_factor");
  EXPECT_EQ(rejection("qwen2_moe_tiny", [](nlohmann::json& j) { j["num_key_value_heads"] = 3; }),
            "num_key_value_heads");
}

}  // namespace
}  // namespace moeprobe
