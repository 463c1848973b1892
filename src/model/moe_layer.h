// The canonical view of one MoE layer, whatever the family and on-disk layout: every matrix is a
// TensorView into the mmap (slices of fused tensors included), in PyTorch Linear layout [out, in].
#pragma once

#include <optional>
#include <vector>

#include "io/tensor_view.h"
#include "model/activation.h"
#include "model/family.h"

namespace moeprobe {

// One expert (or shared expert, or dense FFN): E(x) = W_down (act(W_act x) * (W_up x)).
struct ExpertWeights {
  ExpertWeights() = default;
  ExpertWeights(TensorView a, TensorView u, TensorView d)
      : act(std::move(a)), up(std::move(u)), down(std::move(d)) {}
  TensorView act;   // [I, H]
  TensorView up;    // [I, H]
  TensorView down;  // [H, I]
  // Biases where the family has them (gpt-oss): [I], [I], [H].
  std::optional<TensorView> act_bias, up_bias, down_bias;
  int64_t intermediate() const { return act.dim(0); }
  int64_t hidden() const { return act.dim(1); }
};

struct MoeLayer {
  int layer = 0;                                    // decoder layer index
  TensorView router;                                // [E, H]
  std::optional<TensorView> router_bias;            // [E]
  std::optional<TensorView> score_correction_bias;  // [E]
  std::vector<ExpertWeights> experts;               // E routed experts
  std::vector<ExpertWeights> shared;                // shared experts (may be one fused block)
  std::optional<TensorView> shared_gate;            // [1, H] sigmoid gate on the shared output
  Activation activation = Activation::SiLU;
  ActivationSpec activation_spec;  // kind (= activation) and gpt-oss's clamp parameters
  RoutingConvention routing;

  int num_experts() const { return static_cast<int>(experts.size()); }
  int64_t hidden() const { return router.dim(1); }
  int64_t intermediate() const { return experts.empty() ? 0 : experts[0].intermediate(); }
};

}  // namespace moeprobe
