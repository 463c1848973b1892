#include "suite/stream.h"

#include <algorithm>
#include <optional>
#include <set>

#include "kernels/backend.h"
#include "metrics/layer_statistics.h"
#include "model/moe_model.h"
#include "model/router.h"
#include "model/weight_bytes.h"
#include "probe/activations.h"
#include "suite/baseline_router.h"
#include "util/progress.h"

namespace moeprobe {

Measurements stream_layers(const RunPlan& plan, const MoeModel& model, const MoeModel* reference,
                           Backend& backend, const std::function<void(const std::string&)>& log,
                           const std::vector<const ProbeActivations*>& probes,
                           std::size_t all_experts_block_bytes, const BaselineRouter* baseline) {
  Measurements out(plan.measurements.size());
  const auto& moe_layers = model.config().moe_layers;
  std::optional<RouterRule> rule;
  // Only when some probe is present: a run without one never routes (its dynamic hypotheses are
  // skipped), so a router rule the model cannot support is no error there.
  if (std::any_of(probes.begin(), probes.end(), [](const ProbeActivations* p) { return p; }))
    rule = make_router_rule(model.config().routing, model.config().num_experts,
                            model.checkpoint().config(), model.checkpoint().config_path().string());
  ProgressReporter progress(log, "layers", plan.positions.size());
  // The probes that some measurement reads, in index order.
  std::set<int> used_probes;
  for (const auto& pm : plan.measurements)
    if (pm.probe >= 0) used_probes.insert(pm.probe);
  for (int position : plan.positions) {
    const int decoder_layer = moe_layers[static_cast<std::size_t>(position)];
    const MoeLayer layer = model.layer(decoder_layer);
    std::optional<ExpertWeights> ffn;
    if (reference) ffn = reference->dense_ffn(decoder_layer);
    LayerInputs inputs;
    inputs.layer = &layer;
    inputs.reference_ffn = ffn ? &*ffn : nullptr;
    if (reference) inputs.reference_activation = reference->family().activation;
    LayerStatistics stats =
        compute_layer_statistics(inputs, plan.static_layer_plan(position), backend);
    // No catch: InputError is bad input (exit 2, no report), anything else a bug (exit 3).
    auto measure = [&](int probe) {
      for (std::size_t k = 0; k < plan.measurements.size(); ++k) {
        const PlannedMeasurement& pm = plan.measurements[k];
        if (pm.probe != probe || !pm.positions.count(position)) continue;
        LayerMeasurement m = pm.metric->measure(stats, *pm.params);
        m.layer = decoder_layer;
        out[k][position] = std::move(m);
      }
    };
    measure(-1);
    for (int q : used_probes) {
      const LayerPlan probe_plan = plan.probe_layer_plan(position, q);
      if (!probe_plan.dynamic()) continue;
      const ProbeActivations* probe =
          q < static_cast<int>(probes.size()) ? probes[static_cast<std::size_t>(q)] : nullptr;
      if (!probe) throw std::logic_error("dynamic measurements planned without their probe");
      // This layer's input on probe q, dropped before the next probe's.
      const LayerActivations acts = probe->layer(decoder_layer);
      inputs.activations = &acts;
      inputs.probe = &probe->info();
      if (baseline)
        inputs.baseline_route = [baseline](int l, const TensorView& x, Backend& b) {
          return baseline->route(l, x, b);
        };
      inputs.router_rule = &*rule;
      inputs.all_experts_block_bytes = all_experts_block_bytes;
      compute_dynamic_layer_statistics(inputs, probe_plan, backend, stats);
      measure(q);
      inputs.activations = nullptr;
    }
    progress.step("layer " + std::to_string(decoder_layer), weight_bytes(layer),
                  std::to_string(plan.measurements_at(position)) + " metrics");
  }
  return out;
}

}  // namespace moeprobe
