// The perf gate: per benchmark (and per gated counter), baseline vs current repetitions, a
// Mann-Whitney U test on them and a verdict against the thresholds.
#pragma once

#include <string>
#include <vector>

#include "perf/benchmark_json.h"
#include "perf/thresholds.h"

namespace moeprobe::perf {

enum class Verdict { Fast, Slow, Same, Ambiguous, New, Missing };
const char* verdict_name(Verdict v);

// Fewer repetitions than this draw a warning (the test has little power below).
constexpr std::size_t kRecommendedRepetitions = 9;

struct GateRow {
  std::string benchmark;
  std::string metric;  // "real_time", "cpu_time" or a counter name
  bool higher_is_better = false;
  std::size_t n_baseline = 0, n_current = 0;
  double median_baseline = 0, median_current = 0;  // ns for times, the counter's unit otherwise
  double change = 0;                               // median_current / median_baseline - 1
  double p = 1;
  bool exact = false;
  double cv_baseline = 0, cv_current = 0;  // robust_dispersion of each sample
  double threshold = 0;
  Verdict verdict = Verdict::Same;
  std::string reason;  // why, for AMBIGUOUS, NEW and MISSING (and the threshold for FAST/SLOW)
};

struct GateResult {
  std::string baseline, current;
  double alpha = 0.05;
  std::vector<GateRow> rows;
  std::vector<std::string> warnings;
  // Geometric mean over matched benchmarks of current/baseline median time (1 = unchanged).
  double geomean_time_ratio = 1;
  std::size_t matched = 0;
  std::size_t count(Verdict v) const;
  bool regressed() const { return count(Verdict::Slow) > 0; }
};

GateResult run_gate(const BenchmarkFile& baseline, const BenchmarkFile& current,
                    const Thresholds& thresholds);

double median(std::vector<double> v);
// 1.4826 x median absolute deviation / |median|: the coefficient of variation of a normal sample,
// but not inflated by the one outlier repetition a shared runner produces.
double robust_dispersion(const std::vector<double>& v);

}  // namespace moeprobe::perf
