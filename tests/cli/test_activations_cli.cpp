// `run --activations`: bad activations are bad input (exit 2, the message names the file and the
// tensor, no report written), a valid file or the synthetic probe is recorded in results.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../probe/probe_test_util.h"
#include "cli_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using moeprobe::testing::read_text;
using moeprobe::testing::run_cli;

class ActivationsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(probetest::temp_dir("cli"));
    probetest::tiny_model(*dir_ / "model");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path dir() { return *dir_; }
  // run the smoke suite with --activations ARG; returns the CLI result, out dir in `out`.
  static moeprobe::testing::CliResult run_with(const std::string& arg, const fs::path& out) {
    return run_cli("run \"" + std::string(MOEPROBE_SOURCE_DIR) + "/suites/smoke.yaml\" --model \"" +
                       (dir() / "model").string() + "\" --device cpu --out \"" + out.string() +
                       "\" --activations \"" + arg + "\"",
                   dir());
  }
  static fs::path* dir_;
};
fs::path* ActivationsCli::dir_ = nullptr;

TEST_F(ActivationsCli, BadActivationsExitTwoNamingFileAndTensor) {
  struct Case {
    const char* name;
    probetest::ActivationsFile file;
    const char* field;
    const char* what;
  };
  probetest::ActivationsFile ok;
  probetest::ActivationsFile wide = ok;
  wide.hidden = 32;
  probetest::ActivationsFile nan = ok;
  nan.poison = std::nanf("");
  probetest::ActivationsFile empty = ok;
  empty.tokens = 0;
  empty.starts = {};
  for (const Case& c : {Case{"wide", wide, "layers.0.moe_input", "hidden size"},
                        Case{"nan", nan, "layers.1.moe_input", "non-finite"},
                        Case{"empty", empty, ".moe_input", "no tokens"}}) {
    const fs::path file = dir() / (std::string(c.name) + ".safetensors");
    c.file.write(file);
    const fs::path out = dir() / (std::string("out_") + c.name);
    const auto r = run_with(file.string(), out);
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(file.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.field), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.what), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out / "results.json")) << c.name;
  }
  const auto r = run_with("synthetic:0", dir() / "out_zero");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--activations"), std::string::npos) << r.err;
}

TEST_F(ActivationsCli, ProbeRecordedInResults) {
  probetest::ActivationsFile ok;
  const fs::path file = dir() / "ok.safetensors";
  ok.write(file);
  auto r = run_with(file.string(), dir() / "out_ok");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(read_text(dir() / "out_ok" / "results.json"));
  EXPECT_EQ(j.at("probe").at("name"), "test probe");
  EXPECT_EQ(j.at("probe").at("tokens"), 8);
  EXPECT_EQ(j.at("probe").at("bos_tokens"), 2);
  r = run_with("synthetic:64", dir() / "out_synth");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(read_text(dir() / "out_synth" / "results.json"));
  EXPECT_EQ(j.at("probe").at("name"), "synthetic gaussian, not text");
  EXPECT_EQ(j.at("probe").at("tokens"), 64);
}

}  // namespace
}  // namespace moeprobe
