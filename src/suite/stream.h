// Streaming a run's layers: one MoE layer at a time, its plan's intermediates computed eagerly
// (the layer's bytes read once), then every planned measurement at that position, then the layer
// is dropped. Bad input (a NaN weight) propagates as InputError: the run ends with exit 2.
//
// Measurements must not keep references to the layer in their Resampler: it is gone when the
// bootstrap runs (the model, and so the mmap, stays open until the end).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "suite/plan.h"

namespace moeprobe {

class Backend;
class MoeModel;
class ProbeActivations;
class BaselineRouter;

// Per planned measurement, its LayerMeasurement by MoE layer position.
using Measurements = std::vector<std::map<int, LayerMeasurement>>;

// `probes[q]` holds the activations of every layer a measurement of probe q reads (empty: no
// dynamic measurement is planned). A layer's static intermediates are computed once; each probe
// that reads the layer then adds its dynamic ones. `baseline`: the --compare-model router
// (nullptr: none).
Measurements stream_layers(const RunPlan& plan, const MoeModel& model, const MoeModel* reference,
                           Backend& backend, const std::function<void(const std::string&)>& log,
                           const std::vector<const ProbeActivations*>& probes = {},
                           std::size_t all_experts_block_bytes = 0,
                           const BaselineRouter* baseline = nullptr);

}  // namespace moeprobe
