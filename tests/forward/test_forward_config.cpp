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

// The field read_forward_config names when it refuses the model in dir ("" when accepted).
std::string rejected_field(const std::filesystem::path& dir) {
  try {
    read_forward_config(*MoeModel::open(dir));
  } catch (const InputError& e) {
    return e.field();
  }
  return "";
}

std::string rejection(const std::string& fixture,
                      const std::function<void(nlohmann::json&)>& edit) {
  ScratchDir tmp("fwdcfg");
  const auto dir = copy_fixture(fixture, tmp.path());
  edit_json(dir / "config.json", edit);
  return rejected_field(dir);
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

std::filesystem::path forward_fixture(const std::string& name) {
  return std::filesystem::path(MOEPROBE_TEST_DATA) / "forward" / name;
}

TEST(ForwardConfig, GptOssLayerTypesSinksAndUntruncatedYarn) {
  const ForwardConfig fc = read_forward_config(*MoeModel::open(forward_fixture("gpt_oss_synth")));
  EXPECT_TRUE(fc.attention_sinks);
  EXPECT_EQ(fc.layer_windows, (std::vector<int64_t>{3, 0}));
  EXPECT_FALSE(fc.rope.truncate);
  EXPECT_NEAR(fc.rope.attention_factor, 0.1 * std::log(32.0) + 1.0, 1e-12);
  // HF's GptOssConfig default without layer_types: sliding on even layers, window 128.
  ScratchDir tmp("fwdcfg");
  const auto dir = tmp.path() / "m";
  std::filesystem::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(forward_fixture("gpt_oss_synth") / f, dir / f);
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j.erase("layer_types");
    j.erase("sliding_window");
  });
  EXPECT_EQ(read_forward_config(*MoeModel::open(dir)).layer_windows,
            (std::vector<int64_t>{128, 0}));
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j["layer_types"] = {"sliding_attention", "chunked"};
  });
  EXPECT_EQ(rejected_field(dir), "layer_types[1]");
}

TEST(ForwardConfig, Glm4MoePartialRotaryAndQkNorm) {
  const ForwardConfig fc = read_forward_config(*MoeModel::open(forward_fixture("glm4_moe_synth")));
  EXPECT_EQ(fc.head_dim, 8);
  EXPECT_EQ(fc.rope.dim, 4);  // partial_rotary_factor 0.5
  EXPECT_EQ(fc.qk_norm, QkNorm::None);
  EXPECT_EQ(fc.layer_windows, (std::vector<int64_t>{0, 0}));
  ScratchDir tmp("fwdcfg");
  const auto dir = tmp.path() / "m";
  std::filesystem::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(forward_fixture("glm4_moe_synth") / f, dir / f);
  // The fixture's q_norm tensors cover the whole projection, not one head: refused.
  edit_json(dir / "config.json", [](nlohmann::json& j) { j["use_qk_norm"] = true; });
  EXPECT_EQ(rejected_field(dir), "use_qk_norm");
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j["use_qk_norm"] = false;
    j["partial_rotary_factor"] = 0.4;  // 3.2 dimensions
  });
  EXPECT_EQ(rejected_field(dir), "partial_rotary_factor");
}

// A config.json value quoted in a message is cut to an excerpt: a huge value there gives a
// message of one short line, not megabytes.
TEST(ForwardConfig, MessagesQuoteOnlyAnExcerptOfAHugeValue) {
  ScratchDir tmp("fwdcfg");
  const auto dir = copy_fixture("mixtral_fused", tmp.path());
  const std::string huge(1 << 20, 'x');
  auto message = [&](const std::function<void(nlohmann::json&)>& edit) {
    edit_json(dir / "config.json", edit);
    try {
      read_forward_config(*MoeModel::open(dir));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  std::string m = message([&](nlohmann::json& j) { j["rms_norm_eps"] = huge; });
  EXPECT_NE(m.find("rms_norm_eps: expected a number, got \"xxx"), std::string::npos) << m;
  EXPECT_NE(m.find("..."), std::string::npos) << m;
  EXPECT_LT(m.size(), 400u);
  m = message([&](nlohmann::json& j) {
    j.erase("rms_norm_eps");
    j["rope_scaling"] = nlohmann::json::array({huge, huge});
  });
  EXPECT_NE(m.find("rope_scaling: expected an object"), std::string::npos) << m;
  EXPECT_LT(m.size(), 400u);
  m = message([&](nlohmann::json& j) {
    j.erase("rope_scaling");
    j["layer_types"] = std::vector<std::string>(100000, "full_attention");
  });
  EXPECT_NE(m.find("layer_types: expected one entry per decoder layer"), std::string::npos) << m;
  EXPECT_NE(m.find("an array of 100000 values"), std::string::npos) << m;
  EXPECT_LT(m.size(), 400u);
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
  EXPECT_EQ(rejection("mixtral_fused", [](nlohmann::json& j) { j["layer_types"] = {"full"}; }),
            "layer_types");
}

}  // namespace
}  // namespace moeprobe
