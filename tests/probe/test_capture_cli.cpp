// `moeprobe capture` and `run --probe-text` end to end: exit codes, messages naming the file and
// field, no partial file, the run's temporary activations removed.
#include <gtest/gtest.h>

#include "../model/model_test_util.h"
#include "forward/forward.h"
#include "io/safetensors.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testutil::shell_quote;

fs::path model_dir() {
  return fs::path(MOEPROBE_TEST_DATA) / "forward" / "mixtral_synth";
}

TEST(CaptureCli, WritesActivationsFromTextAndTokens) {
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch";
  testutil::ScratchDir tmp("capture-cli");
  testutil::write_bytes(tmp.path() / "probe.txt", "As an open source alternative to\nsecond\n");
  const fs::path out = tmp.path() / "acts.safetensors";
  auto r = testutil::run_cli("capture " + shell_quote(model_dir().string()) + " --text " +
                             shell_quote((tmp.path() / "probe.txt").string()) +
                             " --lines 1 --out " + shell_quote(out.string()));
  ASSERT_EQ(r.code, 0) << r.err;
  {
    const SafetensorsFile f(out);
    EXPECT_EQ(f.view("token_ids").numel(), 33);  // BOS + 32 bytes
    EXPECT_NE(f.find("layers.1.moe_input"), nullptr);
  }
  testutil::write_bytes(tmp.path() / "ids.txt", "1,5,6\n");
  r = testutil::run_cli("capture " + shell_quote(model_dir().string()) + " --tokens-file " +
                        shell_quote((tmp.path() / "ids.txt").string()) + " --out " +
                        shell_quote(out.string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(SafetensorsFile(out).view("token_ids").numel(), 3);
}

TEST(CaptureCli, BadInputExitsTwoNamingFileAndField) {
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch";
  testutil::ScratchDir tmp("capture-cli");
  const fs::path out = tmp.path() / "acts.safetensors";
  testutil::write_bytes(tmp.path() / "ids.txt", "1 2\n3 260\n");
  auto r = testutil::run_cli("capture " + shell_quote(model_dir().string()) + " --tokens-file " +
                             shell_quote((tmp.path() / "ids.txt").string()) + " --out " +
                             shell_quote(out.string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("ids.txt: line 2: token 1"), std::string::npos) << r.err;
  testutil::write_bytes(tmp.path() / "probe.txt", "one\ntwo\n");
  r = testutil::run_cli("capture " + shell_quote(model_dir().string()) + " --text " +
                        shell_quote((tmp.path() / "probe.txt").string()) + " --lines 3 --out " +
                        shell_quote(out.string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--lines"), std::string::npos) << r.err;
  testutil::write_bytes(tmp.path() / "empty.txt", "\n\n");
  r = testutil::run_cli("capture " + shell_quote(model_dir().string()) + " --text " +
                        shell_quote((tmp.path() / "empty.txt").string()) + " --out " +
                        shell_quote(out.string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("empty.txt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(RunProbeText, CapturesIntoTheOutputAreaAndRemovesIt) {
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch";
  testutil::ScratchDir tmp("run-probe");
  testutil::write_bytes(tmp.path() / "probe.txt", "As an open source alternative to\n");
  const fs::path suite = fs::path(MOEPROBE_SOURCE_DIR) / "suites" / "smoke.yaml";
  const fs::path out = tmp.path() / "report";
  auto r = testutil::run_cli("run " + shell_quote(suite.string()) + " --model " +
                             shell_quote(model_dir().string()) + " --probe-text " +
                             shell_quote((tmp.path() / "probe.txt").string()) + " --out " +
                             shell_quote(out.string()));
  EXPECT_LE(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("probe probe.txt"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out / "results.json"));
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".probe-activations"), std::string::npos);
  // Bad probe: exit 2, no report and no directory left behind.
  testutil::write_bytes(tmp.path() / "ids.txt", "1 999\n");
  const fs::path out2 = tmp.path() / "report2";
  r = testutil::run_cli("run " + shell_quote(suite.string()) + " --model " +
                        shell_quote(model_dir().string()) + " --probe-tokens " +
                        shell_quote((tmp.path() / "ids.txt").string()) + " --out " +
                        shell_quote(out2.string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("ids.txt: line 1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out2));
}

}  // namespace
}  // namespace moeprobe
