// Planning a run (before any layer is read): which hypotheses run, on which MoE layer positions,
// through which distinct (metric, params) measurement, and what each layer must compute for them.
// A hypothesis that cannot run on this model is settled here (SKIPPED with its reason).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metrics/metric.h"
#include "suite/result.h"
#include "suite/schema.h"

namespace moeprobe {

// One distinct measurement: the same metric with the same params is measured once per layer even
// when several hypotheses read it.
struct PlannedMeasurement {
  const Metric* metric = nullptr;
  std::shared_ptr<const ParsedParams> params;
  std::vector<Need> needs;  // metric->needs(*params), asked once here
  std::set<int> positions;  // MoE layer positions it is measured on
  int probe = -1;           // the run's probe it reads (index), -1 for a static measurement
};

struct RunPlan {
  int num_moe_layers = 0;
  std::vector<PlannedMeasurement> measurements;
  // Per hypothesis: the index of its measurement and its positions, or its settled result.
  std::vector<int> measurement_of;
  std::vector<std::vector<int>> positions_of;
  std::vector<std::optional<HypothesisResult>> settled;
  std::set<int> positions;  // every position any measurement reads, in streaming order

  // The union of the needs of every measurement made at this position.
  LayerPlan layer_plan(int position) const;
  // The same without the dynamic needs: what is computed once per layer whatever the probe.
  LayerPlan static_layer_plan(int position) const;
  // The needs of the measurements at this position that read probe `probe`.
  LayerPlan probe_layer_plan(int position, int probe) const;
  // How many measurements are made at this position.
  int measurements_at(int position) const;
  // The positions whose layer plan reads probe activations (of probe `probe`; -1: any).
  std::set<int> dynamic_positions(int probe = -1) const;
};

// `layers_option` is --layers (empty: no restriction); throws InputError when it is malformed.
// Without a baseline (`have_baseline` false: no --compare-model), hypotheses whose metric compares
// routings are SKIPPED.
// Without probe activations (`have_activations` false), hypotheses whose metric reads a dynamic
// intermediate are SKIPPED with the reason. `probe_of` (when given) names per hypothesis the
// index of the run's probe it reads, -1 where its probe is unavailable (it is SKIPPED); without
// it every dynamic hypothesis reads probe 0 when `have_activations`.
RunPlan plan_run(const Suite& suite, const IntervalSpec& interval, int num_moe_layers,
                 bool have_reference, const std::string& layers_option,
                 bool have_activations = false, bool have_baseline = false,
                 const std::vector<int>* probe_of = nullptr);

}  // namespace moeprobe
