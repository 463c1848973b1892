// Positive and negative synthetic controls of the suites in kControlledSuites, one test case per
// (suite, recipe): every recipe in fixtures/recipes/ with an `expect:` map naming hypotheses of
// the suite is generated into a temp dir (with its dense reference when the recipe writes one),
// the suite is run on it through the library runner, and each expected outcome is checked
// (PASS <-> PASS; FAIL <-> FAIL or WARN: a warn-severity hypothesis that misses its threshold
// reports WARN). Only the hypotheses a recipe expects are run on it. The dynamic hypotheses
// (A7-A12) run on the synthetic Gaussian probe (`--activations synthetic`: x ~ N(0, I) scaled by
// the layer's norm weight, the input the recipes' dynamic plants are calibrated for). Every
// hypothesis of a listed suite must have at least one control expecting PASS and one expecting
// FAIL, so a new hypothesis without controls fails here, and every id a recipe expects must be a
// hypothesis of a listed suite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "metrics/metric.h"
#include "suite/result.h"
#include "suite/runner.h"
#include "suite/schema.h"
#include "synth/generator.h"
#include "synth/recipe.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = MOEPROBE_SOURCE_DIR;

// Controls are small (seconds each); a recipe with real-model shapes (mixtral_8x7b_shape.yaml,
// GBs) is a benchmark fixture whose expectations are checked by hand, not in ctest.
constexpr int64_t kMaxExpertElements = int64_t{1} << 20;

bool is_small(const synth::Recipe& r) {
  return r.shape.hidden_size * r.shape.intermediate_size <= kMaxExpertElements;
}

std::vector<fs::path> recipes_with_expectations() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kSource / "fixtures" / "recipes")) {
    if (e.path().extension() != ".yaml") continue;
    const synth::Recipe r = synth::load_recipe(e.path());
    if (!r.expect.empty() && is_small(r)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The suites whose hypotheses have synthetic controls. A suite of new hypotheses (the dynamic
// analyses) is one line here; its recipes are found in fixtures/recipes/ by their expect maps.
const char* const kControlledSuites[] = {
    "closer_look.yaml",
};

Suite load_controlled_suite(const std::string& file) {
  return load_suite(kSource / "suites" / file, find_metric);
}

bool is_suite_id(const Suite& s, const std::string& id) {
  return std::any_of(s.hypotheses.begin(), s.hypotheses.end(),
                     [&](const Hypothesis& h) { return h.id == id; });
}

// One control: a suite and a recipe that states expectations for some of its hypotheses.
struct Control {
  std::string suite;  // file under suites/
  fs::path recipe;    // empty when listing the controls failed (error says why)
  std::string error;
};

std::vector<Control> all_controls() {
  std::vector<Control> out;
  try {
    for (const char* file : kControlledSuites) {
      const Suite suite = load_controlled_suite(file);
      for (const auto& path : recipes_with_expectations()) {
        const synth::Recipe recipe = synth::load_recipe(path);
        if (std::any_of(recipe.expect.begin(), recipe.expect.end(),
                        [&](const auto& e) { return is_suite_id(suite, e.first); }))
          out.push_back({file, path, ""});
      }
    }
  } catch (const std::exception& e) {
    out.push_back({"", "", e.what()});  // reported by the test, not at static initialisation
  }
  return out;
}

std::string test_name(const Control& c) {
  if (c.recipe.empty()) return "listing_failed";
  std::string name = fs::path(c.suite).stem().string() + "_" + c.recipe.stem().string();
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

class SuiteControls : public ::testing::TestWithParam<const char*> {};

// Every hypothesis of the suite has at least one control expecting PASS and one expecting FAIL.
TEST_P(SuiteControls, EveryHypothesisHasPositiveAndNegativeControls) {
  const Suite suite = load_controlled_suite(GetParam());
  std::map<std::string, std::set<std::string>> seen;  // id -> {PASS, FAIL}
  for (const auto& p : recipes_with_expectations())
    for (const auto& [id, want] : synth::load_recipe(p).expect) seen[id].insert(want);
  for (const auto& h : suite.hypotheses) {
    EXPECT_TRUE(seen[h.id].count("PASS")) << h.id << ": no recipe expects PASS";
    EXPECT_TRUE(seen[h.id].count("FAIL")) << h.id << ": no recipe expects FAIL";
  }
  // Not a structured binding: clang 14 (the debug preset) cannot capture one in a lambda.
  for (const auto& entry : seen) {
    const std::string& id = entry.first;
    EXPECT_TRUE(
        std::any_of(std::begin(kControlledSuites), std::end(kControlledSuites),
                    [&](const char* f) { return is_suite_id(load_controlled_suite(f), id); }))
        << id << ": a recipe expects it, no controlled suite has such an id";
  }
}

INSTANTIATE_TEST_SUITE_P(Suites, SuiteControls, ::testing::ValuesIn(kControlledSuites),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

class RecipeControl : public ::testing::TestWithParam<Control> {};

// The recipe's model, generated into a temp dir (with its dense reference when the recipe writes
// one), gives each expected outcome of the suite's hypotheses.
TEST_P(RecipeControl, GivesItsExpectedOutcomes) {
  const Control& control = GetParam();
  ASSERT_TRUE(control.error.empty()) << "listing the controls failed: " << control.error;
  const Suite suite = load_controlled_suite(control.suite);
  const synth::Recipe recipe = synth::load_recipe(control.recipe);
  std::map<std::string, std::string> checked;
  for (const auto& [id, want] : recipe.expect)
    if (is_suite_id(suite, id)) checked[id] = want;
  ASSERT_FALSE(checked.empty());
  // Only the hypotheses this recipe expects (the others are another control's business).
  Suite expected = suite;
  expected.hypotheses.clear();
  for (const auto& h : suite.hypotheses)
    if (checked.count(h.id)) expected.hypotheses.push_back(h);

  const fs::path dir = fs::temp_directory_path() / ("moeprobe_control_" + test_name(control) + "_" +
                                                    std::to_string(::getpid()));
  fs::remove_all(dir);
  synth::synthesize(recipe, dir, kSource / "configs" / "families", 2);
  RunOptions opt;
  opt.model_dir = dir;
  opt.device = "cpu";
  opt.activations = "synthetic:256";  // the dynamic hypotheses' probe (ignored by static ones)
  if (recipe.plant.write_reference) {
    const fs::path ref(recipe.plant.reference_dir);
    opt.reference_model = ref.is_absolute() ? ref : dir / ref;
  }
  const RunResult result = run_suite(expected, opt);
  for (const auto& h : result.hypotheses) {
    const auto it = checked.find(h.id);
    if (it == checked.end()) continue;
    const std::string got = outcome_name(h.outcome);
    const bool ok = it->second == "PASS"
                        ? h.outcome == Outcome::Pass
                        : (h.outcome == Outcome::Fail || h.outcome == Outcome::Warn);
    EXPECT_TRUE(ok) << h.id << ": expected " << it->second << ", got " << got << " (value "
                    << h.value << ", interval [" << h.lo << ", " << h.hi << "]"
                    << (h.reason.empty() ? "" : ", " + h.reason) << ")";
    checked.erase(it);
  }
  for (const auto& [id, want] : checked)
    ADD_FAILURE() << id << ": expected " << want << " but the hypothesis was not run";
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RecipeControl, ::testing::ValuesIn(all_controls()),
                         [](const ::testing::TestParamInfo<Control>& info) {
                           return test_name(info.param);
                         });

}  // namespace
}  // namespace moeprobe
