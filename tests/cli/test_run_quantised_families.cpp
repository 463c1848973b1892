// The paper's suite, dynamic findings included, end to end on the gpt-oss fixture (MXFP4 experts
// with biases and clamped SwiGLU) and its dequantised F32 twin, on synthetic activations and on
// text through the forward pass: both run without ERROR outcomes and give the same values; the
// GLM-4.5 fixture runs on text too.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "forward/forward.h"
#include "tests/cli/cli_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

const std::string kSource = MOEPROBE_SOURCE_DIR;
const fs::path kForward = fs::path(MOEPROBE_TEST_DATA) / "forward";

// The hypotheses of a closer_look run on `model` with the given probe option.
nlohmann::json run_closer_look(const fs::path& model, const std::string& probe,
                               const fs::path& scratch, const std::string& tag) {
  const fs::path out = scratch / tag;
  const auto r =
      run_cli("run \"" + kSource + "/suites/closer_look.yaml\" --model \"" + model.string() +
                  "\" " + probe + " --device cpu --out \"" + out.string() + "\"",
              scratch);
  EXPECT_TRUE(r.code == 0 || r.code == 1) << r.code << ": " << r.err;  // 1: a hypothesis failed
  std::ifstream in(out / "results.json");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "no results.json for " << tag;
    return nlohmann::json::array();
  }
  for (const auto& h : j.at("hypotheses")) {
    EXPECT_NE(h.at("outcome"), "ERROR")
        << tag << " " << h.at("id") << ": " << h.value("reason", "");
  }
  return j.at("hypotheses");
}

void expect_same_values(const nlohmann::json& a, const nlohmann::json& b) {
  ASSERT_EQ(a.size(), b.size());
  int dynamic = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].at("outcome"), b[i].at("outcome")) << a[i].at("id");
    if (!a[i].at("value").is_number()) continue;
    const double x = a[i].at("value").get<double>(), y = b[i].at("value").get<double>();
    EXPECT_NEAR(x, y, 1e-6 * std::max(1.0, std::fabs(x))) << a[i].at("id");
    const std::string id = a[i].at("id");
    dynamic += id.rfind("a7", 0) == 0 || id.rfind("a10", 0) == 0 || id.rfind("a11", 0) == 0;
  }
  EXPECT_GE(dynamic, 3);  // the dynamic findings produced values
}

TEST(RunQuantisedFamilies, GptOssMxfp4AndTwinOnSyntheticActivations) {
  const auto scratch = testing::temp_dir("run_gptoss_synthetic");
  const fs::path model = kForward / "gpt_oss_synth";
  expect_same_values(
      run_closer_look(model, "--activations synthetic:64", scratch, "mxfp4"),
      run_closer_look(model / "twin", "--activations synthetic:64", scratch, "twin"));
}

TEST(RunQuantisedFamilies, GptOssAndGlmOnTextThroughTheForwardPass) {
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch";
  const auto scratch = testing::temp_dir("run_gptoss_text");
  const fs::path text = scratch / "probe.txt";
  std::ofstream(text) << "The quick brown fox jumps over the lazy dog.\n"
                         "Mixture-of-experts models route each token to a few experts.\n";
  const std::string probe = "--probe-text \"" + text.string() + "\"";
  const fs::path model = kForward / "gpt_oss_synth";
  expect_same_values(run_closer_look(model, probe, scratch, "mxfp4"),
                     run_closer_look(model / "twin", probe, scratch, "twin"));
  run_closer_look(kForward / "glm4_moe_synth", probe, scratch, "glm");
}

}  // namespace
}  // namespace moeprobe
