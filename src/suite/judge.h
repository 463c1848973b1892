// Judging a run: every hypothesis's result, from its settled plan outcome or from the measurements
// of its selected layers (evaluate_hypothesis: aggregate, bootstrap interval, outcome).
#pragma once

#include <vector>

#include "suite/result.h"
#include "suite/stream.h"

namespace moeprobe {

std::vector<HypothesisResult> judge_hypotheses(const Suite& suite, const IntervalSpec& interval,
                                               const RunPlan& plan,
                                               const Measurements& measurements);

}  // namespace moeprobe
