// Router regression (issue 9 item 5, spec H12c): the same probe routed by two checkpoints, the
// candidate (--model) and the baseline (--compare-model). Per layer: how often the top-1 expert
// agrees, the mean Jaccard index of the chosen top-k sets, and the change (candidate - baseline)
// in routing entropy and load balance. Resampled over the probe's tokens (or sequences), the two
// routings of a token staying paired.
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

struct RoutingPair {
  std::shared_ptr<const std::vector<int>> candidate, baseline;
  int k = 0, experts = 0;
};

class ComparisonMetric : public TypedMetric<DynamicParams> {
 public:
  using Statistic = std::function<double(const RoutingPair&, const std::vector<int64_t>&)>;
  ComparisonMetric(std::string name, std::string description, Statistic statistic)
      : TypedMetric(std::move(name), "A12/regression",
                    std::move(description) +
                        " Needs --compare-model (SKIPPED without it). params: exclude_bos, units."),
        statistic_(std::move(statistic)) {}
  DynamicParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_plain(p, where);
  }
  std::vector<Need> needs_of(const DynamicParams&) const override {
    return {{Intermediate::Routing}, {Intermediate::BaselineRouting}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls, const DynamicParams& p) const override {
    const RoutingData& c = routing(ls);
    const RoutingData& b = baseline_routing(ls);
    RoutingPair pair;
    pair.candidate = std::make_shared<const std::vector<int>>(c.selected);
    pair.baseline = std::make_shared<const std::vector<int>>(b.selected);
    pair.k = c.top_k;
    pair.experts = c.experts;
    std::vector<int64_t> tokens = metric_tokens(ls, p, name());
    nlohmann::json d;
    d["candidate_selection_counts"] = selection_counts(c.selected, c.top_k, c.experts, tokens);
    d["baseline_selection_counts"] = selection_counts(b.selected, b.top_k, b.experts, tokens);
    Statistic s = statistic_;
    return token_measurement(
        ls, p, std::move(tokens), [pair, s](const std::vector<int64_t>& t) { return s(pair, t); },
        std::move(d));
  }

 private:
  Statistic statistic_;
};

double mean_of(const std::vector<int64_t>& tokens, const std::function<double(int64_t)>& f) {
  if (tokens.empty()) return nan_value();
  double s = 0.0;
  for (int64_t t : tokens) s += f(t);
  return s / static_cast<double>(tokens.size());
}

std::vector<double> counts_of(const RoutingPair& r, bool candidate, const std::vector<int64_t>& t) {
  return selection_counts(candidate ? *r.candidate : *r.baseline, r.k, r.experts, t);
}

}  // namespace

void add_routing_comparison_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<ComparisonMetric>(
      "routing_top1_agreement",
      "Fraction of the probe's tokens whose top-1 expert is the same under the candidate and "
      "the baseline router (spec H12c: Mixtral Base vs Instruct >= 0.7).",
      [](const RoutingPair& r, const std::vector<int64_t>& t) {
        return mean_of(t, [&](int64_t i) {
          return top1_agreement(r.candidate->data() + i * r.k, r.baseline->data() + i * r.k);
        });
      }));
  out.push_back(std::make_unique<ComparisonMetric>(
      "routing_topk_jaccard",
      "Mean over the probe's tokens of the Jaccard index |A n B| / |A u B| of the candidate's "
      "and the baseline's chosen top-k sets (spec H12c: >= 0.6).",
      [](const RoutingPair& r, const std::vector<int64_t>& t) {
        return mean_of(t, [&](int64_t i) {
          return topk_jaccard(r.candidate->data() + i * r.k, r.baseline->data() + i * r.k, r.k);
        });
      }));
  out.push_back(std::make_unique<ComparisonMetric>(
      "routing_entropy_change",
      "Normalised selection entropy of the candidate minus the baseline's, over the probe.",
      [](const RoutingPair& r, const std::vector<int64_t>& t) {
        return normalized_entropy(counts_of(r, true, t)) -
               normalized_entropy(counts_of(r, false, t));
      }));
  out.push_back(std::make_unique<ComparisonMetric>(
      "load_balance_cv_change",
      "Coefficient of variation of the experts' selection counts, candidate minus baseline.",
      [](const RoutingPair& r, const std::vector<int64_t>& t) {
        return load_balance(counts_of(r, true, t)).cv - load_balance(counts_of(r, false, t)).cv;
      }));
  out.push_back(std::make_unique<ComparisonMetric>(
      "load_balance_max_violation_change",
      "Max count / mean count - 1 of the experts' selections, candidate minus baseline.",
      [](const RoutingPair& r, const std::vector<int64_t>& t) {
        return load_balance(counts_of(r, true, t)).max_violation -
               load_balance(counts_of(r, false, t)).max_violation;
      }));
}

}  // namespace moeprobe
