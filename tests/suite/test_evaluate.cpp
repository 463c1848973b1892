#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "suite/evaluate.h"

namespace moeprobe {
namespace {

Hypothesis hyp(const std::string& expect, Severity sev = Severity::Fail) {
  Hypothesis h;
  h.id = "h";
  h.metric = "fake";
  h.expect = *parse_threshold(expect);
  h.severity = sev;
  return h;
}

// A layer whose value is the mean of `units`, resampled over them.
PositionedMeasurement mean_layer(int position, std::vector<double> units) {
  PositionedMeasurement pm;
  pm.position = position;
  pm.m.layer = position;
  double s = 0;
  for (double u : units) s += u;
  pm.m.value = s / static_cast<double>(units.size());
  pm.m.resampler.n_units = static_cast<int>(units.size());
  pm.m.resampler.statistic = [units](const std::vector<int>& idx) {
    double t = 0;
    for (int i : idx) t += units[static_cast<std::size_t>(i)];
    return t / static_cast<double>(idx.size());
  };
  return pm;
}

PositionedMeasurement fixed_layer(int position, double v) {
  PositionedMeasurement pm;
  pm.position = position;
  pm.m.layer = position;
  pm.m.value = v;
  return pm;
}

std::vector<double> normal_samples(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Evaluate, BootstrapIsDeterministic) {
  IntervalSpec iv;
  iv.resamples = 300;
  const auto units = normal_samples(50, 1);
  const auto a = evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, units)}, 1);
  const auto b = evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, units)}, 1);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  iv.seed = 2;
  const auto c = evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, units)}, 1);
  EXPECT_NE(a.lo, c.lo);
}

TEST(Evaluate, BootstrapIntervalCoversZeroAndShrinksWithN) {
  IntervalSpec iv;
  iv.resamples = 1000;
  double prev_width = 1e9;
  for (int n : {25, 100, 400, 1600}) {
    const auto r =
        evaluate_hypothesis(hyp("in [-1, 1]"), iv, {mean_layer(0, normal_samples(n, 11))}, 1);
    EXPECT_LE(r.lo, 0.0) << n;
    EXPECT_GE(r.hi, 0.0) << n;
    EXPECT_LE(r.lo, r.value);
    EXPECT_GE(r.hi, r.value);
    const double width = r.hi - r.lo;
    // The 95% interval of a mean of n N(0,1) samples is about 2 * 1.96 / sqrt(n) wide.
    EXPECT_NEAR(width, 3.92 / std::sqrt(n), 0.35 * 3.92 / std::sqrt(n)) << n;
    EXPECT_LT(width, prev_width);
    prev_width = width;
  }
}

TEST(Evaluate, CoverageOfTheMeanIsNearTheLevel) {
  IntervalSpec iv;
  iv.resamples = 400;
  iv.level = 0.9;
  int covered = 0;
  const int trials = 100;
  for (int t = 0; t < trials; ++t) {
    iv.seed = static_cast<uint64_t>(t);
    const auto r =
        evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, normal_samples(60, 1000 + t))}, 1);
    covered += (r.lo <= 0.0 && r.hi >= 0.0) ? 1 : 0;
  }
  EXPECT_GE(covered, 78);  // nominal 90; binomial sd 3
  EXPECT_LE(covered, 98);
}

TEST(Evaluate, Outcomes) {
  IntervalSpec iv;
  iv.resamples = 200;
  // Around 0.5 with a small spread.
  std::vector<double> units;
  for (int i = 0; i < 100; ++i) units.push_back(0.5 + 0.01 * ((i % 7) - 3));
  EXPECT_EQ(evaluate_hypothesis(hyp(">= 0.1"), iv, {mean_layer(0, units)}, 1).outcome,
            Outcome::Pass);
  const auto fail = evaluate_hypothesis(hyp("<= 0.1"), iv, {mean_layer(0, units)}, 1);
  EXPECT_EQ(fail.outcome, Outcome::Fail);
  EXPECT_NE(fail.reason.find("misses"), std::string::npos);
  EXPECT_EQ(
      evaluate_hypothesis(hyp("<= 0.1", Severity::Warn), iv, {mean_layer(0, units)}, 1).outcome,
      Outcome::Warn);
  EXPECT_EQ(evaluate_hypothesis(hyp("in [0.4, 0.6]"), iv, {mean_layer(0, units)}, 1).outcome,
            Outcome::Pass);
  EXPECT_EQ(evaluate_hypothesis(hyp("in [0.6, 0.7]"), iv, {mean_layer(0, units)}, 1).outcome,
            Outcome::Fail);
  // The threshold sits inside the interval: inconclusive.
  std::vector<double> wide;
  for (int i = 0; i < 30; ++i) wide.push_back(i % 2 ? 1.0 : -1.0);
  const auto inc = evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, wide)}, 1);
  EXPECT_EQ(inc.outcome, Outcome::Inconclusive) << inc.lo << " " << inc.hi;
  EXPECT_NE(inc.reason.find("straddles"), std::string::npos);
}

TEST(Evaluate, NoIntervalUsesThePointValue) {
  IntervalSpec iv;
  iv.method = IntervalSpec::Method::None;
  const auto r =
      evaluate_hypothesis(hyp("> 0.2"), iv, {fixed_layer(0, 0.3), fixed_layer(1, 0.2)}, 2);
  EXPECT_EQ(r.outcome, Outcome::Pass);
  EXPECT_DOUBLE_EQ(r.value, 0.25);
  EXPECT_DOUBLE_EQ(r.lo, 0.25);
  EXPECT_DOUBLE_EQ(r.hi, 0.25);
  ASSERT_EQ(r.per_layer.size(), 2u);
  EXPECT_EQ(r.resamples, 0);
}

TEST(Evaluate, ResamplesLayersWithoutResamplers) {
  IntervalSpec iv;
  iv.resamples = 500;
  std::vector<PositionedMeasurement> ms;
  for (int i = 0; i < 8; ++i) ms.push_back(fixed_layer(i, 0.1 * i));
  const auto r = evaluate_hypothesis(hyp(">= 0"), iv, ms, 8);
  EXPECT_EQ(r.interval_over, "layers");
  EXPECT_LT(r.lo, r.value);
  EXPECT_GT(r.hi, r.value);
  EXPECT_GE(r.lo, 0.0);
  EXPECT_LE(r.hi, 0.7);
  // over: layers also wins when resamplers exist.
  iv.over = IntervalSpec::Over::Layers;
  const auto u =
      evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, {1, 2, 3}), mean_layer(1, {4, 5, 6})}, 2);
  EXPECT_EQ(u.interval_over, "layers");
  EXPECT_DOUBLE_EQ(u.lo, 2.0);
  EXPECT_DOUBLE_EQ(u.hi, 5.0);
}

TEST(Evaluate, MixedLayersKeepFixedValues) {
  IntervalSpec iv;
  iv.resamples = 200;
  // Layer 1 has no resampler: its value stays; the interval comes from layer 0's units only.
  const auto r =
      evaluate_hypothesis(hyp(">= 0"), iv, {mean_layer(0, {0, 1}), fixed_layer(1, 10)}, 2);
  EXPECT_EQ(r.interval_over, "units");
  EXPECT_DOUBLE_EQ(r.lo, 5.0);
  EXPECT_DOUBLE_EQ(r.hi, 5.5);
}

TEST(Evaluate, ErrorsAreExplained) {
  IntervalSpec iv;
  iv.resamples = 50;
  const double nan = std::nan("");
  const auto r =
      evaluate_hypothesis(hyp(">= 0"), iv, {fixed_layer(0, nan), fixed_layer(1, nan)}, 2);
  EXPECT_EQ(r.outcome, Outcome::Skipped);  // the metric applies to no layer
  EXPECT_NE(r.reason.find("not applicable"), std::string::npos);
  // A band aggregate with no layer in its band cannot be computed.
  Hypothesis band = hyp(">= 0");
  band.aggregate.kind = Aggregate::Kind::BandMean;
  band.aggregate.band.kind = Band::Kind::Positions;
  band.aggregate.band.from = 5;
  band.aggregate.band.to = 6;
  const auto b = evaluate_hypothesis(band, iv, {fixed_layer(0, 0.1), fixed_layer(1, 0.2)}, 8);
  EXPECT_EQ(b.outcome, Outcome::Error);
  EXPECT_NE(b.reason.find("band"), std::string::npos);
  EXPECT_EQ(evaluate_hypothesis(hyp(">= 0"), iv, {}, 2).outcome, Outcome::Error);
  PositionedMeasurement bad = mean_layer(0, {1, 2});
  bad.m.resampler.statistic = [](const std::vector<int>&) -> double {
    throw std::runtime_error("boom");
  };
  const auto t = evaluate_hypothesis(hyp(">= 0"), iv, {bad}, 1);
  EXPECT_EQ(t.outcome, Outcome::Error);
  EXPECT_NE(t.reason.find("boom"), std::string::npos);
  // Layers where the metric does not apply (NaN) are left out of the mean.
  iv.method = IntervalSpec::Method::None;
  EXPECT_DOUBLE_EQ(
      evaluate_hypothesis(hyp(">= 0"), iv, {fixed_layer(0, nan), fixed_layer(1, 0.4)}, 2).value,
      0.4);
}

TEST(Evaluate, SkippedAndExitCodes) {
  IntervalSpec iv;
  RunResult run;
  run.hypotheses.push_back(
      unmeasured_result(hyp(">= 0"), iv, Outcome::Skipped, "needs --reference-model"));
  EXPECT_EQ(run_exit_code(run, true), 0);
  HypothesisResult inc;
  inc.outcome = Outcome::Inconclusive;
  run.hypotheses.push_back(inc);
  EXPECT_EQ(run_exit_code(run, false), 0);
  EXPECT_EQ(run_exit_code(run, true), 1);
  HypothesisResult warn;
  warn.outcome = Outcome::Warn;
  run.hypotheses = {warn};
  EXPECT_EQ(run_exit_code(run, true), 0);
  HypothesisResult err;
  err.outcome = Outcome::Error;
  run.hypotheses.push_back(err);
  EXPECT_EQ(run_exit_code(run, false), 1);
}

}  // namespace
}  // namespace moeprobe
