// A checkpoint's sizes, MoE layers and routing as its family reads them from config.json, one
// function per question.
#pragma once

#include <string>
#include <vector>

#include "model/config_reader.h"
#include "model/family.h"

namespace moeprobe {

struct ModelConfig {
  std::string model_type;
  int num_layers = 0;
  int64_t hidden_size = 0;
  int64_t expert_intermediate_size = 0;
  int num_experts = 0;
  int top_k = 0;
  int num_shared_experts = 0;
  int64_t shared_intermediate_size = 0;
  std::vector<int> moe_layers;  // decoder layer indices that are MoE, ascending
  RoutingConvention routing;    // family defaults with config.json overrides applied
};

// Routed experts: count, top_k and width (an MoE family's required sizes).
void read_expert_sizes(const ConfigReader& r, ModelConfig& c);
// The decoder layers the family's moe_layers rule makes MoE; throws InputError when none is.
std::vector<int> select_moe_layers(const Family& fam, const ConfigReader& r, int num_layers);
// The family's routing defaults with config.json's overrides and topk_method entry applied.
RoutingConvention read_routing(const Family& fam, const ConfigReader& r, const ModelConfig& c);
// Shared experts of the chosen layout: a fused block (count x width rows) or one per expert.
void read_shared_experts(const ConfigReader& r, const ExpertLayout& lay, ModelConfig& c);

}  // namespace moeprobe
