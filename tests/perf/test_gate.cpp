// The verdict rules of perf-gate on hand-made samples.
#include <gtest/gtest.h>

#include "perf/gate.h"
#include "perf/gate_report.h"
#include "util/error.h"

namespace moeprobe::perf {
namespace {

BenchmarkSamples samples(const std::string& name, std::vector<double> times,
                         std::vector<double> bytes_per_second = {}) {
  BenchmarkSamples s;
  s.name = name;
  s.real_time_ns = times;
  s.cpu_time_ns = times;
  if (!bytes_per_second.empty()) s.counters["bytes_per_second"] = bytes_per_second;
  return s;
}

std::vector<double> around(double center, double spread, int n = 9) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(center * (1 + spread * ((i * 7) % n - n / 2) / n));
  return v;
}

BenchmarkFile file(std::vector<BenchmarkSamples> b, const std::string& path) {
  BenchmarkFile f;
  f.path = path;
  f.benchmarks = std::move(b);
  return f;
}

const GateRow& row(const GateResult& g, const std::string& bench,
                   const std::string& metric = "real_time") {
  for (const auto& r : g.rows)
    if (r.benchmark == bench && r.metric == metric) return r;
  throw std::runtime_error("no row " + bench + " " + metric);
}

TEST(Gate, Verdicts) {
  Thresholds t;  // alpha 0.05, 5%, dispersion 10%
  t.defaults.higher_is_better = {"bytes_per_second"};
  const auto base = file(
      {samples("slow", around(100, 0.02)), samples("fast", around(100, 0.02)),
       samples("same", around(100, 0.02)), samples("small", around(100, 0.02)),
       samples("noisy", around(100, 0.02)), samples("few", {100, 101, 99}),
       samples("gone", around(100, 0.02)), samples("rate", around(100, 0.02), around(1e9, 0.01))},
      "base.json");
  const auto cur = file({samples("slow", around(120, 0.02)), samples("fast", around(80, 0.02)),
                         samples("same", around(100, 0.02)), samples("small", around(102, 0.005)),
                         samples("noisy", around(130, 0.9)), samples("few", {130, 131, 129}),
                         samples("added", around(100, 0.02)),
                         samples("rate", around(100, 0.02), around(0.8e9, 0.01))},
                        "cur.json");
  const GateResult g = run_gate(base, cur, t);
  EXPECT_EQ(row(g, "slow").verdict, Verdict::Slow);
  EXPECT_NEAR(row(g, "slow").change, 0.2, 1e-9);
  EXPECT_LT(row(g, "slow").p, 1e-3);
  EXPECT_EQ(row(g, "fast").verdict, Verdict::Fast);
  EXPECT_EQ(row(g, "same").verdict, Verdict::Same);
  EXPECT_EQ(row(g, "small").verdict, Verdict::Ambiguous);  // significant, +2% < 5%
  EXPECT_NE(row(g, "small").reason.find("within"), std::string::npos);
  EXPECT_EQ(row(g, "noisy").verdict, Verdict::Ambiguous);
  EXPECT_NE(row(g, "noisy").reason.find("noisy"), std::string::npos);
  EXPECT_EQ(row(g, "few").verdict, Verdict::Ambiguous);
  EXPECT_NE(row(g, "few").reason.find("too few"), std::string::npos);
  EXPECT_EQ(row(g, "gone").verdict, Verdict::Missing);
  EXPECT_EQ(row(g, "added").verdict, Verdict::New);
  EXPECT_EQ(row(g, "rate").verdict, Verdict::Same);
  EXPECT_EQ(row(g, "rate", "bytes_per_second").verdict, Verdict::Slow);  // higher is better
  EXPECT_TRUE(g.regressed());
  EXPECT_FALSE(g.warnings.empty());  // "few" has 3 repetitions
  // Geometric mean over the 7 matched benchmarks' median ratios.
  EXPECT_GT(g.matched, 6u);

  const std::string md = render_gate_markdown(g);
  EXPECT_NE(md.find("| benchmark | metric |"), std::string::npos);
  EXPECT_NE(md.find("❌ SLOW"), std::string::npos);
  EXPECT_NE(md.find("Geometric mean"), std::string::npos);
  EXPECT_NE(render_gate_json(g).find("\"verdict\": \"SLOW\""), std::string::npos);
}

TEST(Gate, MinimumAbsoluteEffect) {
  Thresholds t;
  t.defaults.min_effect_ns = 50;  // +20 ns on a 100 ns benchmark is noise by decree
  const GateResult g = run_gate(file({samples("tiny", around(100, 0.02))}, "a"),
                                file({samples("tiny", around(120, 0.02))}, "b"), t);
  EXPECT_EQ(row(g, "tiny").verdict, Verdict::Ambiguous);
  EXPECT_FALSE(g.regressed());
}

TEST(Gate, GeometricMean) {
  Thresholds t;
  const GateResult g =
      run_gate(file({samples("a", around(100, 0.01)), samples("b", around(100, 0.01))}, "x"),
               file({samples("a", around(200, 0.01)), samples("b", around(50, 0.01))}, "y"), t);
  EXPECT_NEAR(g.geomean_time_ratio, 1.0, 1e-9);
  EXPECT_EQ(g.matched, 2u);
}

TEST(BenchmarkJson, RepetitionsAggregatesErrorsAndUnits) {
  const BenchmarkFile f = parse_benchmark_json(R"({"context": {}, "benchmarks": [
    {"name": "A", "run_name": "A", "run_type": "iteration", "real_time": 1.5, "cpu_time": 1.0,
     "time_unit": "ms", "bytes_per_second": 10, "x_read": 2, "iterations": 7},
    {"name": "A", "run_name": "A", "run_type": "iteration", "real_time": 2.5, "cpu_time": 2.0,
     "time_unit": "ms", "bytes_per_second": 12, "x_read": 3, "iterations": 7},
    {"name": "A_mean", "run_name": "A", "run_type": "aggregate", "aggregate_name": "mean",
     "aggregate_unit": "time", "real_time": 2.0, "cpu_time": 1.5, "time_unit": "ms"},
    {"name": "A_cv", "run_name": "A", "run_type": "aggregate", "aggregate_name": "cv",
     "aggregate_unit": "percentage", "real_time": 0.3, "cpu_time": 0.4, "time_unit": "ms"},
    {"name": "B_median", "run_name": "B", "run_type": "aggregate", "aggregate_name": "median",
     "aggregate_unit": "time", "real_time": 4, "cpu_time": 4, "time_unit": "us"},
    {"name": "C", "run_name": "C", "run_type": "iteration", "error_occurred": true,
     "error_message": "no CUDA device: none"}
  ]})",
                                               "f.json");
  ASSERT_EQ(f.benchmarks.size(), 3u);
  const BenchmarkSamples& a = *f.find("A");
  EXPECT_EQ(a.real_time_ns, (std::vector<double>{1.5e6, 2.5e6}));
  EXPECT_EQ(a.counters.at("x_read"), (std::vector<double>{2, 3}));
  EXPECT_FALSE(a.counters.count("iterations"));
  EXPECT_TRUE(f.find("B")->aggregates_only);
  EXPECT_EQ(f.find("B")->real_time_ns, std::vector<double>{4000});
  EXPECT_EQ(f.find("C")->error, "no CUDA device: none");
  EXPECT_EQ(f.warnings.size(), 1u);
}

void expect_bad(const std::string& text, const std::string& field) {
  try {
    parse_benchmark_json(text, "x.json");
    FAIL() << text;
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "x.json");
    EXPECT_NE(e.field().find(field), std::string::npos) << e.what();
  }
}

TEST(BenchmarkJson, BadInputNamesTheField) {
  expect_bad("{\"benchmarks\": [", "byte");
  expect_bad("[]", "");
  expect_bad("{\"context\": {}}", "benchmarks");
  expect_bad(R"({"benchmarks": [{"name": "A", "cpu_time": 1, "time_unit": "ns"}]})",
             "benchmarks[0].real_time");
  expect_bad(R"({"benchmarks": [{"name": "A", "real_time": 1, "cpu_time": 1, "time_unit": "h"}]})",
             "benchmarks[0].time_unit");
  expect_bad(R"({"benchmarks": [{"real_time": 1}]})", "benchmarks[0].name");
  expect_bad(R"({"benchmarks": [{"name": "A", "run_type": "x"}]})", "benchmarks[0].run_type");
}

}  // namespace
}  // namespace moeprobe::perf
