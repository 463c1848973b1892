// A6 neuron-level PCA: the layer's intermediate and metric against a float64 reference written
// here from the definition (z-scored columns, Jacobi eigen-decomposition of the correlation
// matrix, median + 3 MAD distance rule), on planted layers with known outlier neurons.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "../kernels/test_tensors.h"
#include "metrics/layer_statistics.h"
#include "metrics/metric.h"
#include "metrics/neuron_pca.h"
#include "metrics/symmetric_eigen.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using test::make_tensor;
using test::OwnedTensor;

// Cyclic Jacobi: eigenvalues (descending) and eigenvectors (columns) of a small symmetric matrix.
void jacobi(std::vector<std::vector<double>> a, std::vector<double>& values,
            std::vector<std::vector<double>>& vectors) {
  const std::size_t n = a.size();
  vectors.assign(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i) vectors[i][i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) off += a[p][q] * a[p][q];
    if (off < 1e-26) break;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        if (std::fabs(a[p][q]) < 1e-300) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const double vkp = vectors[k][p], vkq = vectors[k][q];
          vectors[k][p] = c * vkp - s * vkq;
          vectors[k][q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto x, auto y) { return a[x][x] > a[y][y]; });
  values.clear();
  auto v = vectors;
  for (std::size_t j = 0; j < n; ++j) {
    values.push_back(a[order[j]][order[j]]);
    for (std::size_t i = 0; i < n; ++i) vectors[i][j] = v[i][order[j]];
  }
}

double med(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const std::size_t n = x.size();
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

struct Reference {
  std::vector<std::array<double, 2>> points;
  std::vector<double> explained;
  std::vector<int> outliers;
};

// rows: every neuron vector (length H), expert-major.
Reference reference_pca(const std::vector<std::vector<double>>& rows) {
  const std::size_t m = rows.size(), h = rows[0].size();
  std::vector<double> mu(h, 0.0), sd(h, 0.0);
  for (const auto& r : rows)
    for (std::size_t j = 0; j < h; ++j) mu[j] += r[j] / m;
  for (const auto& r : rows)
    for (std::size_t j = 0; j < h; ++j) sd[j] += (r[j] - mu[j]) * (r[j] - mu[j]) / (m - 1);
  for (auto& s : sd) s = std::sqrt(s);
  std::vector<std::vector<double>> z(m, std::vector<double>(h));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < h; ++j) z[i][j] = (rows[i][j] - mu[j]) / sd[j];
  std::vector<std::vector<double>> corr(h, std::vector<double>(h, 0.0));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t a = 0; a < h; ++a)
      for (std::size_t b = 0; b < h; ++b) corr[a][b] += z[i][a] * z[i][b] / (m - 1);
  std::vector<double> values;
  std::vector<std::vector<double>> vectors;
  jacobi(corr, values, vectors);
  Reference out;
  out.explained = {values[0] / h, values[1] / h};
  for (std::size_t i = 0; i < m; ++i) {
    std::array<double, 2> p{0, 0};
    for (std::size_t j = 0; j < h; ++j)
      for (int k = 0; k < 2; ++k) p[k] += z[i][j] * vectors[j][k];
    out.points.push_back(p);
  }
  std::vector<double> xs, ys, d, dev;
  for (const auto& p : out.points) {
    xs.push_back(p[0]);
    ys.push_back(p[1]);
  }
  const double mx = med(xs), my = med(ys);
  for (const auto& p : out.points) d.push_back(std::hypot(p[0] - mx, p[1] - my));
  const double md = med(d);
  for (double x : d) dev.push_back(std::fabs(x - md));
  const double mad = med(dev);
  for (std::size_t i = 0; i < m; ++i)
    if (d[i] > md + 3 * mad) out.outliers.push_back(static_cast<int>(i));
  return out;
}

struct Planted {
  std::vector<std::shared_ptr<OwnedTensor>> owned;
  MoeLayer layer;
  std::vector<std::vector<double>> neurons[3];  // per kind, expert-major neuron vectors
};

// Experts of I neurons in H dims; the neurons of kind m have a correlated structure (two latent
// directions) and expert 2's first `outliers` neurons are pushed far out along the first.
Planted planted(int experts, int64_t I, int64_t H, int outliers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> dir1(H), dir2(H);
  for (auto& x : dir1) x = g(rng);
  for (auto& x : dir2) x = g(rng);
  Planted p;
  for (int e = 0; e < experts; ++e) {
    std::vector<float> mats[3];
    for (int k = 0; k < 3; ++k) {
      std::vector<std::vector<double>> nv(I, std::vector<double>(H));
      for (int64_t i = 0; i < I; ++i) {
        const double a = 2.0 * g(rng), b = 1.0 * g(rng);
        const double push = (e == 2 && i < outliers) ? 12.0 : 0.0;
        for (int64_t j = 0; j < H; ++j)
          nv[i][j] = static_cast<float>((a + push) * dir1[j] + b * dir2[j] + 0.5 * g(rng));
      }
      std::vector<float> flat(static_cast<std::size_t>(I * H));
      for (int64_t i = 0; i < I; ++i)
        for (int64_t j = 0; j < H; ++j)
          flat[k == 2 ? j * I + i : i * H + j] = static_cast<float>(nv[i][j]);  // down: [H, I]
      mats[k] = flat;
      for (auto& r : nv) p.neurons[k].push_back(r);
    }
    ExpertWeights w;
    p.owned.push_back(make_tensor(mats[0], {I, H}, DType::F32, "act"));
    w.act = p.owned.back()->view;
    p.owned.push_back(make_tensor(mats[1], {I, H}, DType::F32, "up"));
    w.up = p.owned.back()->view;
    p.owned.push_back(make_tensor(mats[2], {H, I}, DType::F32, "down"));
    w.down = p.owned.back()->view;
    p.layer.experts.push_back(w);
  }
  p.owned.push_back(make_tensor(std::vector<float>(experts * H, 0.1f), {experts, H}, DType::F32));
  p.layer.router = p.owned.back()->view;
  return p;
}

TEST(A6, NeuronPcaEqualsTheFloat64Reference) {
  Planted p = planted(4, 40, 12, 5, 7);
  for (MatrixKind m : {MatrixKind::Act, MatrixKind::Up, MatrixKind::Down}) {
    SCOPED_TRACE(matrix_kind_name(m));
    const NeuronPca got = compute_neuron_pca(p.layer.experts, m, 0);
    const Reference want = reference_pca(p.neurons[static_cast<int>(m)]);
    ASSERT_EQ(got.points.size(), want.points.size());
    EXPECT_EQ(got.constant_columns, 0);
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(got.explained[k], want.explained[k], 1e-9);
      // Eigenvectors have an arbitrary sign.
      const double sign = got.points[0][k] * want.points[0][k] >= 0 ? 1.0 : -1.0;
      for (std::size_t i = 0; i < got.points.size(); ++i)
        EXPECT_NEAR(got.points[i][k], sign * want.points[i][k], 1e-8) << i;
    }
  }
}

LayerMeasurement measure(Planted& p, nlohmann::json params) {
  const Metric* metric = find_metric("neuron_pca_outlier_fraction");
  EXPECT_NE(metric, nullptr);
  const auto parsed = metric->parse_params(params, "s.yaml");
  LayerPlan plan;
  plan.add(metric->needs(*parsed));
  auto backend = make_backend("cpu");
  const LayerStatistics ls = compute_layer_statistics({&p.layer, nullptr}, plan, *backend);
  return metric->measure(ls, *parsed);
}

TEST(A6, OutlierFractionMatchesTheReferenceAndFindsPlantedNeurons) {
  Planted p = planted(4, 40, 12, 5, 11);
  for (const char* kind : {"act", "down"}) {
    SCOPED_TRACE(kind);
    const LayerMeasurement got = measure(p, {{"matrix", kind}});
    const Reference want = reference_pca(p.neurons[std::string(kind) == "act" ? 0 : 2]);
    EXPECT_NEAR(got.value, static_cast<double>(want.outliers.size()) / 160.0, 1e-12);
    // The five pushed neurons of expert 2 (points 80..84) are among the outliers.
    for (int i = 80; i < 85; ++i)
      EXPECT_TRUE(std::count(want.outliers.begin(), want.outliers.end(), i)) << i;
    const auto per_expert = got.detail["expert_outlier_fraction"].get<std::vector<double>>();
    ASSERT_EQ(per_expert.size(), 4u);
    EXPECT_GE(per_expert[2], 5.0 / 40.0);
    EXPECT_EQ(got.resampler.n_units, 4);
    EXPECT_NEAR(got.resampler.statistic({0, 1, 2, 3}), got.value, 1e-12);
    EXPECT_NEAR(got.resampler.statistic({2, 2}), per_expert[2], 1e-12);
  }
  // Without planted neurons the fraction is much lower.
  Planted clean = planted(4, 40, 12, 0, 11);
  EXPECT_LT(measure(clean, {{"matrix", "act"}}).value, measure(p, {{"matrix", "act"}}).value);
}

TEST(A6, SampledNeuronsAreEvenlySpacedAndMatchTheReferenceOnThem) {
  Planted p = planted(3, 40, 10, 0, 5);
  const NeuronPca got = compute_neuron_pca(p.layer.experts, MatrixKind::Down, 8);
  ASSERT_EQ(got.neuron_index, (std::vector<int64_t>{0, 5, 10, 15, 20, 25, 30, 35}));
  std::vector<std::vector<double>> rows;
  for (int e = 0; e < 3; ++e)
    for (int64_t i : got.neuron_index) rows.push_back(p.neurons[2][e * 40 + i]);
  const Reference want = reference_pca(rows);
  const double sign = got.points[0][0] * want.points[0][0] >= 0 ? 1.0 : -1.0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    EXPECT_NEAR(got.points[i][0], sign * want.points[i][0], 1e-8);
}

TEST(A6, ParamsAreValidated) {
  const Metric* m = find_metric("neuron_pca_outlier_fraction");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->analysis(), "A6");
  EXPECT_THROW(m->validate_params({{"matrix", "all"}}, "s"), InputError);
  EXPECT_THROW(m->validate_params({{"max_neurons", -1}}, "s"), InputError);
  EXPECT_THROW(m->validate_params({{"mad_factor", 0}}, "s"), InputError);
  EXPECT_THROW(m->validate_params({{"neurons", 3}}, "s"), InputError);
}

TEST(SymmetricEigen, SubspaceIterationAgreesWithTheFullSolver) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  const int64_t n = 60;
  // A = sum_k w_k u_k u_k^T + small noise, with clearly separated top eigenvalues.
  Matrix a(n, n);
  for (int k = 0; k < 4; ++k) {
    std::vector<double> u(n);
    for (auto& x : u) x = g(rng);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) a(i, j) += (40.0 - 9.0 * k) * u[i] * u[j] / n;
  }
  for (int64_t i = 0; i < n; ++i) a(i, i) += 1.0;
  const SymmetricEigen full = top_symmetric_eigen(a, 2);
  const SymmetricEigen sub = top_symmetric_eigen(a, 2, 0);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(sub.values[k], full.values[k], 1e-8 * full.values[0]);
    double dot = 0.0;
    for (int64_t i = 0; i < n; ++i) dot += sub.vectors(i, k) * full.vectors(i, k);
    EXPECT_NEAR(std::fabs(dot), 1.0, 1e-8);
  }
}

}  // namespace
}  // namespace moeprobe
