// Router regression (`run --compare-model BASELINE [--compare-activations FILE]`): the baseline
// checkpoint's router applied to the probe of the run, layer by layer, for the routing-comparison
// metrics (metrics/routing_comparison.cpp).
//
// Inputs: by default the baseline routes exactly the candidate's MoE inputs (the same captured or
// synthetic x), which compares the routers alone. With --compare-activations the baseline routes
// its own captured inputs of the same tokens (each model's forward pass), which compares the
// models' routing behaviour end to end.
//
// Bad input (InputError, exit 2): a different expert count or top-k, a different tokenizer
// (tokenizer.json / tokenizer.model bytes), baseline activations of other tokens.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "model/moe_model.h"
#include "model/router.h"
#include "model/routing_data.h"
#include "probe/activations.h"

namespace moeprobe {

class Backend;

class BaselineRouter {
 public:
  // Opens and checks the baseline against the candidate. `activations` may be empty (route the
  // candidate's inputs); `layers` are the decoder layers the comparison reads.
  static std::unique_ptr<BaselineRouter> open(const std::filesystem::path& dir,
                                              const std::filesystem::path& activations,
                                              const MoeModel& candidate,
                                              const ProbeActivations* candidate_probe,
                                              const std::vector<int>& layers);
  // The baseline's routing of decoder layer `layer` on `candidate_input` (the candidate's [T, H]
  // MoE input of that layer) or on its own captured input.
  RoutingData route(int layer, const TensorView& candidate_input, Backend& backend) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  BaselineRouter() = default;
  std::filesystem::path dir_;
  std::unique_ptr<MoeModel> model_;
  std::optional<RouterRule> rule_;
  std::unique_ptr<ProbeActivations> own_probe_;
};

}  // namespace moeprobe
