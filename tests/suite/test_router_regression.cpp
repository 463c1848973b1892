// Router regression (suites/router_regression.yaml, run --compare-model): a checkpoint compared
// with itself passes every hypothesis; with an independently drawn router (another seed) the
// top-1 agreement and top-k overlap are at chance and fail; a baseline with another expert count
// is bad input; without a baseline every hypothesis is SKIPPED.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "metrics/metric.h"
#include "suite/result.h"
#include "suite/runner.h"
#include "suite/schema.h"
#include "synth/generator.h"
#include "synth/recipe.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = MOEPROBE_SOURCE_DIR;

class RouterRegression : public ::testing::Test {
 protected:
  static fs::path dir_;
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("moeprobe_router_regression_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const fs::path recipes = kSource / "fixtures" / "recipes";
    synth::RecipeOverrides two_layers;
    two_layers.num_layers = 2;
    synth::synthesize(synth::load_recipe(recipes / "a12_even_routing_positive.yaml", two_layers),
                      dir_ / "base", kSource / "configs" / "families", 2);
    two_layers.seed = 7;  // independent weights, router included
    synth::synthesize(synth::load_recipe(recipes / "a12_even_routing_positive.yaml", two_layers),
                      dir_ / "other", kSource / "configs" / "families", 2);
    two_layers.seed = std::nullopt;
    synth::synthesize(synth::load_recipe(recipes / "a12_even_routing_negative.yaml", two_layers),
                      dir_ / "sixteen", kSource / "configs" / "families", 2);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::map<std::string, HypothesisResult> run(const std::string& candidate,
                                                     const std::string& baseline) {
    const Suite suite = load_suite(kSource / "suites" / "router_regression.yaml", find_metric);
    RunOptions opt;
    opt.model_dir = dir_ / candidate;
    if (!baseline.empty()) opt.compare_model = dir_ / baseline;
    opt.device = "cpu";
    opt.activations = "synthetic:256";
    std::map<std::string, HypothesisResult> out;
    for (const auto& h : run_suite(suite, opt).hypotheses) out[h.id] = h;
    return out;
  }
};

fs::path RouterRegression::dir_;

TEST_F(RouterRegression, SameCheckpointPassesEverything) {
  const auto r = run("base", "base");
  ASSERT_EQ(r.size(), 5u);
  for (const auto& [id, h] : r) EXPECT_EQ(h.outcome, Outcome::Pass) << id << " " << h.reason;
  EXPECT_DOUBLE_EQ(r.at("h12c-top1-agreement").value, 1.0);
  EXPECT_DOUBLE_EQ(r.at("h12c-topk-jaccard").value, 1.0);
  EXPECT_DOUBLE_EQ(r.at("routing-entropy-stable").value, 0.0);
}

TEST_F(RouterRegression, AnIndependentRouterFailsAgreement) {
  const auto r = run("base", "other");
  EXPECT_EQ(r.at("h12c-top1-agreement").outcome, Outcome::Fail)
      << r.at("h12c-top1-agreement").value;
  EXPECT_EQ(r.at("h12c-topk-jaccard").outcome, Outcome::Fail) << r.at("h12c-topk-jaccard").value;
  // Chance levels for 8 experts, top-2: top-1 agreement ~1/8, Jaccard ~0.14.
  EXPECT_LT(r.at("h12c-top1-agreement").value, 0.3);
  EXPECT_LT(r.at("h12c-topk-jaccard").value, 0.35);
}

TEST_F(RouterRegression, WithoutABaselineEverythingIsSkipped) {
  for (const auto& [id, h] : run("base", "")) {
    if (id == "no-dead-experts") continue;  // reads the candidate only
    EXPECT_EQ(h.outcome, Outcome::Skipped) << id;
    EXPECT_NE(h.reason.find("--compare-model"), std::string::npos) << h.reason;
  }
}

TEST_F(RouterRegression, AnotherExpertCountIsBadInput) {
  try {
    run("base", "sixteen");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "--compare-model");
    EXPECT_NE(std::string(e.what()).find("16 experts"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moeprobe
