// A12: routing patterns over the probe (paper App. I, Fig. 14): how evenly the router spreads
// the tokens over the experts (normalised entropy of the selection counts, load balance) and runs
// of consecutive tokens routed to one expert. Selections are the family's top-k (RoutingData).
#include <algorithm>
#include <memory>

#include "metrics/dynamic_metric.h"
#include "metrics/metric_helpers.h"
#include "metrics/token_statistics.h"

namespace moeprobe {

namespace {

DynamicParams parse_plain(const nlohmann::json& p, const std::string& where) {
  check_param_keys(p, where, dynamic_param_keys());
  DynamicParams out;
  parse_dynamic_params(p, where, out);
  return out;
}

// A statistic of the selection counts over the resampled tokens.
class SelectionMetric : public TypedMetric<DynamicParams> {
 public:
  using Statistic = std::function<double(const std::vector<double>& counts, int64_t tokens)>;
  SelectionMetric(std::string name, std::string description, Statistic statistic)
      : TypedMetric(std::move(name), "A12",
                    std::move(description) + " params: exclude_bos, units."),
        statistic_(std::move(statistic)) {}
  DynamicParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_plain(p, where);
  }
  std::vector<Need> needs_of(const DynamicParams&) const override {
    return {{Intermediate::Routing}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const DynamicParams& p) const override {
    const RoutingData& r = routing(ls);
    auto chosen = std::make_shared<const std::vector<int>>(r.selected);
    const int k = r.top_k, experts = r.experts;
    std::vector<int64_t> tokens = metric_tokens(ls, p, name());
    nlohmann::json d;
    d["selection_counts"] = selection_counts(*chosen, k, experts, tokens);
    Statistic s = statistic_;
    return token_measurement(
        ls, p, std::move(tokens),
        [chosen, k, experts, s](const std::vector<int64_t>& t) {
          return s(selection_counts(*chosen, k, experts, t), static_cast<int64_t>(t.size()));
        },
        std::move(d));
  }

 private:
  Statistic statistic_;
};

class LongestRun : public TypedMetric<DynamicParams> {
 public:
  LongestRun()
      : TypedMetric("routing_longest_run", "A12",
                    "Longest run of consecutive tokens of one probe sequence that have one expert "
                    "among their chosen (spec H12b: the fraction of layers with a run >= 5 is an "
                    "aggregate `fraction: \">= 5\"`). A layer-level value (layers are resampled). "
                    "params: exclude_bos.") {}
  DynamicParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_plain(p, where);
  }
  std::vector<Need> needs_of(const DynamicParams&) const override {
    return {{Intermediate::Routing}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const DynamicParams& p) const override {
    const RoutingData& r = routing(ls);
    const std::vector<int64_t> tokens = metric_tokens(ls, p, name());
    LayerMeasurement out;
    out.layer = ls.layer;
    // A left-out BOS leaves a gap in the positions, which breaks runs like a sequence start.
    out.value = longest_expert_run(r.selected, r.top_k, tokens, probe_info(ls).sequence_starts);
    out.detail["probe"] = probe_detail(ls, p, static_cast<int64_t>(tokens.size()));
    out.detail["routing_map"] = routing_map(r, tokens);
    return out;
  }

 private:
  // Fig. 14 of the paper: the combine weight of every expert on the first kMapTokens tokens
  // (rows), 0 where the expert was not chosen. Bounded so results.json stays small for long probes.
  static constexpr std::size_t kMapTokens = 64;  // the paper's routing prompt
  static nlohmann::json routing_map(const RoutingData& r, const std::vector<int64_t>& tokens) {
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < std::min(tokens.size(), kMapTokens); ++i) {
      std::vector<double> row(static_cast<std::size_t>(r.experts), 0.0);
      for (int j = 0; j < r.top_k; ++j) {
        const std::size_t at = static_cast<std::size_t>(tokens[i] * r.top_k + j);
        row[static_cast<std::size_t>(r.selected[at])] = r.weights[at];
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }
};

}  // namespace

void add_routing_pattern_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<SelectionMetric>(
      "routing_entropy",
      "Normalised entropy (H / log E) of how often each expert is among the chosen over the "
      "probe's tokens (spec H12a: even routing >= 0.85).",
      [](const std::vector<double>& c, int64_t) { return normalized_entropy(c); }));
  out.push_back(std::make_unique<SelectionMetric>(
      "load_balance_cv",
      "Coefficient of variation (population sd / mean) of the experts' selection counts over "
      "the probe.",
      [](const std::vector<double>& c, int64_t) { return load_balance(c).cv; }));
  out.push_back(std::make_unique<SelectionMetric>(
      "load_balance_max_violation",
      "Largest expert selection count / mean count - 1 over the probe (0 = perfectly balanced).",
      [](const std::vector<double>& c, int64_t) { return load_balance(c).max_violation; }));
  out.push_back(
      std::make_unique<SelectionMetric>("dead_experts", "Number of experts no probe token chose.",
                                        [](const std::vector<double>& c, int64_t) {
                                          return static_cast<double>(load_balance(c).dead);
                                        }));
  out.push_back(std::make_unique<SelectionMetric>(
      "top_expert_share",
      "Fraction of the probe's tokens that chose the most frequently chosen expert (spec H12d: "
      "one expert selected by most tokens).",
      [](const std::vector<double>& c, int64_t tokens) {
        double top = 0.0;
        for (double x : c) top = std::max(top, x);
        return tokens > 0 ? top / static_cast<double>(tokens) : nan_value();
      }));
  out.push_back(std::make_unique<LongestRun>());
}

}  // namespace moeprobe
