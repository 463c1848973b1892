#include "model/model_config.h"

#include <set>

#include "util/error.h"

namespace moeprobe {

void read_expert_sizes(const ConfigReader& r, ModelConfig& c) {
  const std::string& cfg_path = r.path();
  c.num_experts = static_cast<int>(r.req_int("num_experts", 1, "the number of routed experts"));
  c.top_k = static_cast<int>(r.req_int("top_k", 1, "the number of experts per token"));
  if (c.top_k > c.num_experts)
    throw InputError(cfg_path, r.field("top_k"),
                     std::to_string(c.top_k) + " experts per token, but only " +
                         std::to_string(c.num_experts) + " experts");
  c.expert_intermediate_size =
      r.req_int("expert_intermediate_size", 1, "the experts' intermediate size");
}

std::vector<int> select_moe_layers(const Family& fam, const ConfigReader& r, int num_layers) {
  const std::string& cfg_path = r.path();
  std::vector<int> moe_layers;
  // Which decoder layers are MoE: the family's moe_layers rule over the config's values.
  const MoeLayerRule& rule = fam.moe_layers;
  const int64_t first_dense = rule.first.empty() ? 0 : r.opt_int(rule.first, 0).value_or(0);
  const int64_t period = rule.period.empty() ? 1 : r.opt_int(rule.period, 1).value_or(1);
  const std::vector<int> dense_list =
      rule.except.empty() ? std::vector<int>{} : r.int_list(rule.except);
  const std::set<int> dense_set(dense_list.begin(), dense_list.end());
  for (int l = 0; l < num_layers; ++l) {
    if (l < first_dense || (l + rule.period_offset) % period != 0 || dense_set.count(l)) continue;
    moe_layers.push_back(l);
  }
  if (moe_layers.empty())
    throw InputError(cfg_path, r.field("num_layers"),
                     "no decoder layer is an MoE layer (check the keys of the family's "
                     "moe_layers rule in " +
                         fam.source.string() + ")");

  return moe_layers;
}

RoutingConvention read_routing(const Family& fam, const ConfigReader& r, const ModelConfig& c) {
  const std::string& cfg_path = r.path();
  RoutingConvention rc_value;
  // Routing: family defaults, overridden by what config.json states.
  RoutingConvention& rc = rc_value;
  rc = fam.routing;
  rc.top_k = c.top_k;
  if (auto v = r.opt_bool("norm_topk_prob")) rc.renormalize = *v;
  if (auto s = r.opt_string("scoring_func")) {
    if (*s == "softmax")
      rc.scoring = Scoring::Softmax;
    else if (*s == "sigmoid")
      rc.scoring = Scoring::Sigmoid;
    else
      throw InputError(cfg_path, r.field("scoring_func"),
                       "'" + *s + "': expected softmax or sigmoid");
  }
  if (auto v = r.opt_int("n_group", 1)) rc.n_group = static_cast<int>(*v);
  if (auto v = r.opt_int("topk_group", 1)) rc.topk_group = static_cast<int>(*v);
  if (auto v = r.opt_number("routed_scaling_factor")) rc.routed_scaling_factor = *v;
  if (auto s = r.opt_string("topk_method")) {
    const auto it = fam.topk_methods.find(*s);
    if (it == fam.topk_methods.end()) {
      std::string known;
      for (const auto& [name, patch] : fam.topk_methods)
        known += (known.empty() ? "" : ", ") + name;
      throw InputError(cfg_path, r.field("topk_method"),
                       "'" + *s + "': expected one of " + known + " (family " + fam.name + ")");
    }
    it->second.apply(rc);
  }
  if (c.num_experts % rc.n_group != 0)
    throw InputError(cfg_path, r.field("n_group"),
                     std::to_string(rc.n_group) + " groups do not divide " +
                         std::to_string(c.num_experts) + " experts");
  if (rc.topk_group > rc.n_group)
    throw InputError(
        cfg_path, r.field("topk_group"),
        std::to_string(rc.topk_group) + " exceeds n_group " + std::to_string(rc.n_group));
  if (c.top_k > rc.topk_group * (c.num_experts / rc.n_group))
    throw InputError(cfg_path, r.field("topk_group"),
                     "the " + std::to_string(rc.topk_group) +
                         " eligible groups hold fewer than top_k " + std::to_string(c.top_k) +
                         " experts");

  return rc_value;
}

void read_shared_experts(const ConfigReader& r, const ExpertLayout& lay, ModelConfig& c) {
  // Shared experts: a fused block (count x intermediate rows) or one block per shared expert.
  const bool layout_has_shared = !lay.shared_act.empty();
  c.num_shared_experts =
      layout_has_shared ? static_cast<int>(r.opt_int("num_shared_experts", 0).value_or(0)) : 0;
  if (c.num_shared_experts > 0) {
    const bool per_shared = has_expert_index(lay.shared_act);
    c.shared_intermediate_size =
        r.opt_int("shared_intermediate_size", 0)
            .value_or(per_shared ? c.expert_intermediate_size
                                 : c.num_shared_experts * c.expert_intermediate_size);
    if (c.shared_intermediate_size == 0) c.num_shared_experts = 0;
  }
}

}  // namespace moeprobe
