// The HF MoE-block fixtures (tests/data/hf/blocks/) as MoeLayer views plus their routing rule and
// HF output, and a float64 evaluation of a block through the router (the reference the LibTorch
// block is compared with as well).
#pragma once

#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/moe_layer.h"
#include "model/router.h"

namespace moeprobe::testutil {

struct BlockFixture {
  std::unique_ptr<SafetensorsFile> file;
  nlohmann::json meta;
  MoeLayer layer;
  RouterRule rule;
  std::vector<double> input;  // [tokens, hidden]
  std::vector<double> expected;
  int64_t tokens = 0;
};

inline std::string block_dir() {
  return std::string(MOEPROBE_TEST_DATA) + "/hf/blocks/";
}

inline ExpertWeights fused_expert(const SafetensorsFile& f, const std::string& prefix, int e) {
  const TensorView gate_up = f.view(prefix + ".experts.gate_up_proj").index0(e);
  const int64_t inter = gate_up.dim(0) / 2;
  return {gate_up.slice0(0, inter), gate_up.slice0(inter, 2 * inter),
          f.view(prefix + ".experts.down_proj").index0(e)};
}

// mixtral_layer0, qwen2_moe_layer0, qwen15_moe_layer0, qwen3_moe_layer0: one token, fused experts.
inline BlockFixture load_hf_block(const std::string& name) {
  BlockFixture b;
  std::ifstream(block_dir() + name + ".json") >> b.meta;
  b.file = std::make_unique<SafetensorsFile>(block_dir() + name + ".safetensors");
  const SafetensorsFile& f = *b.file;
  const std::string prefix = b.meta.at("tensor_prefix");
  const int experts = b.meta.at("num_experts");
  b.layer.router = f.find(prefix + ".gate.weight") ? f.view(prefix + ".gate.weight")
                                                   : f.view(prefix + ".router.weight");
  for (int e = 0; e < experts; ++e) b.layer.experts.push_back(fused_expert(f, prefix, e));
  if (b.meta.at("has_shared").get<bool>())
    b.layer.shared.push_back({f.view(prefix + ".shared_expert.gate_proj.weight"),
                              f.view(prefix + ".shared_expert.up_proj.weight"),
                              f.view(prefix + ".shared_expert.down_proj.weight")});
  if (b.meta.at("has_shared_gate").get<bool>())
    b.layer.shared_gate = f.view(prefix + ".shared_expert_gate.weight");
  RoutingConvention rc;
  rc.top_k = b.meta.at("experts_per_token");
  if (b.meta.at("model") == "mixtral") {
    rc.softmax_before_topk = false;  // Mixtral always renormalises over its top-k
  } else {
    rc.renormalize = b.meta.at("norm_topk_prob").get<bool>();
  }
  b.layer.routing = rc;
  b.rule = make_router_rule(rc, experts, nlohmann::json::object(), name);
  b.input = b.meta.at("input").get<std::vector<double>>();
  b.expected = b.meta.at("hf_ref").get<std::vector<double>>();
  b.tokens = static_cast<int64_t>(b.input.size()) / b.layer.hidden();
  return b;
}

// v3_route_ref: DeepSeek-V3 routing (sigmoid, selection-only bias, 4 groups of 2, top-2 groups,
// top-2 experts, routed_scaling_factor 2.5) with per-expert tensors and one shared expert.
inline BlockFixture load_v3_route_ref() {
  BlockFixture b;
  std::ifstream(block_dir() + "v3_route_ref.json") >> b.meta;
  b.file = std::make_unique<SafetensorsFile>(block_dir() + "v3_route_ref.safetensors");
  const SafetensorsFile& f = *b.file;
  const int experts = b.meta.at("n_routed_experts");
  b.layer.router = f.view("router.weight");
  b.layer.score_correction_bias = f.view("router.bias");
  for (int e = 0; e < experts; ++e) {
    const std::string p = "expert." + std::to_string(e);
    b.layer.experts.push_back({f.view(p + ".w_gate"), f.view(p + ".w_up"), f.view(p + ".w_down")});
  }
  b.layer.shared.push_back(
      {f.view("shared.w_gate"), f.view("shared.w_up"), f.view("shared.w_down")});
  RoutingConvention rc;
  rc.scoring = Scoring::Sigmoid;
  rc.renormalize = b.meta.at("norm_topk_prob");
  rc.selection_bias = true;
  rc.n_group = b.meta.at("n_group");
  rc.topk_group = b.meta.at("topk_group");
  rc.routed_scaling_factor = b.meta.at("routed_scaling_factor");
  rc.top_k = b.meta.at("top_k");
  b.layer.routing = rc;
  b.rule = make_router_rule(rc, experts, nlohmann::json::object(), "v3_route_ref.json");
  const TensorView hidden = f.view("hidden");
  b.tokens = hidden.dim(0);
  b.input.resize(static_cast<std::size_t>(hidden.numel()));
  hidden.read_double(0, hidden.numel(), b.input.data());
  b.expected = b.meta.at("block_out").get<std::vector<double>>();
  return b;
}

inline std::vector<double> read_all(const TensorView& v) {
  std::vector<double> out(static_cast<std::size_t>(v.numel()));
  v.read_double(0, v.numel(), out.data());
  return out;
}

// y = W x for W [rows, cols].
inline std::vector<double> matvec(const TensorView& w, const double* x) {
  const std::vector<double> m = read_all(w);
  const int64_t rows = w.dim(0), cols = w.dim(1);
  std::vector<double> y(static_cast<std::size_t>(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r] += m[r * cols + c] * x[c];
  return y;
}

inline std::vector<double> expert_f64(const ExpertWeights& e, const double* x) {
  std::vector<double> a = matvec(e.act, x);
  const std::vector<double> u = matvec(e.up, x);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = a[i] / (1.0 + std::exp(-a[i])) * u[i];
  return matvec(e.down, a.data());
}

// The block in float64: router logits, route_token<double>, experts, shared experts.
inline std::vector<double> block_f64(const BlockFixture& b, std::vector<int>* chosen = nullptr,
                                     std::vector<double>* weights = nullptr) {
  const int64_t h = b.layer.hidden();
  const int k = b.rule.convention.top_k;
  std::vector<double> bias;
  if (b.layer.score_correction_bias) bias = read_all(*b.layer.score_correction_bias);
  std::vector<double> out(static_cast<std::size_t>(b.tokens * h), 0.0);
  for (int64_t t = 0; t < b.tokens; ++t) {
    const double* x = b.input.data() + t * h;
    const std::vector<double> logits = matvec(b.layer.router, x);
    std::vector<int> ex(static_cast<std::size_t>(k));
    std::vector<double> w(static_cast<std::size_t>(k));
    route_token<double>(b.rule, logits.data(), bias.empty() ? nullptr : bias.data(), ex.data(),
                        w.data());
    if (chosen) chosen->insert(chosen->end(), ex.begin(), ex.end());
    if (weights) weights->insert(weights->end(), w.begin(), w.end());
    double* y = out.data() + t * h;
    for (int i = 0; i < k; ++i) {
      const std::vector<double> e = expert_f64(b.layer.experts[ex[i]], x);
      for (int64_t j = 0; j < h; ++j) y[j] += w[i] * e[j];
    }
    for (const ExpertWeights& s : b.layer.shared) {
      const std::vector<double> e = expert_f64(s, x);
      double gate = 1.0;
      if (b.layer.shared_gate) gate = 1.0 / (1.0 + std::exp(-matvec(*b.layer.shared_gate, x)[0]));
      for (int64_t j = 0; j < h; ++j) y[j] += gate * e[j];
    }
  }
  return out;
}

// max |a - b| / max |b|
inline double relative_max_error(const std::vector<double>& got, const std::vector<double>& ref) {
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(got.at(i) - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return err / scale;
}

}  // namespace moeprobe::testutil
