// CUDA-only properties: the backend names its device, is deterministic, and meets tighter bounds
// than the parity contract on large near-zero inputs (errors cancel on random data). Parity with
// the float64 reference on every case of the table is in test_backend_parity.cpp. Every test
// needs a GPU: without one (or in a build without CUDA) each test skips and says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_backend.h"
#include "io/dtype.h"
#include "kernels/backend.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using test::Gemm;

// Matrices that own their encoded bytes; views point into them (moving keeps the buffers).
struct Set {
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<TensorView> views;
  double max_abs = 0.0;  // largest |value| after encoding
};

TensorView add_tensor(Set& set, DType dt, const std::vector<int64_t>& shape,
                      const std::vector<float>& values, const std::string& name) {
  set.bytes.emplace_back(values.size() * dtype_size(dt));
  convert_from_float(dt, values.data(), set.bytes.back().data(), values.size());
  std::vector<float> back(values.size());
  convert_to_float(dt, set.bytes.back().data(), back.data(), back.size());
  for (float v : back) set.max_abs = std::max(set.max_abs, static_cast<double>(std::fabs(v)));
  TensorView v;
  v.name = name;
  v.file = "memory";
  v.dtype = dt;
  v.shape = shape;
  v.data = set.bytes.back().data();
  return v;
}

// n matrices that share a common part (cosines well away from 0, like upcycled experts), scaled
// differently, with every 11th position identical across the set (zero variance: skipped by the
// standardized Gram).
Set make_set(int n, const std::vector<DType>& dtypes, const std::vector<int64_t>& shape,
             uint32_t seed, double shared = 0.6) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> base(static_cast<std::size_t>(numel));
  for (float& b : base) b = normal(rng);
  Set set;
  set.bytes.reserve(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    std::vector<float> v(base.size());
    const float scale = 1.0f + 0.1f * static_cast<float>(r % 7);
    for (std::size_t p = 0; p < v.size(); ++p)
      v[p] = p % 11 == 0 ? base[p] : scale * (static_cast<float>(shared) * base[p] + normal(rng));
    set.views.push_back(add_tensor(set, dtypes[static_cast<std::size_t>(r) % dtypes.size()], shape,
                                   v, "m" + std::to_string(r)));
  }
  return set;
}

// Independent Gaussian matrices: cosines near 0, the regime the paper's from-scratch models sit in.
Set make_independent(int n, DType dt, const std::vector<int64_t>& shape, uint32_t seed) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  Set set;
  set.bytes.reserve(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    std::vector<float> v(static_cast<std::size_t>(numel));
    for (float& x : v) x = normal(rng);
    set.views.push_back(add_tensor(set, dt, shape, v, "m" + std::to_string(r)));
  }
  return set;
}

// |A - B| <= rel * sqrt(Ref(a,a) Ref(b,b)) elementwise; Ref's diagonal holds the squared norms.
void expect_gram_near(const Matrix& got, const Matrix& ref, double rel, const std::string& what) {
  ASSERT_EQ(got.rows, ref.rows) << what;
  ASSERT_EQ(got.cols, ref.cols) << what;
  for (int64_t a = 0; a < ref.rows; ++a)
    for (int64_t b = 0; b < ref.cols; ++b) {
      const double scale = std::sqrt(std::fabs(ref(a, a)) * std::fabs(ref(b, b)));
      ASSERT_NEAR(got(a, b), ref(a, b), rel * scale + 1e-300)
          << what << " at (" << a << ", " << b << ")";
    }
}

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::make_test_cuda_backend(0, Gemm::Auto, &why)) GTEST_SKIP() << why;
    reference_ = make_backend("reference");
    ASSERT_NE(reference_, nullptr);
  }

  // A CUDA backend; chunk_bytes 0 keeps the default chunking.
  static std::unique_ptr<Backend> cuda(std::size_t chunk_bytes = 0, Gemm gemm = Gemm::Auto) {
    std::string why;
    auto backend = test::make_test_cuda_backend(chunk_bytes, gemm, &why);
    if (!backend) throw std::runtime_error(why);
    return backend;
  }

  std::unique_ptr<Backend> reference_;
};

TEST_F(CudaBackendTest, NamesItsDevice) {
  auto backend = cuda();
  EXPECT_EQ(backend->name(), "cuda");
  const std::string device = backend->device();
  EXPECT_EQ(device.rfind("NVIDIA ", 0), 0u) << device;
  EXPECT_NE(device.find("(sm_"), std::string::npos) << device;
  EXPECT_NE(device.find(" GiB)"), std::string::npos) << device;
}

TEST_F(CudaBackendTest, SetStatsAreDeterministic) {
  const Set set = make_set(60, {DType::BF16}, {64, 301}, 5u);
  MatrixSetRequest req;
  req.gram = req.standardized_gram = req.mean_neuron = true;
  auto backend = cuda(20000);
  const MatrixSetStats a = backend->matrix_set_stats(set.views, NeuronAxis::Cols, req);
  const MatrixSetStats b = backend->matrix_set_stats(set.views, NeuronAxis::Cols, req);
  EXPECT_EQ(a.gram.data, b.gram.data);
  EXPECT_EQ(a.standardized_gram.data, b.standardized_gram.data);
  EXPECT_EQ(a.mean_neuron, b.mean_neuron);
}

// --- accuracy near zero on large inputs ----------------------------------------------------------

TEST_F(CudaBackendTest, LargeNearZeroCosinesAreAccurate) {
  // Matrix level: 9 independent [1024, 2048] bf16 matrices (2M elements each): cosines ~ 7e-4.
  {
    const Set set = make_independent(9, DType::BF16, {1024, 2048}, 2024u);
    MatrixSetRequest req;
    req.gram = true;
    const Matrix got = cuda()->matrix_set_stats(set.views, NeuronAxis::Rows, req).gram;
    const Matrix ref = reference_->matrix_set_stats(set.views, NeuronAxis::Rows, req).gram;
    expect_gram_near(got, ref, 2e-8, "large gram");
    double max_cos = 0.0;
    for (int a = 0; a < 9; ++a)
      for (int b = 0; b < 9; ++b) {
        const double cg = got(a, b) / std::sqrt(got(a, a) * got(b, b));
        const double cr = ref(a, b) / std::sqrt(ref(a, a) * ref(b, b));
        EXPECT_NEAR(cg, cr, 1e-7) << "matrix cosine (" << a << ", " << b << ")";
        if (a != b) max_cos = std::max(max_cos, std::fabs(cr));
      }
    EXPECT_LT(max_cos, 0.01);  // the regime this test is about
  }
  // Neuron level: 384 x 384 cosines between independent neurons of length 4096 (~ +-0.016).
  {
    const Set set = make_independent(2, DType::BF16, {384, 4096}, 7u);
    const Matrix ref = reference_->neuron_cosine(set.views[0], set.views[1], NeuronAxis::Rows);
    for (Gemm gemm : {Gemm::Float64, Gemm::Float32}) {
      const Matrix got = cuda(0, gemm)->neuron_cosine(set.views[0], set.views[1], NeuronAxis::Rows);
      double max_err = 0.0, sum_err = 0.0;
      for (std::size_t i = 0; i < ref.data.size(); ++i) {
        const double e = std::fabs(got.data[i] - ref.data[i]);
        max_err = std::max(max_err, e);
        sum_err += e;
      }
      const double mean_err = sum_err / static_cast<double>(ref.data.size());
      if (gemm == Gemm::Float64) {
        EXPECT_LT(max_err, 1e-10);
      } else {
        // float32 products: typical error sqrt(H) u ~ 4e-6; the paper needs ~1e-5.
        EXPECT_LT(max_err, 5e-5);
        EXPECT_LT(mean_err, 5e-6);
      }
    }
  }
}

}  // namespace
}  // namespace moeprobe
