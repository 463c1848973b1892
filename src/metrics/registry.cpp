// The built-in metrics, registered explicitly (see metric.h for why not self-registration).
#include <map>
#include <memory>
#include <vector>

#include "metrics/dynamic_metric.h"
#include "metrics/metric.h"
#include "metrics/metric_helpers.h"

namespace moeprobe {

namespace {

struct Registry {
  std::vector<std::unique_ptr<Metric>> metrics;
  std::map<std::string, const Metric*> by_name;
  Registry() {
    add_expert_weight_similarity_metrics(metrics);  // A1
    add_neuron_matching_metrics(metrics);           // A2
    add_neuron_mean_similarity_metrics(metrics);    // A3
    add_gate_neuron_association_metrics(metrics);   // A4
    add_pca_outlier_metrics(metrics);               // A5
    add_neuron_pca_metrics(metrics);                // A6
    add_expert_output_similarity_metrics(metrics);  // A7, A8
    add_norm_routing_metrics(metrics);              // A9, A10
    add_activation_pattern_metrics(metrics);        // A11
    add_routing_pattern_metrics(metrics);           // A12
    add_routing_comparison_metrics(metrics);        // router regression
    for (const auto& m : metrics) by_name.emplace(m->name(), m.get());
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

}  // namespace

const Metric* find_metric(const std::string& name) {
  const auto& r = registry();
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

std::vector<const Metric*> all_metrics() {
  std::vector<const Metric*> out;
  for (const auto& m : registry().metrics) out.push_back(m.get());
  return out;
}

}  // namespace moeprobe
