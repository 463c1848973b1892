// The 2025-26 families and formats end to end: synth writes each layout and quantisation with
// the real tensor names (scaled down), MoeModel maps it to the canonical [I, H] / [H, I] views,
// and the static suite gives the same numbers on a quantised checkpoint as on its dequantised
// twin.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "../synth/synth_test_util.h"
#include "metrics/metric.h"
#include "model/moe_model.h"
#include "model/router.h"
#include "suite/runner.h"
#include "suite/schema.h"
#include "synth/generator.h"
#include "synth/recipe.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using synth::testing::families_dir;
using synth::testing::generate;
using synth::testing::temp_dir;

std::vector<double> all_of(const TensorView& v) {
  std::vector<double> out(static_cast<std::size_t>(v.numel()));
  v.read_double(0, v.numel(), out.data());
  return out;
}
// As float: a quantised view's read_float is the product rounded once, which is what the twin
// stores (read_double keeps the exact product).
std::vector<float> floats_of(const TensorView& v) {
  std::vector<float> out(static_cast<std::size_t>(v.numel()));
  v.read_float(0, v.numel(), out.data());
  return out;
}

std::string recipe(const std::string& family, const std::string& layout, const std::string& model,
                   const std::string& quant) {
  return "family: " + family + "\n" + (layout.empty() ? "" : "layout: " + layout + "\n") +
         "seed: 5\nmodel: {" + model + "}\n" +
         (quant.empty() ? "" : "quantization: " + quant + "\n") +
         "plant:\n  upcycling: {strength: 0.4}\n  mean_neuron: {strength: 0.4}\n";
}

// Every expert view of every MoE layer reads the same values in both models.
void expect_same_views(const MoeModel& a, const MoeModel& b) {
  ASSERT_EQ(a.config().moe_layers, b.config().moe_layers);
  for (int l : a.config().moe_layers) {
    const MoeLayer la = a.layer(l), lb = b.layer(l);
    ASSERT_EQ(la.num_experts(), lb.num_experts());
    auto same = [&](const TensorView& x, const TensorView& y) {
      ASSERT_EQ(x.shape, y.shape) << x.name << " vs " << y.name;
      EXPECT_EQ(floats_of(x), floats_of(y)) << x.name << " vs " << y.name;
    };
    for (int e = 0; e < la.num_experts(); ++e) {
      same(la.experts[e].act, lb.experts[e].act);
      same(la.experts[e].up, lb.experts[e].up);
      same(la.experts[e].down, lb.experts[e].down);
    }
    ASSERT_EQ(la.shared.size(), lb.shared.size());
    for (std::size_t s = 0; s < la.shared.size(); ++s) same(la.shared[s].act, lb.shared[s].act);
  }
}

// Every per-layer value of two runs of the static suite within 1e-6 (NaN where the other is).
void expect_same_results(const RunResult& ra, const RunResult& rb) {
  ASSERT_EQ(ra.hypotheses.size(), rb.hypotheses.size());
  int compared = 0;
  for (std::size_t h = 0; h < ra.hypotheses.size(); ++h) {
    const auto &x = ra.hypotheses[h], &y = rb.hypotheses[h];
    EXPECT_EQ(x.outcome, y.outcome) << x.id;
    ASSERT_EQ(x.per_layer.size(), y.per_layer.size()) << x.id;
    for (std::size_t i = 0; i < x.per_layer.size(); ++i) {
      const double u = x.per_layer[i].value, v = y.per_layer[i].value;
      if (std::isnan(u) || std::isnan(v)) {
        EXPECT_EQ(std::isnan(u), std::isnan(v)) << x.id;
        continue;
      }
      EXPECT_NEAR(u, v, 1e-6) << x.id << " layer " << x.per_layer[i].layer;
      ++compared;
    }
  }
  EXPECT_GT(compared, 10);
}

RunResult run_static_suite(const fs::path& model, const std::string& device) {
  const Suite suite =
      load_suite(fs::path(MOEPROBE_SOURCE_DIR) / "suites" / "closer_look.yaml", find_metric);
  RunOptions o;
  o.model_dir = model;
  o.device = device;
  return run_suite(suite, o);
}

void expect_same_suite(const fs::path& a, const fs::path& b, const std::string& device) {
  expect_same_results(run_static_suite(a, device), run_static_suite(b, device));
}

TEST(QuantFamilies, DeepSeekV3Fp8MatchesItsDequantisedTwin) {
  const fs::path out = temp_dir("dsv3_fp8");
  generate(
      recipe("deepseek_v3", "classic",
             "num_layers: 3, hidden_size: 64, intermediate_size: 48, num_experts: 8, top_k: 2, "
             "num_shared_experts: 1",
             "{scheme: fp8, block: [16, 32], twin: twin}"),
      out, 5);
  const auto q = MoeModel::open(out, "", families_dir());
  const auto t = MoeModel::open(out / "twin", "", families_dir());
  EXPECT_EQ(q->quantization().method, "fp8");
  EXPECT_EQ(q->quantization().block_rows, 16);
  const MoeLayer l = q->layer(0);
  EXPECT_TRUE(l.experts[0].act.quantized());
  EXPECT_TRUE(l.shared[0].down.quantized());
  EXPECT_FALSE(l.router.quantized());
  EXPECT_EQ(l.experts[0].act.shape, (std::vector<int64_t>{48, 64}));
  expect_same_views(*q, *t);
  expect_same_suite(out, out / "twin", "cpu");
  expect_same_suite(out, out / "twin", "reference");
  fs::remove_all(out);
}

TEST(QuantFamilies, KimiK2Fp8LoadsAsDeepSeekV3With384StyleRouting) {
  const fs::path out = temp_dir("kimi");
  generate(
      recipe("kimi_k2", "classic",
             "num_layers: 2, hidden_size: 64, intermediate_size: 32, num_experts: 24, top_k: 4, "
             "num_shared_experts: 1",
             "{scheme: fp8, block: [32, 32], twin: twin}"),
      out, 5);
  const auto q = MoeModel::open(out, "", families_dir());
  EXPECT_EQ(q->family().name, "kimi_k2");
  EXPECT_EQ(q->config().num_experts, 24);
  EXPECT_EQ(q->config().routing.scoring, Scoring::Sigmoid);
  EXPECT_TRUE(q->config().routing.selection_bias);
  EXPECT_EQ(q->config().routing.n_group, 1);
  expect_same_views(*q, *MoeModel::open(out / "twin", "", families_dir()));
  fs::remove_all(out);
}

TEST(QuantFamilies, GptOssMxfp4MatchesItsTransposedBf16Twin) {
  const fs::path out = temp_dir("gptoss");
  generate(recipe("gpt_oss", "",
                  "num_layers: 2, hidden_size: 64, intermediate_size: 64, num_experts: 4, top_k: 2",
                  "{scheme: mxfp4, twin: twin}"),
           out, 5);
  const auto q = MoeModel::open(out, "", families_dir());
  const auto t = MoeModel::open(out / "twin", "", families_dir());
  EXPECT_EQ(q->family().name, "gpt_oss");
  EXPECT_EQ(q->quantization().method, "mxfp4");
  EXPECT_EQ(q->activation().kind, Activation::ClampedSwiGLU);
  EXPECT_FALSE(q->config().routing.softmax_before_topk);
  const MoeLayer l = q->layer(1);
  ASSERT_TRUE(l.router_bias.has_value());
  ASSERT_TRUE(l.experts[2].act_bias.has_value());
  ASSERT_TRUE(l.experts[2].down_bias.has_value());
  EXPECT_EQ(l.experts[2].act.quant_scheme(), QuantScheme::Mxfp4);
  EXPECT_EQ(l.experts[2].act.shape, (std::vector<int64_t>{64, 64}));
  // The twin stores gate_up [E, H, 2I] with act at even columns: its act view is the transpose.
  const Checkpoint& ck = t->checkpoint();
  const TensorView gu = ck.tensor("model.layers.1.mlp.experts.gate_up_proj");
  ASSERT_EQ(gu.shape, (std::vector<int64_t>{4, 64, 128}));
  const auto raw = all_of(gu);
  const MoeLayer lt = t->layer(1);
  const auto act = all_of(lt.experts[2].act), up = all_of(lt.experts[2].up);
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t h = 0; h < 64; ++h) {
      ASSERT_EQ(act[i * 64 + h], raw[(2 * 64 + h) * 128 + 2 * i]);
      ASSERT_EQ(up[i * 64 + h], raw[(2 * 64 + h) * 128 + 2 * i + 1]);
    }
  const auto bias = all_of(ck.tensor("model.layers.1.mlp.experts.gate_up_proj_bias"));
  EXPECT_EQ(all_of(*lt.experts[2].up_bias)[5], bias[2 * 128 + 11]);
  expect_same_views(*q, *t);
  expect_same_suite(out, out / "twin", "cpu");
  fs::remove_all(out);
}

TEST(QuantFamilies, Llama4TransposedFusedExpertsAndInputScaledRouting) {
  const fs::path out = temp_dir("llama4");
  generate(
      recipe("llama4", "fused",
             "num_layers: 2, hidden_size: 32, intermediate_size: 16, num_experts: 4, top_k: 1", ""),
      out, 5, DType::F32);
  const auto m = MoeModel::open(out, "", families_dir());
  EXPECT_EQ(m->family().name, "llama4");
  EXPECT_EQ(m->config().routing.scoring, Scoring::Sigmoid);
  EXPECT_TRUE(m->config().routing.weight_on_input);
  EXPECT_EQ(m->config().num_shared_experts, 1);
  const TensorView gu = m->checkpoint().tensor("model.layers.0.feed_forward.experts.gate_up_proj");
  ASSERT_EQ(gu.shape, (std::vector<int64_t>{4, 32, 32}));
  const TensorView dn = m->checkpoint().tensor("model.layers.0.feed_forward.experts.down_proj");
  ASSERT_EQ(dn.shape, (std::vector<int64_t>{4, 16, 32}));
  const auto raw = all_of(gu), rawd = all_of(dn);
  const MoeLayer l = m->layer(0);
  const auto act = all_of(l.experts[3].act), up = all_of(l.experts[3].up),
             down = all_of(l.experts[3].down);
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t h = 0; h < 32; ++h) {
      ASSERT_EQ(act[i * 32 + h], raw[(3 * 32 + h) * 32 + i]);
      ASSERT_EQ(up[i * 32 + h], raw[(3 * 32 + h) * 32 + 16 + i]);
      ASSERT_EQ(down[h * 16 + i], rawd[(3 * 16 + i) * 32 + h]);
    }
  // The transposed (strided) views read the same on the CPU path and the float64 reference.
  expect_same_results(run_static_suite(out, "cpu"), run_static_suite(out, "reference"));
  fs::remove_all(out);
}

TEST(QuantFamilies, Glm4MoeFp8WithDenseFirstLayer) {
  const fs::path out = temp_dir("glm");
  generate(
      recipe("glm4_moe", "classic",
             "num_layers: 3, hidden_size: 64, intermediate_size: 32, num_experts: 8, top_k: 2, "
             "num_shared_experts: 1, first_k_dense_replace: 1",
             "{scheme: fp8, block: [32, 32], twin: twin}"),
      out, 5);
  const auto q = MoeModel::open(out, "", families_dir());
  EXPECT_EQ(q->family().name, "glm4_moe");
  EXPECT_EQ(q->config().moe_layers, (std::vector<int>{1, 2}));
  EXPECT_TRUE(q->config().routing.selection_bias);
  EXPECT_TRUE(q->has_dense_ffn(0));
  expect_same_views(*q, *MoeModel::open(out / "twin", "", families_dir()));
  fs::remove_all(out);
}

// The routing conventions of the new families through model/router.h (what the dynamic metrics
// call): gpt-oss's softmax over the top-k biased logits, Llama-4's unrenormalised top-1 sigmoid.
TEST(QuantFamilies, RouterRulesOfTheNewFamilies) {
  const fs::path out = temp_dir("routers");
  generate(
      recipe("gpt_oss", "",
             "num_layers: 1, hidden_size: 32, intermediate_size: 32, num_experts: 4, top_k: 2", ""),
      out / "gpt", 5);
  generate(
      recipe("llama4", "",
             "num_layers: 1, hidden_size: 32, intermediate_size: 16, num_experts: 4, top_k: 1", ""),
      out / "llama", 5);
  const auto g = MoeModel::open(out / "gpt", "", families_dir());
  const RouterRule rg =
      make_router_rule(g->config().routing, 4, g->checkpoint().config(), "config.json");
  const double logits[4] = {0.5, 2.0, -1.0, 1.0};  // logits + router bias, as the caller forms them
  int experts[2];
  double weights[2];
  route_token<double>(rg, logits, nullptr, experts, weights);
  EXPECT_EQ(experts[0], 1);
  EXPECT_EQ(experts[1], 3);
  EXPECT_NEAR(weights[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_NEAR(weights[0] + weights[1], 1.0, 1e-15);

  const auto l = MoeModel::open(out / "llama", "", families_dir());
  const RouterRule rl =
      make_router_rule(l->config().routing, 4, l->checkpoint().config(), "config.json");
  EXPECT_TRUE(rl.convention.weight_on_input);
  int e1;
  double w1;
  route_token<double>(rl, logits, nullptr, &e1, &w1);
  EXPECT_EQ(e1, 1);
  EXPECT_NEAR(w1, 1.0 / (1.0 + std::exp(-2.0)), 1e-15);
  fs::remove_all(out);
}

}  // namespace
}  // namespace moeprobe
