// Judging one hypothesis from its per-layer measurements: aggregate, bootstrap interval, outcome.
#pragma once

#include <vector>

#include "metrics/metric.h"
#include "suite/result.h"
#include "suite/schema.h"

namespace moeprobe {

struct PositionedMeasurement {
  int position = 0;  // among the MoE layers
  LayerMeasurement m;
};

// Evaluates a hypothesis on measurements of the selected layers of a model with `num_layers` MoE
// layers. Bootstrap: each resample redraws every layer's units (LayerMeasurement::resampler), or
// the layers themselves when no layer has a resampler or interval.over is layers; the percentile
// interval of the aggregated resamples at interval.level decides the outcome. Deterministic for a
// given interval.seed and hypothesis id. Never throws for bad values: they give ERROR.
HypothesisResult evaluate_hypothesis(const Hypothesis& h, const IntervalSpec& interval,
                                     const std::vector<PositionedMeasurement>& measurements,
                                     int num_layers);

// The result of a hypothesis that was not measured (ERROR with why, or SKIPPED).
HypothesisResult unmeasured_result(const Hypothesis& h, const IntervalSpec& interval,
                                   Outcome outcome, const std::string& reason);

}  // namespace moeprobe
