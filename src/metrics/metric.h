// Metrics: named functions over one MoE layer that produce a per-layer scalar, the data the
// bootstrap needs to resample it, and matrices for the reports. Suites refer to metrics by name.
//
// A layer's bytes are read once: metrics ask LayerContext for shared intermediate results (Gram
// matrices of flattened experts, mean neurons, router Gram, ...) which are computed on first use
// by the backend and cached for the other metrics of the same layer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/moe_layer.h"

namespace moeprobe {

class Backend;
class MoeModel;
struct LayerStatistics;  // defined by the metrics/kernels implementation (cached per layer)

// What a per-layer value is computed from, so the bootstrap can resample it: n_units units
// (expert pairs, experts, tokens) and the statistic recomputed on a resample of their indices.
struct Resampler {
  int n_units = 0;
  std::function<double(const std::vector<int>& idx)> statistic;
  bool empty() const { return n_units == 0 || !statistic; }
};

struct LayerMeasurement {
  int layer = 0;        // decoder layer index
  double value = 0.0;   // NaN when the layer does not apply (e.g. no dark cross)
  Resampler resampler;  // empty: the layer value is fixed, resample over layers instead
  nlohmann::json detail = nlohmann::json::object();  // matrices/vectors for reports
};

// The optional, costly per-layer intermediates a metric uses, by matrix kind (act, up, down), so a
// layer's one pass per kind computes only what the suite's metrics read. Gram matrices and mean
// neurons are always computed: they are cheap next to the standardised Gram.
struct StatNeeds {
  bool standardized[3] = {true, true, true};  // standardised Gram (PCA), per kind

  static StatNeeds none() {
    StatNeeds n;
    for (bool& b : n.standardized) b = false;
    return n;
  }
  StatNeeds& operator|=(const StatNeeds& o) {
    for (int k = 0; k < 3; ++k) standardized[k] = standardized[k] || o.standardized[k];
    return *this;
  }
};

struct LayerContext {
  const MoeModel* model = nullptr;
  const MoeLayer* layer = nullptr;
  int position = 0;        // index of this layer among the model's MoE layers (0-based)
  int num_moe_layers = 0;  // how many MoE layers the model has
  const ExpertWeights* reference_ffn = nullptr;  // dense FFN "F" of the same layer, if given
  Backend* backend = nullptr;
  std::shared_ptr<LayerStatistics> cache;  // filled lazily by the metrics implementation
  // Union of the needs of every metric measured on this layer; the default (everything) suits
  // callers that do not know in advance which metrics will share the cache.
  StatNeeds needs;
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Which paper analysis it implements ("A1" ...), for reports.
  virtual std::string analysis() const = 0;
  // True when the metric cannot be computed without a dense reference model (--reference-model).
  virtual bool needs_reference_model() const { return false; }
  // Throws InputError(where, "params.<key>", what was expected) on a bad parameter.
  virtual void validate_params(const nlohmann::json& params, const std::string& where) const = 0;
  // What measure() reads from the shared layer statistics, for params already validated.
  // Conservative default: everything.
  virtual StatNeeds needs(const nlohmann::json& /*params*/) const { return {}; }
  virtual LayerMeasurement measure(LayerContext& ctx, const nlohmann::json& params) const = 0;
};

// The registry of built-in metrics (explicitly populated: no static-initialisation tricks, which
// a static library would silently drop).
const Metric* find_metric(const std::string& name);
std::vector<const Metric*> all_metrics();

}  // namespace moeprobe
