#include "model/router.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace moeprobe {
namespace {

// Indices of the k largest values, descending; equal values keep the lower index first.
template <class T>
void top_k_indices(const T* values, int n, int k, int* out) {
  int order[256];
  std::vector<int> big;
  int* idx = order;
  if (n > 256) {
    big.resize(static_cast<std::size_t>(n));
    idx = big.data();
  }
  std::iota(idx, idx + n, 0);
  std::partial_sort(idx, idx + k, idx + n, [values](int a, int b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  std::copy(idx, idx + k, out);
}

}  // namespace

RouterRule make_router_rule(const RoutingConvention& convention, int num_experts,
                            const nlohmann::json& config, const std::string& config_path) {
  RouterRule rule;
  rule.convention = convention;
  rule.num_experts = num_experts;
  const int k = convention.top_k;
  if (k < 1 || k > kMaxTopK || k > num_experts)
    throw InputError(config_path, "num_experts_per_tok",
                     "expected 1..min(" + std::to_string(num_experts) + ", " +
                         std::to_string(kMaxTopK) + "), got " + std::to_string(k));
  std::string method;
  if (config.is_object() && config.contains("topk_method") && config["topk_method"].is_string())
    method = config["topk_method"].get<std::string>();
  // Without topk_method, HF's defaults: noaux_tc for V3 (the family with a selection bias),
  // greedy otherwise.
  if (method.empty()) method = convention.selection_bias ? "noaux_tc" : "greedy";
  // Top-k on the logits then softmax over the k (Mixtral) selects the same experts as softmax
  // then top-k, and its weights are the renormalised ones.
  if (!convention.softmax_before_topk) rule.convention.renormalize = true;
  if (method == "greedy") {
    // Plain top-k: HF ignores n_group/topk_group under "greedy".
    rule.convention.n_group = rule.convention.topk_group = 1;
  } else if (method == "group_limited_greedy") {
    rule.group_score = GroupScore::Max;
  } else if (method == "noaux_tc") {
    rule.group_score = GroupScore::SumTop2;
  } else {
    throw InputError(config_path, "topk_method",
                     "expected greedy, group_limited_greedy or noaux_tc, got \"" + method + "\"");
  }
  const int groups = std::max(1, rule.convention.n_group);
  rule.convention.n_group = groups;
  if (num_experts % groups != 0)
    throw InputError(config_path, "n_group",
                     std::to_string(num_experts) + " experts do not split into " +
                         std::to_string(groups) + " groups");
  if (groups > 1) {
    const int per_group = num_experts / groups;
    if (rule.convention.topk_group < 1 || rule.convention.topk_group > groups)
      throw InputError(config_path, "topk_group",
                       "expected 1.." + std::to_string(groups) + ", got " +
                           std::to_string(rule.convention.topk_group));
    if (rule.group_score == GroupScore::SumTop2 && per_group < 2)
      throw InputError(config_path, "n_group",
                       "groups of one expert cannot be scored by their top two");
    if (rule.convention.topk_group * per_group < k)
      throw InputError(config_path, "topk_group",
                       "the eligible groups hold fewer than num_experts_per_tok experts");
  }
  return rule;
}

template <class T>
void route_token(const RouterRule& rule, const T* logits, const T* bias, int* experts, T* weights) {
  const RoutingConvention& rc = rule.convention;
  const int n = rule.num_experts;
  const int k = rc.top_k;
  std::vector<T> scores(static_cast<std::size_t>(n));
  if (rc.scoring == Scoring::Sigmoid) {
    for (int e = 0; e < n; ++e) scores[e] = T(1) / (T(1) + std::exp(-logits[e]));
  } else {
    const T mx = *std::max_element(logits, logits + n);
    T sum = 0;
    for (int e = 0; e < n; ++e) sum += scores[e] = std::exp(logits[e] - mx);
    for (int e = 0; e < n; ++e) scores[e] /= sum;
  }
  // Selection uses the biased score (V3); the weights below use the unbiased one.
  std::vector<T> choice(scores);
  if (rc.selection_bias && bias)
    for (int e = 0; e < n; ++e) choice[e] += bias[e];

  if (rc.n_group > 1) {
    const int groups = rc.n_group, per = n / groups;
    std::vector<T> group_scores(static_cast<std::size_t>(groups));
    for (int g = 0; g < groups; ++g) {
      const T* c = choice.data() + g * per;
      if (rule.group_score == GroupScore::Max) {
        group_scores[g] = *std::max_element(c, c + per);
      } else {
        int best[2];
        top_k_indices(c, per, 2, best);
        group_scores[g] = c[best[0]] + c[best[1]];
      }
    }
    std::vector<int> keep(static_cast<std::size_t>(rc.topk_group));
    top_k_indices(group_scores.data(), groups, rc.topk_group, keep.data());
    std::vector<bool> eligible(static_cast<std::size_t>(groups), false);
    for (int g : keep) eligible[g] = true;
    // HF masks the other groups' experts with 0 (not -inf); kept as is to select what HF selects.
    for (int g = 0; g < groups; ++g)
      if (!eligible[g]) std::fill(choice.begin() + g * per, choice.begin() + (g + 1) * per, T(0));
  }
  top_k_indices(choice.data(), n, k, experts);

  T sum = 0;
  for (int i = 0; i < k; ++i) sum += weights[i] = scores[experts[i]];
  if (rc.renormalize) {
    // Sigmoid scores (V3) add HF's 1e-20 guard; softmax weights are positive.
    const T denom = rc.scoring == Scoring::Sigmoid ? sum + T(1e-20) : sum;
    for (int i = 0; i < k; ++i) weights[i] /= denom;
  }
  if (rc.routed_scaling_factor != 1.0)
    for (int i = 0; i < k; ++i) weights[i] *= static_cast<T>(rc.routed_scaling_factor);
}

template <class T>
void route_tokens(const RouterRule& rule, const T* logits, int64_t tokens, const T* bias,
                  std::vector<int>& experts, std::vector<T>& weights) {
  const int k = rule.convention.top_k, n = rule.num_experts;
  experts.resize(static_cast<std::size_t>(tokens * k));
  weights.resize(static_cast<std::size_t>(tokens * k));
  for (int64_t t = 0; t < tokens; ++t)
    route_token(rule, logits + t * n, bias, experts.data() + t * k, weights.data() + t * k);
}

template void route_token<float>(const RouterRule&, const float*, const float*, int*, float*);
template void route_token<double>(const RouterRule&, const double*, const double*, int*, double*);
template void route_tokens<float>(const RouterRule&, const float*, int64_t, const float*,
                                  std::vector<int>&, std::vector<float>&);
template void route_tokens<double>(const RouterRule&, const double*, int64_t, const double*,
                                   std::vector<int>&, std::vector<double>&);

}  // namespace moeprobe
