// The error policy of docs/ARCHITECTURE.md, one test per class, through the moeprobe binary:
// bad input (a NaN weight, an unknown metric) exits 2 naming the file and the field and writes no
// report; a hypothesis that does not apply to the model is SKIPPED with its reason and exits 0.
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../model/model_test_util.h"
#include "io/safetensors.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testutil::copy_fixture;
using testutil::run_cli;
using testutil::shell_quote;

fs::path write_suite(const fs::path& dir, const std::string& hypotheses) {
  const fs::path p = dir / "suite.yaml";
  std::ofstream(p) << "schema: moeprobe/suite/v1\nname: policy\nhypotheses:\n" << hypotheses;
  return p;
}

std::string run_args(const fs::path& suite, const fs::path& model, const fs::path& out) {
  return "run " + shell_quote(suite.string()) + " --model " + shell_quote(model.string()) +
         " --device cpu --out " + shell_quote(out.string());
}

// Overwrites the first element of an F32 tensor with a NaN, in place.
void poison_first_element(const fs::path& file, const std::string& tensor) {
  uint64_t data_begin = 0, offset = 0;
  {
    SafetensorsFile st(file);
    const TensorEntry* e = st.find(tensor);
    ASSERT_NE(e, nullptr) << tensor;
    ASSERT_EQ(e->dtype, DType::F32);
    offset = e->begin;
    data_begin = 8 + st.header_size();
  }
  const uint32_t nan_bits = 0x7fc00000u;
  std::fstream io(file, std::ios::binary | std::ios::in | std::ios::out);
  io.seekp(static_cast<std::streamoff>(data_begin + offset));
  io.write(reinterpret_cast<const char*>(&nan_bits), 4);
}

TEST(ErrorPolicy, NanWeightIsBadInputWithNoReport) {
  testutil::ScratchDir scratch("policy-nan");
  const fs::path model = copy_fixture("mixtral_classic", scratch.path());
  const std::string tensor = "model.layers.1.block_sparse_moe.experts.2.w1.weight";
  poison_first_element(model / "model.safetensors", tensor);
  const fs::path suite = write_suite(scratch.path(),
                                     "  - id: sim\n    metric: expert_weight_similarity\n"
                                     "    expect: \">= -1\"\n");
  const fs::path out = scratch.path() / "out";
  const auto r = run_cli(run_args(suite, model, out));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(tensor), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NaN"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "a run on bad input left " << out;
}

TEST(ErrorPolicy, UnknownMetricIsBadInputAtSuiteLoad) {
  testutil::ScratchDir scratch("policy-metric");
  const fs::path suite = write_suite(scratch.path(),
                                     "  - id: sim\n    metric: expert_weight_similarity\n"
                                     "    expect: \">= -1\"\n"
                                     "  - id: typo\n    metric: expert_wieght_similarity\n"
                                     "    expect: \">= -1\"\n");
  const fs::path out = scratch.path() / "out";
  // The model is not even opened: the suite is rejected first.
  const auto r = run_cli(run_args(suite, scratch.path() / "no-model", out));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(suite.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hypotheses[1].metric"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expert_wieght_similarity"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

// mixtral_classic has 2 MoE layers of 4 experts: the deep band holds none of them, Spearman needs
// 3 layers, and 4 experts can never hold a dark cross (2 sigma below the mean).
TEST(ErrorPolicy, HypothesesThatDoNotApplyAreSkippedAndExitZero) {
  testutil::ScratchDir scratch("policy-skip");
  const fs::path suite =
      write_suite(scratch.path(),
                  "  - id: deep-band\n    metric: expert_weight_similarity\n"
                  "    aggregate: { band_ratio: { band: [0.69, 0.94], base: before } }\n"
                  "    expect: \"<= 0.9\"\n"
                  "  - id: depth-trend\n    metric: expert_weight_similarity\n"
                  "    aggregate: spearman_vs_depth\n    expect: \"<= 0\"\n"
                  "  - id: dark-cross\n    metric: pca_dark_cross_match\n"
                  "    aggregate: mean\n    expect: \">= 0.5\"\n"
                  "  - id: applies\n    metric: expert_weight_similarity\n    expect: \">= -1\"\n");
  const fs::path out = scratch.path() / "out";
  const auto r = run_cli(run_args(suite, testutil::hf_fixture("mixtral_classic"), out));
  EXPECT_EQ(r.code, 0) << r.err << r.out;
  std::ifstream in(out / "results.json");
  ASSERT_TRUE(in) << "no results.json";
  const auto j = nlohmann::json::parse(in);
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& h : j["hypotheses"]) by_id[h["id"]] = h;
  const std::map<std::string, std::string> expected_reason = {{"deep-band", "holds no MoE layer"},
                                                              {"depth-trend", "at least 3 layers"},
                                                              {"dark-cross", "not applicable"}};
  for (const auto& [id, needle] : expected_reason) {
    ASSERT_TRUE(by_id.count(id)) << id;
    EXPECT_EQ(by_id[id]["outcome"], "SKIPPED") << by_id[id].dump();
    EXPECT_NE(by_id[id]["reason"].get<std::string>().find(needle), std::string::npos)
        << by_id[id].dump();
  }
  EXPECT_EQ(by_id["applies"]["outcome"], "PASS");
}

}  // namespace
}  // namespace moeprobe
