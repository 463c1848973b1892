// Positive and negative synthetic controls of suites/closer_look.yaml: every recipe in
// fixtures/recipes/ with an `expect:` map is generated into a temp dir (with its dense reference
// when the recipe writes one), the suite is run on it through the library runner, and each
// expected outcome of a closer_look hypothesis is checked (PASS <-> PASS; FAIL <-> FAIL or WARN:
// a warn-severity hypothesis that misses its threshold reports WARN). The dynamic hypotheses
// (A7-A12) run on the synthetic Gaussian probe (`--activations synthetic`: x ~ N(0, I) scaled by
// the layer's norm weight, the input the recipes' dynamic plants are calibrated for). Only the
// hypotheses a recipe expects are run on it. Every hypothesis of the suite must have at least one
// control expecting PASS and one expecting FAIL, so a new hypothesis without controls fails here,
// and every id a recipe expects must be a hypothesis of the suite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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

Suite closer_look() {
  return load_suite(kSource / "suites" / "closer_look.yaml", find_metric);
}

bool is_suite_id(const Suite& s, const std::string& id) {
  return std::any_of(s.hypotheses.begin(), s.hypotheses.end(),
                     [&](const Hypothesis& h) { return h.id == id; });
}

TEST(Controls, EveryHypothesisHasPositiveAndNegativeControls) {
  const Suite suite = closer_look();
  std::map<std::string, std::set<std::string>> seen;  // id -> {PASS, FAIL}
  for (const auto& p : recipes_with_expectations())
    for (const auto& [id, want] : synth::load_recipe(p).expect) seen[id].insert(want);
  for (const auto& h : suite.hypotheses) {
    EXPECT_TRUE(seen[h.id].count("PASS")) << h.id << ": no recipe expects PASS";
    EXPECT_TRUE(seen[h.id].count("FAIL")) << h.id << ": no recipe expects FAIL";
  }
  for (const auto& [id, outcomes] : seen)
    EXPECT_TRUE(is_suite_id(suite, id)) << id << ": a recipe expects it, the suite has no such id";
}

TEST(Controls, RecipesGiveTheirExpectedOutcomes) {
  const Suite suite = closer_look();
  const auto recipes = recipes_with_expectations();
  ASSERT_FALSE(recipes.empty());
  for (const auto& path : recipes) {
    const synth::Recipe recipe = synth::load_recipe(path);
    std::map<std::string, std::string> checked;
    for (const auto& [id, want] : recipe.expect)
      if (is_suite_id(suite, id)) checked[id] = want;
    SCOPED_TRACE(path.filename().string());
    // Only the hypotheses this recipe expects (the others are another control's business).
    Suite expected = suite;
    expected.hypotheses.clear();
    for (const auto& h : suite.hypotheses)
      if (checked.count(h.id)) expected.hypotheses.push_back(h);
    if (expected.hypotheses.empty()) continue;

    const fs::path dir = fs::temp_directory_path() / ("moeprobe_control_" + path.stem().string() +
                                                      "_" + std::to_string(::getpid()));
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
}

}  // namespace
}  // namespace moeprobe
