// Routing as data (issue 9, the dynamic analyses A9, A10, A12): one MoE layer's router applied to
// a block of tokens. The logits come from the backend (Backend::linear_rows, float64); the
// selection and combine weights follow the family's rule through route_tokens (model/router.h),
// in float64, so every backend routes identically.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "model/moe_layer.h"
#include "model/router.h"

namespace moeprobe {

struct RoutingData {
  int64_t tokens = 0;
  int experts = 0, top_k = 0;
  Matrix logits;         // [T, E]: x W_g^T, plus the router bias where the family has one
  Matrix probabilities;  // [T, E]: softmax of the logits over all experts (the paper's p_{t,e})
  Matrix scores;         // [T, E]: the family's scores (sigmoid for DeepSeek-V3, else = softmax)
  std::vector<int> selected;    // [T * k]: selected experts, descending selection score
  std::vector<double> weights;  // [T * k]: their combine weights by the family's rule
  // Llama-4: the weight scales the expert's input (E(w x)), not its output.
  bool weight_on_input = false;

  int selected_expert(int64_t t, int i) const {
    return selected[static_cast<std::size_t>(t * top_k + i)];
  }
};

// Routes every token of `tokens` [T, H] through the layer's router.
RoutingData route_layer(const MoeLayer& layer, const RouterRule& rule, const TensorView& tokens,
                        Backend& backend);
// The same from given logits [T, E] (tests; the selection bias [E] is optional).
RoutingData route_logits(const RouterRule& rule, Matrix logits,
                         const std::vector<double>* selection_bias);

}  // namespace moeprobe
