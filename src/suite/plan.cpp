#include "suite/plan.h"

#include <algorithm>
#include <map>

#include "suite/evaluate.h"
#include "util/error.h"

namespace moeprobe {

LayerPlan RunPlan::layer_plan(int position) const {
  LayerPlan plan;
  for (const auto& m : measurements)
    if (m.positions.count(position)) plan.add(m.needs);
  return plan;
}

LayerPlan RunPlan::static_layer_plan(int position) const {
  LayerPlan plan;
  for (const auto& m : measurements)
    if (m.positions.count(position))
      for (const Need& n : m.needs)
        if (!is_dynamic(n.what)) plan.add(n);
  return plan;
}

LayerPlan RunPlan::probe_layer_plan(int position, int probe) const {
  LayerPlan plan;
  for (const auto& m : measurements)
    if (m.probe == probe && m.positions.count(position)) plan.add(m.needs);
  return plan;
}

int RunPlan::measurements_at(int position) const {
  int k = 0;
  for (const auto& m : measurements) k += m.positions.count(position) ? 1 : 0;
  return k;
}

std::set<int> RunPlan::dynamic_positions(int probe) const {
  std::set<int> out;
  for (const auto& m : measurements)
    if (m.probe >= 0 && (probe < 0 || m.probe == probe))
      out.insert(m.positions.begin(), m.positions.end());
  return out;
}

RunPlan plan_run(const Suite& suite, const IntervalSpec& interval, int n, bool have_reference,
                 const std::string& layers_option, bool have_activations, bool have_baseline,
                 const std::vector<int>* probe_of) {
  std::vector<int> restrict_to;
  const bool restricted = !layers_option.empty();
  if (restricted) {
    std::string err;
    auto sel = parse_layer_selector(layers_option, &err);
    if (!sel) throw InputError("--layers", layers_option, err);
    restrict_to = sel->resolve(n, &err);
    if (!err.empty()) throw InputError("--layers", layers_option, err);
  }

  RunPlan plan;
  plan.num_moe_layers = n;
  const std::size_t count = suite.hypotheses.size();
  plan.measurement_of.assign(count, -1);
  plan.positions_of.resize(count);
  plan.settled.resize(count);
  std::map<std::string, int> index;  // "metric params-json" -> measurement
  for (std::size_t i = 0; i < count; ++i) {
    const Hypothesis& h = suite.hypotheses[i];
    auto skip = [&](const std::string& why) {
      plan.settled[i] = unmeasured_result(h, interval, Outcome::Skipped, why);
    };
    // load_suite sets both; a Suite built in code gets them here. Unknown names are bad input.
    const Metric* metric = h.metric_impl ? h.metric_impl : find_metric(h.metric);
    if (!metric)
      throw InputError(suite.path.string(), "hypotheses." + h.id + ".metric",
                       "unknown metric \"" + h.metric + "\"");
    std::shared_ptr<const ParsedParams> params =
        h.parsed ? h.parsed : metric->parse_params(h.params, suite.path.string());
    if ((h.requires_reference_model || metric->needs_reference_model()) && !have_reference) {
      skip("needs --reference-model (a dense reference model)");
      continue;
    }
    std::vector<Need> needs = metric->needs(*params);
    const bool dynamic =
        std::any_of(needs.begin(), needs.end(), [](const Need& d) { return is_dynamic(d.what); });
    const int probe = !dynamic ? -1 : probe_of ? probe_of->at(i) : have_activations ? 0 : -1;
    if (dynamic && probe < 0) {
      skip("needs probe activations (--activations FILE|synthetic, or the suite's probe)");
      continue;
    }
    if (!have_baseline && std::any_of(needs.begin(), needs.end(), [](const Need& d) {
          return d.what == Intermediate::BaselineRouting;
        })) {
      skip("needs --compare-model (a baseline checkpoint to compare the routing with)");
      continue;
    }
    std::string err;
    std::vector<int> pos = h.layers.resolve(n, &err);
    if (!err.empty()) {
      skip("not applicable: layers \"" + h.layers.text + "\": " + err);
      continue;
    }
    if (restricted) {
      std::vector<int> kept;
      for (int p : pos)
        if (std::find(restrict_to.begin(), restrict_to.end(), p) != restrict_to.end())
          kept.push_back(p);
      pos = kept;
    }
    if (pos.empty()) {
      skip("not applicable: no MoE layer selected by \"" + h.layers.text + "\"" +
           (restricted ? " within --layers " + layers_option : ""));
      continue;
    }
    const std::string key = h.metric + " " + h.params.dump() + " " + std::to_string(probe);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, static_cast<int>(plan.measurements.size())).first;
      plan.measurements.push_back({metric, params, std::move(needs), {}, probe});
    }
    PlannedMeasurement& m = plan.measurements[static_cast<std::size_t>(it->second)];
    m.positions.insert(pos.begin(), pos.end());
    plan.positions.insert(pos.begin(), pos.end());
    plan.measurement_of[i] = it->second;
    plan.positions_of[i] = std::move(pos);
  }
  return plan;
}

}  // namespace moeprobe
