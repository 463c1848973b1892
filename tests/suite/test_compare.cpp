#include <cmath>

#include <gtest/gtest.h>

#include "suite/compare.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

TEST(Compare, DriftNeedsBothToleranceExceeded) {
  EXPECT_FALSE(drifts(0.30, 0.31, 0.02, 0.05));
  EXPECT_TRUE(drifts(0.30, 0.35, 0.02, 0.05));   // 0.05 > 0.02 and > 0.015
  EXPECT_FALSE(drifts(10.0, 10.3, 0.02, 0.05));  // 0.3 > abs but < 0.5 rel
  EXPECT_TRUE(drifts(0.0, 0.03, 0.02, 0.05));
  EXPECT_TRUE(drifts(std::nan(""), 0.1, 0.02, 0.05));
  EXPECT_FALSE(drifts(std::nan(""), std::nan(""), 0.02, 0.05));
}

TEST(Compare, IdenticalRunsDoNotDrift) {
  const RunResult r = testing::sample_run();
  const Comparison c = compare_results(r, r, {});
  EXPECT_FALSE(c.failed());
  EXPECT_EQ(c.drifted(), 0);
  EXPECT_TRUE(c.added.empty());
  EXPECT_TRUE(c.removed.empty());
}

TEST(Compare, LayerDriftOutcomeChangeAddedRemoved) {
  const RunResult base = testing::sample_run();
  RunResult cur = base;
  cur.hypotheses[0].per_layer[3].value += 0.2;
  Comparison c = compare_results(base, cur, {});
  EXPECT_EQ(c.drifted(), 1);
  EXPECT_TRUE(c.failed());
  bool found = false;
  for (const auto& row : c.rows)
    found = found || (row.drift && row.layer == 3 && row.id == cur.hypotheses[0].id);
  EXPECT_TRUE(found);
  // A loose CLI tolerance overrides the hypothesis's.
  CompareOptions loose;
  loose.abs = 0.5;
  EXPECT_FALSE(compare_results(base, cur, loose).failed());

  cur = base;
  cur.hypotheses[0].outcome = Outcome::Inconclusive;
  c = compare_results(base, cur, {});
  ASSERT_EQ(c.outcome_changes.size(), 1u);
  EXPECT_TRUE(c.failed());

  cur = base;
  cur.hypotheses.pop_back();
  cur.hypotheses[0].id = "new-one";
  c = compare_results(base, cur, {});
  EXPECT_EQ(c.added, (std::vector<std::string>{"new-one"}));
  EXPECT_EQ(c.removed.size(), 2u);
  const std::string md = render_comparison_markdown(c, "a.json", "b.json");
  EXPECT_NE(md.find("added `new-one`"), std::string::npos);
  EXPECT_NE(md.find("| | Hypothesis | Layer |"), std::string::npos);
}

}  // namespace
}  // namespace moeprobe
