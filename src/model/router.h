// Router conventions as code: from one token's router logits to the selected experts and their
// combine weights, for every family moeprobe reads (Mixtral's top-k→softmax, Qwen/OLMoE/DeepSeek
// softmax→top-k with or without renormalisation, DeepSeek-V3's sigmoid scores with a
// selection-only bias, group-limited top-k and routed scaling). Torch-free so that the forward
// pass and the dynamic metrics share one definition; templated so float64 is the reference and
// float the fast path. Ties go to the lower expert index.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/family.h"

namespace moeprobe {

// How the experts' group score is formed for group-limited top-k.
enum class GroupScore {
  Max,      // DeepSeek-V2 "group_limited_greedy": the best expert of the group
  SumTop2,  // DeepSeek-V3 "noaux_tc": the sum of the group's two best (biased) scores
};

struct RouterRule {
  RoutingConvention convention;
  GroupScore group_score = GroupScore::Max;
  int num_experts = 0;
};

constexpr int kMaxTopK = 16;

// The rule for a model: the family's convention (with config.json overrides already applied, as
// MoeModel::config().routing holds it) plus config.json's topk_method, which decides how groups
// are scored. Throws InputError (naming `config_path`) for a top-k outside 1..min(E, 16), an
// expert count not divisible by n_group, topk_group > n_group, or an unknown topk_method.
RouterRule make_router_rule(const RoutingConvention& convention, int num_experts,
                            const nlohmann::json& config, const std::string& config_path);

// One token: logits [E] → experts[k] (descending selection score) and weights[k]. `bias` is the
// selection-only correction bias [E] (nullptr when absent; used only when the rule says so).
template <class T>
void route_token(const RouterRule& rule, const T* logits, const T* bias, int* experts, T* weights);

// Convenience for tests and metrics: all T tokens of a [T, E] logits matrix.
template <class T>
void route_tokens(const RouterRule& rule, const T* logits, int64_t tokens, const T* bias,
                  std::vector<int>& experts, std::vector<T>& weights);

}  // namespace moeprobe
