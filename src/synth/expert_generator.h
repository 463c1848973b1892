// The planted expert weights of a synthetic model: per MoE layer a plan (upcycling base
// weights, neuron order, router rows, dead rows, the router-aligned norm neuron) calibrated from
// the recipe's plants, and the expert / dense-reference matrices generated row by row from it.
// Every row has its own random stream, so results never depend on the thread split.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "synth/generator.h"
#include "synth/planting.h"
#include "synth/synth_model.h"

namespace moeprobe::synth {

struct LayerPlan {
  int pos = -1, layer = 0;
  double c = 0;
  bool upcycled = false;
  std::vector<char> dark;              // per expert
  std::vector<float> wb, wn;           // per expert: weight of the shared base and of the noise
  std::vector<float> wg;               // per expert: weight of the shared axis G (may be empty)
  std::vector<std::vector<int>> perm;  // per expert: source neuron of each position
  std::vector<char> dead;              // act rows
  std::vector<std::vector<float>> mu;  // per expert target mean act neuron
  std::vector<std::vector<float>> router;
  bool norm_neuron = false;
  float neuron_scale = 0;  // s / mean router norm
  double t = 0;
  std::vector<std::vector<float>> dir;  // d_e
  double out_scale = 1;
  LayerReport report;
};

class ExpertGenerator {
 public:
  explicit ExpertGenerator(const SynthModel& m) : m_(m) {}

  // The plan of MoE layer `pos` (0-based among MoE layers); built on first use, one kept at a time.
  const LayerPlan& plan(int pos);
  const std::map<int, LayerReport>& reports() const { return reports_; }

  // W_act / W_up [I, H] (neuron rows) of expert e (mat "act" or "up").
  void expert_rows(const LayerPlan& p, int e, const char* mat, float* out) const;
  // W_down [H, I] of expert e: neuron i is column i; amplitude t for the router-aligned neuron.
  void expert_down(const LayerPlan& p, int e, double t, float* out) const;
  // The dense reference FFN W_F of an MoE layer (what upcycled experts started from).
  void reference(const LayerPlan& p, const char* mat, float* out) const;

 private:
  std::unique_ptr<LayerPlan> build(int pos) const;
  void base_weights(LayerPlan& p, double spread, double axis) const;
  NormRoutingSample sample_norms(const LayerPlan& p) const;

  const SynthModel& m_;
  std::unique_ptr<LayerPlan> plan_;
  std::map<int, LayerReport> reports_;
};

}  // namespace moeprobe::synth
