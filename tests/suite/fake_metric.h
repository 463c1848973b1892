// A stand-in metric for suite tests that do not need a model: it accepts params {matrix: act|up|
// down|all} and nothing else, and measures nothing (evaluation tests build LayerMeasurements by
// hand).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "metrics/metric.h"
#include "util/error.h"

namespace moeprobe::testing {

class FakeMetric : public Metric {
 public:
  explicit FakeMetric(std::string name, bool needs_ref = false)
      : name_(std::move(name)), needs_ref_(needs_ref) {}
  std::string name() const override { return name_; }
  std::string description() const override { return "fake"; }
  std::string analysis() const override { return "A0"; }
  bool needs_reference_model() const override { return needs_ref_; }
  std::shared_ptr<const ParsedParams> parse_params(const nlohmann::json& params,
                                                   const std::string& where) const override {
    for (const auto& [k, v] : params.items()) {
      if (k != "matrix")
        throw InputError(where, "params." + k, "unknown parameter; expected matrix");
      if (!v.is_string() || (v != "act" && v != "up" && v != "down" && v != "all"))
        throw InputError(where, "params.matrix", "expected act, up, down or all");
    }
    return std::make_shared<ParsedParams>();
  }
  std::vector<Need> needs(const ParsedParams&) const override { return {}; }
  LayerMeasurement measure(const LayerStatistics&, const ParsedParams&) const override {
    return {};
  }

 private:
  std::string name_;
  bool needs_ref_;
};

// Lookup over a fixed set of fake metrics named like the real ones.
inline const Metric* fake_lookup(const std::string& name) {
  static const std::map<std::string, std::shared_ptr<FakeMetric>> metrics = [] {
    std::map<std::string, std::shared_ptr<FakeMetric>> m;
    for (const char* n :
         {"expert_weight_similarity", "matrix_agreement", "neuron_order_tau", "neuron_mean_gain",
          "gate_neuron_r2", "gate_neuron_r2_margin", "gate_neuron_r", "pca_dark_cross_match"})
      m[n] = std::make_shared<FakeMetric>(n);
    m["expert_ffn_similarity"] = std::make_shared<FakeMetric>("expert_ffn_similarity", true);
    return m;
  }();
  auto it = metrics.find(name);
  return it == metrics.end() ? nullptr : it->second.get();
}

}  // namespace moeprobe::testing
