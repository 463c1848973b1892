// The all-experts evaluation: the float64 reference against outputs computed here by hand
// (an independent oracle), and the CPU backend against the reference on odd shapes,
// non-power-of-two expert counts, several token blocks, multi-part shared blocks with a sigmoid
// gate, a reference FFN of another width, bf16 weights; plus bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cuda_test_backend.h"
#include "kernels/all_experts_common.h"
#include "kernels/cpu/all_experts_cpu.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "test_tensors.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using test::gaussian;
using test::make_tensor;
using test::OwnedTensor;

struct Problem {
  std::vector<std::shared_ptr<OwnedTensor>> owned;
  AllExpertsRequest req;
  std::vector<float> x;  // [T, H] as float
  TensorView add(const std::vector<float>& v, std::vector<int64_t> shape, DType dt,
                 const std::string& name) {
    owned.push_back(make_tensor(v, std::move(shape), dt, name));
    return owned.back()->view;
  }
  ExpertWeights expert(std::mt19937_64& rng, int64_t I, int64_t H, DType dt,
                       const std::string& name, float shared_mix = 0.f,
                       const std::vector<float>* base = nullptr) {
    auto mat = [&](int64_t r, int64_t c, const char* m, int which) {
      std::vector<float> v = gaussian(static_cast<std::size_t>(r * c), rng, 0.4f);
      if (base && shared_mix > 0)
        for (std::size_t k = 0; k < v.size(); ++k)
          v[k] = (1 - shared_mix) * v[k] + shared_mix * (*base)[which * v.size() + k];
      return add(v, {r, c}, dt, name + "." + m);
    };
    return {mat(I, H, "act", 0), mat(I, H, "up", 1), mat(H, I, "down", 2)};
  }
};

struct Shape {
  int64_t T, H, I;
  int E, k;
  bool shared, reference;
  DType dtype;
};

Problem make_problem(const Shape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Problem p;
  p.x = gaussian(static_cast<std::size_t>(s.T * s.H), rng, 1.0f);
  p.req.tokens = p.add(p.x, {s.T, s.H}, DType::F32, "x");
  // Experts share part of their weights (upcycled-like), so similarities are not all ~0.
  const std::vector<float> base = gaussian(static_cast<std::size_t>(3 * s.I * s.H), rng, 0.4f);
  for (int e = 0; e < s.E; ++e)
    p.req.entities.push_back(
        {{p.expert(rng, s.I, s.H, s.dtype, "e" + std::to_string(e), 0.6f, &base)},
         Activation::SiLU,
         {}});
  p.req.num_experts = s.E;
  if (s.shared) {
    FfnEntity sh;
    sh.parts = {p.expert(rng, s.I + 2, s.H, s.dtype, "shared0"),
                p.expert(rng, 3, s.H, s.dtype, "shared1")};
    sh.activation = Activation::SiLU;
    sh.sigmoid_gate = p.add(gaussian(static_cast<std::size_t>(s.H), rng, 0.5f), {1, s.H},
                            DType::F32, "shared_gate");
    p.req.entities.push_back(sh);
    p.req.num_shared = 1;
  }
  if (s.reference) {
    p.req.entities.push_back(
        {{p.expert(rng, s.I + 5, s.H, s.dtype, "F")}, Activation::GELUTanh, {}});
    p.req.has_reference = true;
  }
  std::uniform_int_distribution<int> pick(0, s.E - 1);
  p.req.top_k = s.k;
  for (int64_t t = 0; t < s.T; ++t) {
    std::vector<int> chosen;
    while (static_cast<int>(chosen.size()) < s.k) {
      const int e = pick(rng);
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
    }
    p.req.chosen.insert(p.req.chosen.end(), chosen.begin(), chosen.end());
    p.req.bos_mask.push_back(t % 5 == 0 ? 1 : 0);
  }
  p.req.activation_thresholds = {1e-3, 0.25};
  p.req.act_correlation = true;
  return p;
}

void expect_vectors_near(const std::vector<double>& got, const std::vector<double>& want,
                         double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << "[" << i << "]";
      continue;
    }
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i])))
        << what << "[" << i << "]";
  }
}

void expect_stats_near(const AllExpertsStats& f, const AllExpertsStats& r, double tol) {
  ASSERT_EQ(f.entities, r.entities);
  ASSERT_EQ(f.tokens, r.tokens);
  expect_vectors_near(f.norms, r.norms, tol, "norms");
  expect_vectors_near(f.mean_cosine, r.mean_cosine, tol, "mean_cosine");
  expect_vectors_near(f.mean_angular, r.mean_angular, tol, "mean_angular");
  expect_vectors_near(f.chosen_cosine, r.chosen_cosine, tol, "chosen_cosine");
  expect_vectors_near(f.chosen_angular, r.chosen_angular, tol, "chosen_angular");
  expect_vectors_near(f.shared_cosine, r.shared_cosine, tol, "shared_cosine");
  expect_vectors_near(f.shared_angular, r.shared_angular, tol, "shared_angular");
  expect_vectors_near(f.reference_cosine, r.reference_cosine, tol, "reference_cosine");
  expect_vectors_near(f.reference_angular, r.reference_angular, tol, "reference_angular");
  expect_vectors_near(f.act_correlation, r.act_correlation, 20 * tol, "act_correlation");
  expect_vectors_near(f.all.cosine.data, r.all.cosine.data, tol * r.tokens, "all.cosine");
  expect_vectors_near(f.all.angular.data, r.all.angular.data, tol * r.tokens, "all.angular");
  expect_vectors_near(f.non_bos.cosine.data, r.non_bos.cosine.data, tol * r.tokens,
                      "non_bos.cosine");
  EXPECT_EQ(f.all.tokens, r.all.tokens);
  EXPECT_EQ(f.non_bos.tokens, r.non_bos.tokens);
  EXPECT_EQ(f.entity_neurons, r.entity_neurons);
  ASSERT_EQ(f.active_counts.size(), r.active_counts.size());
  for (std::size_t q = 0; q < r.active_counts.size(); ++q)
    for (std::size_t i = 0; i < r.active_counts[q].size(); ++i)
      // float32 pre-activations may land on the other side of a threshold: at most one neuron.
      EXPECT_LE(std::abs(f.active_counts[q][i] - r.active_counts[q][i]), 1) << q << "," << i;
}

class AllExpertsParity : public ::testing::TestWithParam<Shape> {};

TEST_P(AllExpertsParity, CpuMatchesReferenceInOneAndManyBlocks) {
  const Shape s = GetParam();
  Problem p = make_problem(s, 101 + s.E);
  ReferenceBackend ref;
  const AllExpertsStats r = ref.all_experts(p.req);
  EXPECT_EQ(r.all.tokens, s.T);
  EXPECT_EQ(r.non_bos.tokens, s.T - (s.T + 4) / 5);
  for (int threads : {1, 3}) {
    const AllExpertsStats one = cpu_all_experts(p.req, threads);
    expect_stats_near(one, r, 2e-5);
    AllExpertsRequest small = p.req;
    small.block_bytes = 1;  // one token per block
    EXPECT_EQ(cpu_all_experts_block(small, threads), 1);
    expect_stats_near(cpu_all_experts(small, threads), r, 2e-5);
    small.block_bytes = static_cast<std::size_t>(3 * 4 * (s.H + 64 * s.E * s.I));  // a few tokens
    expect_stats_near(cpu_all_experts(small, threads), r, 2e-5);
  }
  CpuBackend cpu(2);
  expect_stats_near(cpu.all_experts(p.req), r, 2e-5);
}

// The CUDA primitive against the reference on the same shapes (float32 SGEMMs on the device, the
// Grams summed in float32 over the hidden dimension: same tolerance); skipped without a device.
TEST_P(AllExpertsParity, CudaMatchesReference) {
  std::string why;
  std::unique_ptr<Backend> cuda = test::make_test_cuda_backend(0, test::Gemm::Auto, &why);
  if (!cuda) GTEST_SKIP() << why;
  const Shape s = GetParam();
  Problem p = make_problem(s, 101 + s.E);
  const AllExpertsStats r = ReferenceBackend().all_experts(p.req);
  expect_stats_near(cuda->all_experts(p.req), r, 2e-5);
  AllExpertsRequest small = p.req;
  small.block_bytes = 1;  // one token per block
  expect_stats_near(cuda->all_experts(small), r, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AllExpertsParity,
                         ::testing::Values(Shape{37, 13, 11, 7, 2, true, true, DType::F32},
                                           Shape{5, 9, 5, 60, 4, false, false, DType::F32},
                                           Shape{19, 33, 70, 3, 3, true, false, DType::BF16},
                                           Shape{11, 17, 129, 2, 1, false, true, DType::F16},
                                           Shape{1, 6, 3, 1, 1, true, true, DType::F32}));

// gpt-oss's experts: clamped GLU ((clamp(u, -limit, limit) + 1) * g * sigmoid(alpha g),
// g = min(a, limit); a limit of 0.9 so the clamp bites on both sides at these scales) with act, up
// and down biases on every part, the multi-part shared block and the reference FFN included.
Problem make_gpt_oss_problem(const Shape& s, uint64_t seed) {
  Problem p = make_problem(s, seed);
  std::mt19937_64 rng(seed + 1);
  for (FfnEntity& e : p.req.entities) {
    e.activation = ActivationSpec(Activation::ClampedSwiGLU, 1.702, 0.9);
    for (ExpertWeights& w : e.parts) {
      const int64_t I = w.intermediate(), H = w.hidden();
      w.act_bias = p.add(gaussian(I, rng, 0.5f), {I}, DType::F32, w.act.name + ".bias");
      w.up_bias = p.add(gaussian(I, rng, 0.5f), {I}, DType::BF16, w.up.name + ".bias");
      w.down_bias = p.add(gaussian(H, rng, 0.5f), {H}, DType::F32, w.down.name + ".bias");
    }
  }
  return p;
}

TEST_P(AllExpertsParity, GptOssClampedGluAndBiasesCpuMatchesReference) {
  const Shape s = GetParam();
  Problem p = make_gpt_oss_problem(s, 202 + s.E);
  const AllExpertsStats r = ReferenceBackend().all_experts(p.req);
  for (int threads : {1, 3}) {
    expect_stats_near(cpu_all_experts(p.req, threads), r, 2e-5);
    AllExpertsRequest small = p.req;
    small.block_bytes = 1;
    expect_stats_near(cpu_all_experts(small, threads), r, 2e-5);
  }
  // Without the biases and the clamp the statistics differ (the test would see either missing).
  AllExpertsRequest plain = p.req;
  for (FfnEntity& e : plain.entities) {
    e.activation = Activation::SiLU;
    for (ExpertWeights& w : e.parts) w.act_bias = w.up_bias = w.down_bias = std::nullopt;
  }
  const AllExpertsStats q = ReferenceBackend().all_experts(plain);
  double diff = 0;
  for (std::size_t i = 0; i < q.norms.size(); ++i)
    diff = std::max(diff, std::fabs(q.norms[i] - r.norms[i]));
  EXPECT_GT(diff, 1e-3);
}

TEST_P(AllExpertsParity, GptOssClampedGluAndBiasesCudaMatchesReference) {
  std::string why;
  std::unique_ptr<Backend> cuda = test::make_test_cuda_backend(0, test::Gemm::Auto, &why);
  if (!cuda) GTEST_SKIP() << why;
  const Shape s = GetParam();
  Problem p = make_gpt_oss_problem(s, 202 + s.E);
  expect_stats_near(cuda->all_experts(p.req), ReferenceBackend().all_experts(p.req), 2e-5);
}

// The reference on gpt-oss's layout against outputs written out here: act and up are the even and
// odd rows of one fused [2I, H] tensor (mapped views, as the loader makes them), their biases the
// even and odd entries of one [2I] vector, y = W_down glu(a, u) + b_down.
TEST(AllExpertsReference, GptOssInterleavedExpertMatchesHandComputedOutputs) {
  std::mt19937_64 rng(9);
  Problem p;
  const int64_t T = 3, H = 6, I = 4;
  const double alpha = 1.702, limit = 0.9;
  p.x = gaussian(T * H, rng);
  p.req.tokens = p.add(p.x, {T, H}, DType::F32, "x");
  const auto gu = gaussian(2 * I * H, rng, 0.6f), gub = gaussian(2 * I, rng, 0.5f),
             dn = gaussian(H * I, rng, 0.6f), dnb = gaussian(H, rng, 0.5f);
  const TensorView fused = p.add(gu, {2 * I, H}, DType::F32, "gate_up");
  const TensorView fused_bias = p.add(gub, {2 * I}, DType::F32, "gate_up_bias");
  ExpertWeights w{fused.every0(0, 2), fused.every0(1, 2), p.add(dn, {H, I}, DType::F32, "down")};
  w.act_bias = fused_bias.every0(0, 2);
  w.up_bias = fused_bias.every0(1, 2);
  w.down_bias = p.add(dnb, {H}, DType::F32, "down_bias");
  p.req.entities = {{{w}, ActivationSpec(Activation::ClampedSwiGLU, alpha, limit), {}}};
  p.req.num_experts = 1;
  p.req.activation_thresholds = {1e-3};
  for (Backend* b : std::initializer_list<Backend*>{new ReferenceBackend, new CpuBackend(2)}) {
    std::unique_ptr<Backend> own(b);
    const AllExpertsStats r = b->all_experts(p.req);
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> h(I);
      int active = 0;
      for (int64_t i = 0; i < I; ++i) {
        double a = gub[2 * i], u = gub[2 * i + 1];
        for (int64_t k = 0; k < H; ++k) {
          a += gu[(2 * i) * H + k] * p.x[t * H + k];
          u += gu[(2 * i + 1) * H + k] * p.x[t * H + k];
        }
        const double g = std::min(a, limit);
        const double act = g / (1 + std::exp(-alpha * g));
        active += std::fabs(act) > 1e-3;
        h[i] = (std::max(-limit, std::min(u, limit)) + 1) * act;
      }
      double norm2 = 0;
      for (int64_t o = 0; o < H; ++o) {
        double y = dnb[o];
        for (int64_t i = 0; i < I; ++i) y += dn[o * I + i] * h[i];
        norm2 += y * y;
      }
      EXPECT_NEAR(r.norm(t, 0), std::sqrt(norm2), 1e-5 * std::sqrt(norm2)) << b->name();
      EXPECT_EQ(r.active_counts[0][t], active) << b->name();
    }
  }
}

// The reference against outputs written out here: y_e = W_down (silu(W_act x) * (W_up x)).
TEST(AllExpertsReference, MatchesHandComputedOutputs) {
  const Shape s{4, 5, 3, 3, 2, false, false, DType::F32};
  Problem p = make_problem(s, 7);
  p.req.act_correlation = false;
  const AllExpertsStats r = ReferenceBackend().all_experts(p.req);
  for (int64_t t = 0; t < s.T; ++t) {
    std::vector<std::vector<double>> y(static_cast<std::size_t>(s.E));
    for (int e = 0; e < s.E; ++e) {
      const ExpertWeights& w = p.req.entities[e].parts[0];
      std::vector<double> wa(15), wu(15), wd(15), h(3);
      w.act.read_double(0, 15, wa.data());
      w.up.read_double(0, 15, wu.data());
      w.down.read_double(0, 15, wd.data());
      for (int i = 0; i < 3; ++i) {
        double a = 0, u = 0;
        for (int k = 0; k < 5; ++k) {
          a += wa[i * 5 + k] * p.x[t * 5 + k];
          u += wu[i * 5 + k] * p.x[t * 5 + k];
        }
        h[i] = a / (1 + std::exp(-a)) * u;
      }
      for (int o = 0; o < 5; ++o) {
        double v = 0;
        for (int i = 0; i < 3; ++i) v += wd[o * 3 + i] * h[i];
        y[e].push_back(v);
      }
    }
    auto dot = [&](int a, int b) {
      double d = 0;
      for (int o = 0; o < 5; ++o) d += y[a][o] * y[b][o];
      return d;
    };
    double mean = 0;
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(r.norm(t, a), std::sqrt(dot(a, a)), 1e-12);
      for (int b = a + 1; b < 3; ++b) mean += dot(a, b) / std::sqrt(dot(a, a) * dot(b, b)) / 3;
    }
    EXPECT_NEAR(r.mean_cosine[t], mean, 1e-12);
    const int c0 = p.req.chosen[t * 2], c1 = p.req.chosen[t * 2 + 1];
    const double cc = dot(c0, c1) / std::sqrt(dot(c0, c0) * dot(c1, c1));
    EXPECT_NEAR(r.chosen_cosine[t], cc, 1e-12);
    EXPECT_NEAR(r.chosen_angular[t], 1 - std::acos(cc) / M_PI, 1e-12);
  }
  // Diagonal of the cosine sums: every token adds 1.
  EXPECT_NEAR(r.all.cosine(1, 1), static_cast<double>(s.T), 1e-12);
}

// Identical experts have cosine 1 (angular 1); an expert with negated W_down has cosine -1
// (angular 0); the act correlation of identical act rows is 1.
TEST(AllExpertsReference, KnownSimilarities) {
  std::mt19937_64 rng(3);
  Problem p;
  const int64_t T = 6, H = 8, I = 5;
  p.x = gaussian(T * H, rng);
  p.req.tokens = p.add(p.x, {T, H}, DType::F32, "x");
  const auto a = gaussian(I * H, rng), u = gaussian(I * H, rng), d = gaussian(H * I, rng);
  std::vector<float> nd(d);
  for (float& v : nd) v = -v;
  const ExpertWeights w0{p.add(a, {I, H}, DType::F32, "a"), p.add(u, {I, H}, DType::F32, "u"),
                         p.add(d, {H, I}, DType::F32, "d")};
  ExpertWeights w2 = w0;
  w2.down = p.add(nd, {H, I}, DType::F32, "nd");
  p.req.entities = {
      {{w0}, Activation::SiLU, {}}, {{w0}, Activation::SiLU, {}}, {{w2}, Activation::SiLU, {}}};
  p.req.num_experts = 3;
  p.req.act_correlation = true;
  for (Backend* b : std::initializer_list<Backend*>{new ReferenceBackend, new CpuBackend(2)}) {
    std::unique_ptr<Backend> own(b);
    const AllExpertsStats s = b->all_experts(p.req);
    for (int64_t t = 0; t < T; ++t) {
      EXPECT_NEAR(s.mean_cosine[t], (1.0 - 1.0 - 1.0) / 3, 1e-6);
      EXPECT_NEAR(s.mean_angular[t], (1.0 + 0.0 + 0.0) / 3, 1e-3);
      EXPECT_NEAR(s.act_correlation[t], 1.0, 1e-5);
      EXPECT_TRUE(std::isnan(s.chosen_cosine[t]));  // no routing given
    }
    EXPECT_NEAR(s.all.cosine(0, 2), -static_cast<double>(T), 1e-5);
  }
}

TEST(AllExpertsChecks, RejectBadInputs) {
  Problem p = make_problem({3, 5, 4, 2, 2, false, false, DType::F32}, 1);
  ReferenceBackend ref;
  {
    AllExpertsRequest r = p.req;
    r.entities[1].parts[0].up = r.entities[1].parts[0].down;  // [H, I] where [I, H] is expected
    EXPECT_THROW(ref.all_experts(r), InputError);
    EXPECT_THROW(cpu_all_experts(r, 1), InputError);
  }
  {
    // A NaN weight makes an output non-finite: bad input naming the expert's W_down.
    std::vector<float> v(20, 0.1f);
    v[3] = std::nanf("");
    AllExpertsRequest r = p.req;
    r.entities[0].parts[0].act = p.add(v, {4, 5}, DType::F32, "nan_act");
    for (Backend* b : std::initializer_list<Backend*>{new ReferenceBackend, new CpuBackend(1)}) {
      std::unique_ptr<Backend> own(b);
      try {
        b->all_experts(r);
        ADD_FAILURE() << "no error";
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("e0.down"), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace moeprobe
