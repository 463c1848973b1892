// Metrics: named functions over one MoE layer that produce a per-layer scalar, the data the
// bootstrap needs to resample it, and matrices for the reports. Suites refer to metrics by name.
//
// A layer's bytes are read once: the runner computes every intermediate the suite's metrics declare
// (see LayerPlan) before any metric runs; metrics read them from LayerStatistics.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe {

struct LayerStatistics;  // metrics/layer_statistics.h: the computed intermediates of one layer

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

// The per-layer plan (docs/ARCHITECTURE.md, "Per-layer plan"). A metric declares, from its parsed
// params, the intermediates it reads; the runner unions the declarations of every metric measured
// on a layer into one LayerPlan, computes all of it eagerly (one matrix_set_stats pass per matrix
// kind, the router Gram, the A2 matchings) and then runs the metrics as pure functions of the
// computed LayerStatistics. Reading an intermediate that was not planned is a bug (logic_error,
// exit 3), caught for every registered metric by the test
// Plan.EveryMetricMeasuresFromItsDeclaredNeeds. Dynamic inputs (probe activations, all-experts
// outputs) become new Intermediate kinds here.
enum class MatrixKind { Act = 0, Up = 1, Down = 2 };

enum class Intermediate {
  MatrixStats,       // per kind: Gram, cosines, mean neurons of the experts (+ F when given)
  StandardizedGram,  // per kind: the standardised Gram (PCA); ~35% of the kind's pass
  RouterCosine,      // router-row cosines
  NeuronMatches,     // per kind: A2 matchings of the expert pairs selected by max_pairs
  ReferenceFfn,      // the dense FFN must be an entity of every MatrixStats (bad input if not)
  NeuronPca,         // per kind: A6 neuron-level PCA (metrics/neuron_pca.h), per max_neurons
  // Dynamic (need the probe's activations of the layer, LayerInputs::activations):
  Routing,          // router logits, full softmax, selected experts and weights (RoutingData)
  ExpertOutputs,    // all-experts evaluation: per-token output norms and similarities
                    // (AllExpertsStats); includes the shared block and, when given, F
  ActiveNeurons,    // ExpertOutputs plus per-token counts of |act(W_act x)| > Need::threshold
  ActCorrelation,   // ExpertOutputs plus the per-token mean cross-expert Pearson of act vectors
  BaselineRouting,  // Routing plus the --compare-model baseline's routing of the same probe
};

// True for the intermediates computed from probe activations.
bool is_dynamic(Intermediate what);

struct Need {
  Intermediate what = Intermediate::MatrixStats;
  MatrixKind kind = MatrixKind::Act;  // for the per-kind intermediates
  long long max_pairs = 0;            // NeuronMatches: 0 = every expert pair
  double threshold = 1e-3;            // ActiveNeurons: |act| above this counts as active
  long long max_neurons = 0;          // NeuronPca: neurons per expert, 0 = all
};

// The union of the needs of every metric measured on one layer.
struct LayerPlan {
  bool matrix_stats[3] = {false, false, false};
  bool standardized[3] = {false, false, false};
  bool router = false;
  bool reference = false;
  std::set<long long> match_pair_limits[3];  // per kind, the max_pairs values asked for
  std::set<long long> neuron_pca_limits[3];  // per kind, the max_neurons values asked for
  bool routing = false;                      // RoutingData (also for every all-experts need)
  bool expert_outputs = false;               // the all-experts evaluation
  bool act_correlation = false;
  std::set<double> active_thresholds;
  bool baseline_routing = false;  // router regression (--compare-model)
  bool dynamic() const { return routing || expert_outputs; }
  void add(const Need& n);
  void add(const std::vector<Need>& needs) {
    for (const Need& n : needs) add(n);
  }
};

// A metric's params, parsed and validated once at suite load; each metric defines its own.
struct ParsedParams {
  virtual ~ParsedParams() = default;
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
  virtual std::shared_ptr<const ParsedParams> parse_params(const nlohmann::json& params,
                                                           const std::string& where) const = 0;
  void validate_params(const nlohmann::json& params, const std::string& where) const {
    parse_params(params, where);
  }
  // What measure() reads, for these params. No default: every metric states it.
  virtual std::vector<Need> needs(const ParsedParams& params) const = 0;
  // A pure function of the layer's planned statistics.
  virtual LayerMeasurement measure(const LayerStatistics& stats,
                                   const ParsedParams& params) const = 0;
};

// The registry of built-in metrics (explicitly populated: no static-initialisation tricks, which
// a static library would silently drop).
const Metric* find_metric(const std::string& name);
std::vector<const Metric*> all_metrics();

}  // namespace moeprobe
