// moeprobe inspect end to end: table and JSON on the HF fixtures, and the promise that building
// the summary reads headers only.
#include <gtest/gtest.h>

#include "../model/model_test_util.h"
#include "model/model_summary.h"
#include "model/moe_model.h"

namespace moeprobe {
namespace {

using testutil::hf_fixture;
using testutil::run_cli;
using testutil::shell_quote;

nlohmann::json inspect_json(const std::string& fixture, const std::string& extra = "") {
  const auto r =
      run_cli("inspect " + shell_quote(hf_fixture(fixture).string()) + " --json " + extra);
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(Inspect, JsonForEachFixture) {
  struct Row {
    const char* dir;
    const char* family;
    const char* layout;
    int experts, top_k, hidden, inter, shared;
  };
  for (const Row& x : {Row{"mixtral_classic", "mixtral", "classic", 4, 2, 32, 64, 0},
                       Row{"mixtral_fused", "mixtral", "fused", 4, 2, 32, 64, 0},
                       Row{"qwen2_moe_tiny", "qwen2_moe", "fused", 4, 2, 32, 16, 1},
                       Row{"deepseek_v2_tiny", "deepseek_v2", "fused", 4, 2, 16, 16, 1}}) {
    SCOPED_TRACE(x.dir);
    const nlohmann::json j = inspect_json(x.dir);
    EXPECT_EQ(j["family"], x.family);
    EXPECT_EQ(j["layout"], x.layout);
    EXPECT_EQ(j["num_layers"], 2);
    EXPECT_EQ(j["moe_layers"], nlohmann::json::array({0, 1}));
    EXPECT_EQ(j["num_experts"], x.experts);
    EXPECT_EQ(j["top_k"], x.top_k);
    EXPECT_EQ(j["hidden_size"], x.hidden);
    EXPECT_EQ(j["intermediate_size"], x.inter);
    EXPECT_EQ(j["shared_experts"], x.shared);
    EXPECT_EQ(j["routing"]["top_k"], x.top_k);
    for (const char* k : {"scoring", "softmax_before_topk", "renormalize", "selection_bias",
                          "n_group", "topk_group", "routed_scaling_factor"})
      EXPECT_TRUE(j["routing"].contains(k)) << k;
    // All fixtures are F32: the dtype table holds every byte of tensor data.
    const auto size = std::filesystem::file_size(hf_fixture(x.dir) / "model.safetensors");
    EXPECT_EQ(j["dtypes"].size(), 1u);
    EXPECT_EQ(j["dtypes"]["F32"], j["tensor_bytes"]);
    EXPECT_LT(j["tensor_bytes"].get<uint64_t>(), size);
    EXPECT_GT(j["tensor_bytes"].get<uint64_t>(), size * 9 / 10);
  }
  EXPECT_EQ(inspect_json("mixtral_classic")["routing"]["softmax_before_topk"], false);
  EXPECT_EQ(inspect_json("qwen2_moe_tiny")["shared_expert_gate"], true);
  EXPECT_EQ(inspect_json("deepseek_v2_tiny")["routing"]["renormalize"], true);
}

TEST(Inspect, TableIsReadable) {
  const auto r = run_cli("inspect " + shell_quote(hf_fixture("qwen2_moe_tiny").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen2_moe"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top-2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sigmoid gate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("KiB"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Inspect, ForcedFamilyAndFamiliesDir) {
  const nlohmann::json j =
      inspect_json("mixtral_classic",
                   "--family mixtral --families " + shell_quote(default_families_dir().string()));
  EXPECT_EQ(j["family"], "mixtral");
}

TEST(Inspect, SummaryReadsHeadersOnly) {
  for (const char* dir :
       {"mixtral_classic", "mixtral_fused", "qwen2_moe_tiny", "deepseek_v2_tiny"}) {
    const auto model = MoeModel::open(hf_fixture(dir));
    const nlohmann::json j = summarize_model(*model);
    EXPECT_EQ(j["family"].get<std::string>().empty(), false);
    EXPECT_FALSE(format_summary_table(j).empty());
    EXPECT_EQ(model->checkpoint().mapped_shards(), 0u) << dir;
  }
}

TEST(Inspect, Helpers) {
  EXPECT_EQ(compress_ranges({0, 1, 2, 3, 5, 7, 8, 9}), "0-3,5,7-9");
  EXPECT_EQ(compress_ranges({4}), "4");
  EXPECT_EQ(compress_ranges({}), "none");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.50 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.00 GiB");
}

}  // namespace
}  // namespace moeprobe
