// Each planted finding, measured back in float64 from the written checkpoint, over several seeds
// and both bf16 and f32.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "synth/planting.h"
#include "synth_test_util.h"

namespace moeprobe::synth::testing {
namespace {

const char* kBase = R"(
family: mixtral
model: {num_layers: LAYERS, hidden_size: 64, intermediate_size: 128, num_experts: EXPERTS, top_k: 2, num_attention_heads: 4}
)";

std::string recipe(const std::string& plant, int layers = 2, int experts = 4) {
  std::string s = kBase;
  s.replace(s.find("LAYERS"), 6, std::to_string(layers));
  s.replace(s.find("EXPERTS"), 7, std::to_string(experts));
  return s + (plant.empty() ? "" : "plant:\n" + plant);
}

struct Case {
  uint64_t seed;
  DType dtype;
};
const Case kCases[] = {{1, DType::BF16}, {2, DType::F32}, {3, DType::BF16}};

// Mean off-diagonal cosine of the flattened matrix `w` over the experts of layer l.
double mean_expert_cos(const Checkpoint& ck, int l, int E, const char* w) {
  std::vector<Mat> m;
  for (int e = 0; e < E; ++e) m.push_back(read(ck, mixtral_names(l, e, w)));
  double s = 0;
  int n = 0;
  for (int a = 0; a < E; ++a)
    for (int b = a + 1; b < E; ++b) s += cosine(m[a], m[b]), ++n;
  return s / n;
}

TEST(SynthPlanting, UpcycledSimilarityAndReferenceFfn) {
  // Tolerance: cosines of 8192-element flattened matrices have sampling sd ~0.011.
  for (double c : {0.3, 0.6}) {
    for (const auto& k : kCases) {
      const auto dir = temp_dir("upc");
      generate(
          recipe("  upcycling: {strength: " + std::to_string(c) + ", write_reference: true}\n"),
          dir, k.seed, k.dtype);
      Checkpoint ck(dir), ref(dir / "reference");
      for (int l = 0; l < 2; ++l) {
        for (const char* w : {"w1", "w3", "w2"})
          EXPECT_NEAR(mean_expert_cos(ck, l, 4, w), c, 0.04)
              << "c " << c << " layer " << l << " " << w;
        const std::string ln = "model.layers." + std::to_string(l) + ".mlp.";
        const Mat f = read(ref, ln + "gate_proj.weight");
        for (int e = 0; e < 4; ++e)
          EXPECT_NEAR(cosine(read(ck, mixtral_names(l, e, "w1")), f), std::sqrt(c), 0.04);
      }
      EXPECT_EQ(ref.config()["model_type"], "mistral");
      fs::remove_all(dir);
    }
  }
}

TEST(SynthPlanting, ScratchExpertsAreIndependent) {
  for (const auto& k : kCases) {
    const auto dir = temp_dir("scratch");
    generate(recipe(""), dir, k.seed, k.dtype);
    Checkpoint ck(dir);
    for (int l = 0; l < 2; ++l)
      for (const char* w : {"w1", "w3", "w2"}) EXPECT_NEAR(mean_expert_cos(ck, l, 4, w), 0.0, 0.03);
    fs::remove_all(dir);
  }
}

TEST(SynthPlanting, DepthProfileWithRebound) {
  const auto dir = temp_dir("depth");
  generate(recipe("  upcycling: {profile: {first: 0.5, last: 0.1, rebound: 0.6}}\n", 6), dir, 4);
  Checkpoint ck(dir);
  // Ramp over layers 0..4 from 0.5 to 0.1, then 0.6 in the last layer.
  const double want[] = {0.5, 0.4, 0.3, 0.2, 0.1, 0.6};
  for (int l = 0; l < 6; ++l) EXPECT_NEAR(mean_expert_cos(ck, l, 4, "w1"), want[l], 0.04) << l;
  fs::remove_all(dir);
}

TEST(SynthPlanting, DarkCrossExpertIsDissimilar) {
  const auto dir = temp_dir("dark");
  generate(
      recipe("  upcycling: {strength: 0.4}\n  dark_cross: {experts: [2], layers: [1]}\n", 2, 6),
      dir, 5);
  Checkpoint ck(dir);
  std::vector<Mat> m;
  for (int e = 0; e < 6; ++e) m.push_back(read(ck, mixtral_names(1, e, "w1")));
  for (int e = 0; e < 6; ++e)
    for (int f = e + 1; f < 6; ++f)
      EXPECT_NEAR(cosine(m[e], m[f]), (e == 2 || f == 2) ? 0.0 : 0.4, 0.05) << e << "," << f;
  EXPECT_NEAR(mean_expert_cos(ck, 0, 6, "w1"), 0.4, 0.04);  // layer 0 untouched
  fs::remove_all(dir);
}

// Greedy neuron matching of expert a's act rows to expert b's (argmax cosine per row).
std::vector<int> match_neurons(const Mat& a, const Mat& b, int64_t I, int64_t H) {
  std::vector<int> pi(static_cast<std::size_t>(I));
  for (int64_t i = 0; i < I; ++i) {
    double best = -2;
    for (int64_t j = 0; j < I; ++j) {
      const double c = cosine(a.data() + i * H, b.data() + j * H, H);
      if (c > best) best = c, pi[i] = static_cast<int>(j);
    }
  }
  return pi;
}

double kendall_tau(const std::vector<int>& p) {
  double s = 0;
  const std::size_t n = p.size();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) s += (p[j] > p[i]) ? 1 : -1;
  return s / (n * (n - 1) / 2.0);
}

TEST(SynthPlanting, NeuronOrderPreservedOrPermuted) {
  for (const auto& k : kCases) {
    for (double keep : {1.0, 0.0}) {
      const auto dir = temp_dir("order");
      // c = 0.8: matched neurons have cosine 0.8 +- 0.05, unmatched ones at most ~0.4 (H = 64).
      generate(recipe("  upcycling: {strength: 0.8}\n  neuron_order: {strength: " +
                      std::to_string(keep) + "}\n"),
               dir, k.seed, k.dtype);
      Checkpoint ck(dir);
      const auto pi = match_neurons(read(ck, mixtral_names(0, 0, "w1")),
                                    read(ck, mixtral_names(0, 1, "w1")), 128, 64);
      std::vector<int> sorted = pi;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int> ident(128);
      std::iota(ident.begin(), ident.end(), 0);
      EXPECT_EQ(sorted, ident) << "matching is a permutation";
      const double tau = kendall_tau(pi);
      if (keep == 1.0)
        EXPECT_EQ(pi, ident);
      else
        EXPECT_LT(std::fabs(tau), 0.15);
      // Matrix-level similarity collapses when the order is permuted.
      EXPECT_NEAR(mean_expert_cos(ck, 0, 4, "w1"), keep == 1.0 ? 0.8 : 0.0, 0.05);
      fs::remove_all(dir);
    }
  }
}

// Per layer: R^2 between router-row cosines and act mean-neuron cosines over expert pairs.
TEST(SynthPlanting, RouterMeanNeuronAssociation) {
  for (const auto& k : kCases) {
    for (double target : {0.2, 0.6}) {
      const auto dir = temp_dir("r2");
      generate(recipe("  mean_neuron: {strength: 0.5}\n  router_association: {strength: " +
                          std::to_string(target) + "}\n",
                      3, 8),
               dir, k.seed, k.dtype);
      Checkpoint ck(dir);
      for (int l = 0; l < 3; ++l) {
        const Mat g = read(ck, mixtral_router(l));
        std::vector<std::vector<double>> mu;
        for (int e = 0; e < 8; ++e)
          mu.push_back(row_mean(read(ck, mixtral_names(l, e, "w1")), 128, 64));
        std::vector<double> x, y, yu;
        for (int a = 1; a < 8; ++a)
          for (int b = 0; b < a; ++b) {
            x.push_back(cosine(g.data() + a * 64, g.data() + b * 64, 64));
            y.push_back(cosine(mu[a].data(), mu[b].data(), 64));
          }
        // bf16 rounding of 8x64 router weights and 128x64 act rows moves R^2 by < 0.03.
        EXPECT_NEAR(pearson_r2(x, y), target, 0.04) << "seed " << k.seed << " layer " << l;
      }
      fs::remove_all(dir);
    }
  }
}

// A3: averaging raises act similarity only when a shared mean neuron is planted.
TEST(SynthPlanting, MeanNeuronRaisesAveragedActSimilarity) {
  for (bool planted : {true, false}) {
    const auto dir = temp_dir("mn");
    generate(recipe(planted ? "  mean_neuron: {strength: 0.6}\n" : "", 2, 8), dir, 7);
    Checkpoint ck(dir);
    std::vector<std::vector<double>> mu;
    for (int e = 0; e < 8; ++e)
      mu.push_back(row_mean(read(ck, mixtral_names(0, e, "w1")), 128, 64));
    double s = 0;
    for (int a = 0; a < 8; ++a)
      for (int b = a + 1; b < 8; ++b) s += cosine(mu[a].data(), mu[b].data(), 64) / 28;
    const double matrix = mean_expert_cos(ck, 0, 8, "w1");
    EXPECT_NEAR(matrix, 0.0, 0.03);
    if (planted)
      EXPECT_GT(s - matrix, 0.3);
    else
      EXPECT_LT(std::fabs(s - matrix), 0.1);
    fs::remove_all(dir);
  }
}

double act_fn(bool gelu, double u) {
  return gelu ? 0.5 * u * std::erfc(-u / std::sqrt(2.0)) : u / (1 + std::exp(-u));
}

// Forward of every expert on x ~ N(0, I): P(argmax score = argmax ||E(x)||) and the active ratio.
struct Dynamic {
  double agreement = 0, ratio = 0;
};
Dynamic dynamic_stats(const Checkpoint& ck, int l, int E, int64_t I, int64_t H, bool gelu,
                      const std::string& router, const std::string& pattern, int tokens) {
  const auto x = random_inputs(tokens, H, 99 + l);
  const Mat g = read(ck, router);
  std::vector<Mat> A, U, D;
  auto name = [&](int e, const char* w) {
    std::string s = pattern;
    s.replace(s.find("{L}"), 3, std::to_string(l));
    s.replace(s.find("{E}"), 3, std::to_string(e));
    return s.replace(s.find("{W}"), 3, w);
  };
  const bool grok = pattern.find("moe_block") != std::string::npos;
  for (int e = 0; e < E; ++e) {
    A.push_back(read(ck, name(e, grok ? "linear" : "w1")));
    U.push_back(read(ck, name(e, grok ? "linear_v" : "w3")));
    D.push_back(read(ck, name(e, grok ? "linear_1" : "w2")));
  }
  Dynamic d;
  double active = 0;
  for (int t = 0; t < tokens; ++t) {
    const double* xt = x.data() + t * H;
    int bs = 0, bn = 0;
    double ms = -1e300, mn = -1e300;
    for (int e = 0; e < E; ++e) {
      std::vector<double> h(I);
      for (int64_t i = 0; i < I; ++i) {
        const double a = act_fn(gelu, dot(A[e].data() + i * H, xt, H));
        active += std::fabs(a) > 1e-3;
        h[i] = a * dot(U[e].data() + i * H, xt, H);
      }
      double n2 = 0;
      for (int64_t j = 0; j < H; ++j) {
        const double o = dot(D[e].data() + j * I, h.data(), I);
        n2 += o * o;
      }
      const double s = dot(g.data() + e * H, xt, H);
      if (s > ms) ms = s, bs = e;
      if (n2 > mn) mn = n2, bn = e;
    }
    d.agreement += (bs == bn) / double(tokens);
  }
  d.ratio = active / (double(tokens) * E * I);
  return d;
}

const std::string kMixtralPattern = "model.layers.{L}.block_sparse_moe.experts.{E}.{W}.weight";

TEST(SynthPlanting, NormAwareRouting) {
  // 1500 test tokens: sampling sd of a proportion <= 0.013; the calibration used ~1000 other
  // tokens (sd ~0.015), hence the 0.07 tolerance.
  for (const auto& k : kCases) {
    for (double target : {0.5, 0.8}) {
      const auto dir = temp_dir("norm");
      generate(recipe("  upcycling: {strength: 0.3}\n  norm_routing: {strength: " +
                          std::to_string(target) + "}\n",
                      2, 8),
               dir, k.seed, k.dtype);
      Checkpoint ck(dir);
      for (int l = 0; l < 2; ++l) {
        const auto d =
            dynamic_stats(ck, l, 8, 128, 64, false, mixtral_router(l), kMixtralPattern, 1500);
        EXPECT_NEAR(d.agreement, target, 0.07) << "seed " << k.seed << " layer " << l;
      }
      fs::remove_all(dir);
    }
  }
  // Without the plant the agreement is near chance (1/8).
  const auto dir = temp_dir("norm0");
  generate(recipe("  upcycling: {strength: 0.3}\n", 1, 8), dir, 1);
  Checkpoint ck(dir);
  EXPECT_LT(
      dynamic_stats(ck, 0, 8, 128, 64, false, mixtral_router(0), kMixtralPattern, 1500).agreement,
      0.25);
  fs::remove_all(dir);
}

TEST(SynthPlanting, ActivationRatioSiluAndGelu) {
  const std::string grok = R"(
family: grok1
model: {num_layers: 1, hidden_size: 64, intermediate_size: 128, num_experts: 4, top_k: 2, num_attention_heads: 4}
plant:
  activation_ratio: {strength: 0.25}
)";
  for (const auto& k : kCases) {
    const auto dir = temp_dir("ratio");
    generate(grok, dir, k.seed, k.dtype);
    Checkpoint ck(dir);
    const auto d = dynamic_stats(ck, 0, 4, 128, 64, true, "model.layers.0.moe_block.gate.weight",
                                 "model.layers.{L}.moe_block.experts.{E}.{W}.weight", 300);
    EXPECT_NEAR(d.ratio, 0.25, 0.02) << "GELU, seed " << k.seed;
    fs::remove_all(dir);

    const auto dir2 = temp_dir("ratio2");
    generate(recipe("  activation_ratio: {strength: 0.996}\n", 1, 4), dir2, k.seed, k.dtype);
    Checkpoint ck2(dir2);
    const auto d2 =
        dynamic_stats(ck2, 0, 4, 128, 64, false, mixtral_router(0), kMixtralPattern, 300);
    EXPECT_NEAR(d2.ratio, 0.996, 0.003) << "SiLU, seed " << k.seed;
    fs::remove_all(dir2);
  }
}

TEST(SynthPlanting, ActiveProbabilityMatchesClosedForm) {
  // For SiLU with unit rows, only |u| < ~2e-3 (and u < -9.2) is inactive: P ~ 1 - 0.0016.
  EXPECT_NEAR(active_probability(Activation::SiLU, 1.0), 1.0 - 0.0016, 2e-4);
  // GELU additionally loses u < -3.45 or so: P(z < -3.45) = 2.8e-4.
  EXPECT_NEAR(active_probability(Activation::GELU, 1.0), 1.0 - 0.0016 - 0.0003, 2e-4);
}

}  // namespace
}  // namespace moeprobe::synth::testing

namespace moeprobe::synth::testing {
namespace {

// Spread and axis: pair similarities vary around c with one pattern shared by act, up and down
// (what a1-matrices-agree sees), and the mean over pairs stays c.
TEST(SynthPlanting, SpreadAndAxisGiveSharedHeterogeneity) {
  const auto dir = temp_dir("spread");
  generate(recipe("  upcycling: {strength: 0.4, spread: 0.25, axis: 0.3}\n", 1, 8), dir, 7);
  Checkpoint ck(dir);
  std::vector<double> pairs[2];
  int k = 0;
  for (const char* w : {"w1", "w3"}) {
    std::vector<Mat> m;
    for (int e = 0; e < 8; ++e) m.push_back(read(ck, mixtral_names(0, e, w)));
    for (int a = 0; a < 8; ++a)
      for (int b = a + 1; b < 8; ++b) pairs[k].push_back(cosine(m[a], m[b]));
    ++k;
  }
  EXPECT_NEAR(std::accumulate(pairs[0].begin(), pairs[0].end(), 0.0) / pairs[0].size(), 0.4, 0.03);
  const double lo = *std::min_element(pairs[0].begin(), pairs[0].end()),
               hi = *std::max_element(pairs[0].begin(), pairs[0].end());
  EXPECT_GT(hi - lo, 0.2);  // heterogeneous, not every pair at c
  std::vector<double> x = pairs[0], y = pairs[1];
  // Pearson r between the act and up pair lists.
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size(),
               my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx),
        syy += (y[i] - my) * (y[i] - my);
  EXPECT_GT(sxy / std::sqrt(sxx * syy), 0.95);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moeprobe::synth::testing
