// Every primitive: the CPU backend against the float64 reference on random shapes (odd sizes,
// non-power-of-two expert counts) and dtypes, plus make_backend and bad inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "test_tensors.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using test::gaussian;
using test::make_tensor;
using test::OwnedTensor;

struct Set {
  std::vector<std::shared_ptr<OwnedTensor>> owned;
  std::vector<TensorView> views;
};

// N matrices [rows, cols]; every 7th element position is made identical across the set so the
// standardised Gram has positions to skip.
Set make_set(int n, int64_t rows, int64_t cols, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto shared = gaussian(static_cast<std::size_t>(rows * cols), rng, 0.05f);
  Set s;
  for (int a = 0; a < n; ++a) {
    auto v = gaussian(static_cast<std::size_t>(rows * cols), rng, 0.05f, 0.01f);
    for (std::size_t k = 0; k < v.size(); k += 7) v[k] = shared[k];
    s.owned.push_back(make_tensor(v, {rows, cols}, dtype, "m" + std::to_string(a)));
    s.views.push_back(s.owned.back()->view);
  }
  return s;
}

struct Case {
  int n;
  int64_t rows, cols;
  DType dtype;
};

class MatrixSetStatsTest : public ::testing::TestWithParam<Case> {};

// Tolerance: the CPU backend sums float32 products in float32 within blocks of a few thousand
// elements and adds the blocks in float64. Relative to the norms, a Gram entry may differ from
// the float64 reference by ~1e-6 on these small inputs (one block per lane sum); we allow 1e-5.
TEST_P(MatrixSetStatsTest, CpuMatchesReference) {
  const Case c = GetParam();
  const Set s = make_set(c.n, c.rows, c.cols, c.dtype, 17 + c.n);
  ReferenceBackend ref;
  CpuBackend cpu(2);
  MatrixSetRequest req{true, true, true};
  for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols}) {
    const MatrixSetStats r = ref.matrix_set_stats(s.views, axis, req);
    const MatrixSetStats f = cpu.matrix_set_stats(s.views, axis, req);
    ASSERT_EQ(f.gram.rows, c.n);
    for (int a = 0; a < c.n; ++a)
      for (int b = 0; b < c.n; ++b) {
        const double scale = std::sqrt(r.gram(a, a) * r.gram(b, b));
        EXPECT_NEAR(f.gram(a, b), r.gram(a, b), 1e-5 * scale) << a << "," << b;
        const double sscale =
            std::sqrt(r.standardized_gram(a, a) * r.standardized_gram(b, b)) + 1e-12;
        EXPECT_NEAR(f.standardized_gram(a, b), r.standardized_gram(a, b), 1e-5 * sscale);
      }
    EXPECT_EQ(f.skipped_positions, r.skipped_positions);
    if (c.n >= 2) EXPECT_GE(r.skipped_positions, c.rows * c.cols / 7);
    const int64_t hidden = axis == NeuronAxis::Rows ? c.cols : c.rows;
    ASSERT_EQ(f.mean_neuron.size(), static_cast<std::size_t>(c.n));
    for (int a = 0; a < c.n; ++a) {
      ASSERT_EQ(f.mean_neuron[a].size(), static_cast<std::size_t>(hidden));
      for (int64_t h = 0; h < hidden; ++h)
        EXPECT_NEAR(f.mean_neuron[a][h], r.mean_neuron[a][h], 1e-7);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatrixSetStatsTest,
    ::testing::Values(Case{3, 37, 53, DType::F32}, Case{5, 37, 53, DType::BF16},
                      Case{7, 37, 53, DType::F16}, Case{60, 19, 23, DType::BF16},
                      Case{7, 64, 96, DType::BF16}, Case{5, 1, 1, DType::F32},
                      Case{1, 13, 11, DType::F16}, Case{3, 200, 301, DType::F32}));

TEST(MatrixSetStats, KnownValues) {
  // Two 1x2 matrices [1, 2] and [3, 4]: Gram [[5, 11], [11, 25]]; standardised: each position
  // has values {1, 3} or {2, 4}, z = -/+ 1/sqrt(2), so G_std = [[1, -1], [-1, 1]].
  auto a = make_tensor({1, 2}, {1, 2}, DType::F32), b = make_tensor({3, 4}, {1, 2}, DType::F32);
  for (const char* name : {"reference", "cpu"}) {
    auto be = make_backend(name);
    const auto s = be->matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, {true, true, true});
    EXPECT_DOUBLE_EQ(s.gram(0, 1), 11.0) << name;
    EXPECT_DOUBLE_EQ(s.gram(1, 1), 25.0) << name;
    EXPECT_NEAR(s.standardized_gram(0, 1), -1.0, 1e-6) << name;
    EXPECT_NEAR(s.standardized_gram(0, 0), 1.0, 1e-6) << name;
    EXPECT_DOUBLE_EQ(s.mean_neuron[1][0], 3.0) << name;
    const auto c = be->matrix_set_stats({a->view, b->view}, NeuronAxis::Cols, {true, false, true});
    EXPECT_DOUBLE_EQ(c.mean_neuron[0][0], 1.5) << name;
  }
}

// The accuracy contract: a cosine near 0 over ~20M bf16 elements matches float64 within 1e-6.
TEST(MatrixSetStats, CosineNearZeroOverTwentyMillionElements) {
  const int64_t rows = 4096, cols = 4883;
  std::mt19937_64 rng(3);
  auto a = make_tensor(gaussian(rows * cols, rng, 0.02f), {rows, cols}, DType::BF16, "a");
  auto b = make_tensor(gaussian(rows * cols, rng, 0.02f, 0.0003f), {rows, cols}, DType::BF16, "b");
  MatrixSetRequest req{true, false, false};
  const auto r = ReferenceBackend().matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, req);
  const auto f = CpuBackend(2).matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, req);
  const double cr = r.gram(0, 1) / std::sqrt(r.gram(0, 0) * r.gram(1, 1));
  const double cf = f.gram(0, 1) / std::sqrt(f.gram(0, 0) * f.gram(1, 1));
  EXPECT_LT(std::fabs(cr), 0.05);
  EXPECT_NEAR(cf, cr, 1e-6);
}

TEST(GramRows, CpuMatchesReference) {
  std::mt19937_64 rng(5);
  for (auto [n, d] : {std::pair<int64_t, int64_t>{60, 53}, {7, 2048}, {3, 1}}) {
    auto m = make_tensor(gaussian(n * d, rng), {n, d}, DType::BF16, "router");
    const Matrix r = ReferenceBackend().gram_rows(m->view);
    const Matrix f = CpuBackend(2).gram_rows(m->view);
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b)
        EXPECT_NEAR(f(a, b), r(a, b), 1e-5 * std::sqrt(r(a, a) * r(b, b)));
  }
}

TEST(NeuronCosine, CpuMatchesReference) {
  std::mt19937_64 rng(9);
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{37, 53}, {8, 1100}, {1, 5}}) {
      auto a = make_tensor(gaussian(rows * cols, rng), {rows, cols}, dt, "a");
      auto b = make_tensor(gaussian(rows * cols, rng), {rows, cols}, dt, "b");
      for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols}) {
        const Matrix r = ReferenceBackend().neuron_cosine(a->view, b->view, axis);
        const Matrix f = CpuBackend(2).neuron_cosine(a->view, b->view, axis);
        ASSERT_EQ(f.rows, axis == NeuronAxis::Rows ? rows : cols);
        for (std::size_t k = 0; k < r.data.size(); ++k) EXPECT_NEAR(f.data[k], r.data[k], 1e-6);
        const auto nr = ReferenceBackend().neuron_norms(a->view, axis);
        const auto nf = CpuBackend(2).neuron_norms(a->view, axis);
        for (std::size_t k = 0; k < nr.size(); ++k) EXPECT_NEAR(nf[k], nr[k], 1e-6 * nr[k]);
      }
    }
}

TEST(Backends, NanWeightsAreAnInputError) {
  std::vector<float> v(12, 1.f);
  v[5] = std::nanf("");
  auto bad = make_tensor(v, {3, 4}, DType::BF16, "experts.1.w1");
  auto good = make_tensor(std::vector<float>(12, 1.f), {3, 4}, DType::BF16, "experts.0.w1");
  for (const char* name : {"reference", "cpu"}) {
    auto be = make_backend(name);
    try {
      be->matrix_set_stats({good->view, bad->view}, NeuronAxis::Rows, {});
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), "experts.1.w1");
    }
    EXPECT_THROW(be->gram_rows(bad->view), InputError);
  }
}

TEST(Backends, ShapeMismatchIsAnInputError) {
  auto a = make_tensor(std::vector<float>(12, 1.f), {3, 4}, DType::F32, "a");
  auto b = make_tensor(std::vector<float>(12, 1.f), {4, 3}, DType::F32, "b");
  for (const char* name : {"reference", "cpu"})
    EXPECT_THROW(make_backend(name)->matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, {}),
                 InputError);
}

TEST(MakeBackend, NamesAndFallback) {
  EXPECT_EQ(make_backend("reference")->name(), "reference");
  EXPECT_EQ(make_backend("cpu")->name(), "cpu");
  EXPECT_THROW(make_backend("gpu"), InputError);
  std::string notice;
  auto be = make_backend("auto", &notice);
  if (be->name() == "cpu") {
    EXPECT_NE(notice.find("using the CPU backend"), std::string::npos);
    try {
      make_backend("cuda");
      FAIL() << "cuda without a device must be an error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), "--device");
    }
  } else {
    EXPECT_EQ(be->name(), "cuda");
    EXPECT_TRUE(notice.empty());
  }
}

}  // namespace
}  // namespace moeprobe
