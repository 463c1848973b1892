// Metric drift between two runs (`moeprobe compare`): per hypothesis and per layer, a value drifts
// when |current - baseline| > abs AND |current - baseline| > rel * |baseline|. Tolerances come from
// each hypothesis (carried in results.json) unless overridden. Outcome changes, added and removed
// hypotheses are reported too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "suite/result.h"

namespace moeprobe {

struct CompareOptions {
  std::optional<double> abs, rel;  // command-line overrides
};

struct DriftRow {
  std::string id;
  int layer = -1;  // -1: the aggregate value
  double baseline = 0, current = 0;
  double abs_tol = 0, rel_tol = 0;
  bool drift = false;
};

struct Comparison {
  std::vector<DriftRow> rows;  // every compared value
  std::vector<std::pair<std::string, std::pair<Outcome, Outcome>>> outcome_changes;
  std::vector<std::string> added, removed;
  int drifted() const;
  // Drift or an outcome change fails a regression check.
  bool failed() const { return drifted() > 0 || !outcome_changes.empty(); }
};

bool drifts(double baseline, double current, double abs_tol, double rel_tol);
Comparison compare_results(const RunResult& baseline, const RunResult& current,
                           const CompareOptions& opt);
std::string render_comparison_markdown(const Comparison& c, const std::string& baseline_label,
                                       const std::string& current_label);

}  // namespace moeprobe
