// CUDA backend vs the float64 reference backend. Every test needs a GPU: without one (or in a
// build without CUDA) each test skips and says why.
//
// Tolerances, and why they hold:
// - Gram and standardized Gram: the CUDA kernels sum float32 products over blocks of 32 positions
//   and the blocks in float64. Each block's float32 sum is off by at most 31 u (u = 2^-24) times
//   the block's sum of |products|, and those sums add up to at most |a| |b| (Cauchy-Schwarz), so
//   |G_cuda - G_ref| <= ~2e-6 |a| |b|; z-scores rounded to float32 add 2u |a| |b|. Tolerance:
//   3e-6 |a| |b|. On large random data the errors cancel and the bound is far tighter; the
//   accuracy test asserts 2e-8 relative to the norms there.
// - Mean neurons: float32 runs of 32 values folded into float64: <= 31 u max|x|; tolerance
//   2e-6 max|x|.
// - Neuron cosines: float64 product path (A100/H100 default): 1e-10 absolute. float32 path: the
//   product of unit vectors of length H is off by at most (H + 2) u (any summation order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "kernels/backend.h"
#include "util/error.h"
#ifdef MOEPROBE_WITH_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace moeprobe {
namespace {

constexpr double kU = 1.0 / 16777216.0;  // float32 unit roundoff, 2^-24

enum class Gemm { Auto, Float32, Float64 };

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

// n matrices of random F8 codes (NaN and Inf codes left out), every 11th byte shared by the set.
Set make_f8_set(int n, DType dt, const std::vector<int64_t>& shape, uint32_t seed) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  std::mt19937 rng(seed);
  auto finite = [dt](unsigned b) {
    return dt == DType::F8_E4M3 ? (b & 0x7F) != 0x7F : (b & 0x7C) != 0x7C;
  };
  auto draw = [&] {
    unsigned b;
    do b = rng() & 0xFF;
    while (!finite(b));
    return static_cast<unsigned char>(b);
  };
  std::vector<unsigned char> shared(static_cast<std::size_t>(numel));
  for (unsigned char& b : shared) b = draw();
  Set set;
  for (int r = 0; r < n; ++r) {
    std::vector<unsigned char> bytes(shared.size());
    for (std::size_t p = 0; p < bytes.size(); ++p) bytes[p] = p % 11 == 0 ? shared[p] : draw();
    std::vector<float> back(bytes.size());
    convert_to_float(dt, bytes.data(), back.data(), back.size());
    for (float v : back) set.max_abs = std::max(set.max_abs, static_cast<double>(std::fabs(v)));
    set.bytes.push_back(std::move(bytes));
    TensorView v;
    v.name = "m" + std::to_string(r);
    v.file = "memory";
    v.dtype = dt;
    v.shape = shape;
    v.data = set.bytes.back().data();
    set.views.push_back(v);
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

void expect_matrix_near(const Matrix& got, const Matrix& ref, double tol, const std::string& what) {
  ASSERT_EQ(got.rows, ref.rows) << what;
  ASSERT_EQ(got.cols, ref.cols) << what;
  for (int64_t a = 0; a < ref.rows; ++a)
    for (int64_t b = 0; b < ref.cols; ++b)
      ASSERT_NEAR(got(a, b), ref(a, b), tol) << what << " at (" << a << ", " << b << ")";
}

const char* axis_name(NeuronAxis axis) {
  return axis == NeuronAxis::Rows ? "rows" : "cols";
}

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef MOEPROBE_WITH_CUDA
    GTEST_SKIP() << "built without the CUDA backend (MOEPROBE_WITH_CUDA is undefined; configure "
                    "with -DMOEPROBE_CUDA=ON on a machine with nvcc)";
#else
    std::string why;
    if (!make_cuda_backend(&why)) GTEST_SKIP() << "CUDA backend unavailable: " << why;
    reference_ = make_backend("reference");
    ASSERT_NE(reference_, nullptr);
#endif
  }

  // A CUDA backend; chunk_bytes 0 keeps the default chunking.
  static std::unique_ptr<Backend> cuda(std::size_t chunk_bytes = 0, Gemm gemm = Gemm::Auto) {
#ifdef MOEPROBE_WITH_CUDA
    CudaBackendOptions options;
    if (chunk_bytes) options.chunk_bytes = chunk_bytes;
    options.cosine_gemm = gemm == Gemm::Float32   ? CudaBackendOptions::CosineGemm::Float32
                          : gemm == Gemm::Float64 ? CudaBackendOptions::CosineGemm::Float64
                                                  : CudaBackendOptions::CosineGemm::Auto;
    std::string why;
    auto backend = make_cuda_backend(options, &why);
    if (!backend) throw std::runtime_error("make_cuda_backend: " + why);
    return backend;
#else
    (void)chunk_bytes;
    (void)gemm;
    return nullptr;
#endif
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

// --- matrix_set_stats parity over set sizes, dtypes, axes and chunking -------------------------

struct SetCase {
  int n;
  DType dtype;
  NeuronAxis axis;
  std::size_t chunk_bytes;  // 0: default (one chunk here); small: many chunks, both slots reused
};

class CudaSetStatsTest : public CudaBackendTest, public ::testing::WithParamInterface<SetCase> {};

TEST_P(CudaSetStatsTest, MatchesReference) {
  const SetCase c = GetParam();
  // Odd sizes: no dimension is a multiple of the 32-position blocks or the 16-row tiles.
  const std::vector<int64_t> shape =
      c.axis == NeuronAxis::Rows ? std::vector<int64_t>{37, 53} : std::vector<int64_t>{53, 37};
  const Set set = make_set(c.n, {c.dtype}, shape, 1000u + static_cast<uint32_t>(c.n));
  MatrixSetRequest req;
  req.gram = req.standardized_gram = req.mean_neuron = true;
  const MatrixSetStats got = cuda(c.chunk_bytes)->matrix_set_stats(set.views, c.axis, req);
  const MatrixSetStats ref = reference_->matrix_set_stats(set.views, c.axis, req);

  const std::string what = "n=" + std::to_string(c.n) + " " + dtype_name(c.dtype) + " " +
                           axis_name(c.axis) + " chunk=" + std::to_string(c.chunk_bytes);
  expect_gram_near(got.gram, ref.gram, 3e-6, what + " gram");
  expect_gram_near(got.standardized_gram, ref.standardized_gram, 3e-6, what + " standardized");
  EXPECT_EQ(got.skipped_positions, ref.skipped_positions) << what;
  EXPECT_GE(got.skipped_positions, (37 * 53 + 10) / 11) << what;  // the planted constant positions
  ASSERT_EQ(got.mean_neuron.size(), ref.mean_neuron.size()) << what;
  for (std::size_t r = 0; r < ref.mean_neuron.size(); ++r) {
    ASSERT_EQ(got.mean_neuron[r].size(), ref.mean_neuron[r].size()) << what;
    ASSERT_EQ(got.mean_neuron[r].size(), 53u) << what;  // H
    for (std::size_t j = 0; j < ref.mean_neuron[r].size(); ++j)
      ASSERT_NEAR(got.mean_neuron[r][j], ref.mean_neuron[r][j], 2e-6 * set.max_abs)
          << what << " mean neuron " << r << "[" << j << "]";
  }
}

std::vector<SetCase> set_cases() {
  std::vector<SetCase> cases;
  for (int n : {3, 5, 7, 60})
    for (DType dt : {DType::F32, DType::F16, DType::BF16})
      for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols})
        for (std::size_t chunk : {std::size_t{0}, std::size_t{3000}})
          cases.push_back({n, dt, axis, chunk});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Sets, CudaSetStatsTest, ::testing::ValuesIn(set_cases()),
                         [](const ::testing::TestParamInfo<SetCase>& info) {
                           const SetCase& c = info.param;
                           return "n" + std::to_string(c.n) + "_" + dtype_name(c.dtype) + "_" +
                                  axis_name(c.axis) + (c.chunk_bytes ? "_chunked" : "_whole");
                         });

TEST_F(CudaBackendTest, SetStatsOtherFloatDtypes) {
  // F64 is rounded to float32 on the device (within the Gram tolerance); F8 widens exactly.
  for (DType dt : {DType::F64, DType::F8_E4M3, DType::F8_E5M2})
    for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols})
      for (std::size_t chunk : {std::size_t{0}, std::size_t{1500}}) {
        const std::vector<int64_t> shape =
            axis == NeuronAxis::Rows ? std::vector<int64_t>{37, 53} : std::vector<int64_t>{53, 37};
        const Set set =
            dt == DType::F64 ? make_set(5, {dt}, shape, 8u) : make_f8_set(5, dt, shape, 8u);
        MatrixSetRequest req;
        req.gram = req.standardized_gram = req.mean_neuron = true;
        const MatrixSetStats got = cuda(chunk)->matrix_set_stats(set.views, axis, req);
        const MatrixSetStats ref = reference_->matrix_set_stats(set.views, axis, req);
        const std::string what =
            std::string(dtype_name(dt)) + " " + axis_name(axis) + " chunk=" + std::to_string(chunk);
        expect_gram_near(got.gram, ref.gram, 3e-6, what + " gram");
        expect_gram_near(got.standardized_gram, ref.standardized_gram, 3e-6,
                         what + " standardized");
        EXPECT_EQ(got.skipped_positions, ref.skipped_positions) << what;
        ASSERT_EQ(got.mean_neuron.size(), ref.mean_neuron.size()) << what;
        for (std::size_t r = 0; r < ref.mean_neuron.size(); ++r)
          for (std::size_t j = 0; j < ref.mean_neuron[r].size(); ++j)
            ASSERT_NEAR(got.mean_neuron[r][j], ref.mean_neuron[r][j], 2e-6 * set.max_abs)
                << what << " mean neuron " << r << "[" << j << "]";
        // F8 and F64 values are exact in float64, so the float64 cosine path matches tightly.
        const Matrix cos_got =
            cuda(chunk, Gemm::Float64)->neuron_cosine(set.views[0], set.views[1], axis);
        const Matrix cos_ref = reference_->neuron_cosine(set.views[0], set.views[1], axis);
        expect_matrix_near(cos_got, cos_ref, 1e-10, what + " cosine");
      }
}

TEST_F(CudaBackendTest, SetStatsGramOnlyAndMixedDtypes) {
  // A set mixing dtypes (dense FFN stored differently from the experts) and the Gram alone: the
  // chunk split then ignores row boundaries.
  const Set set = make_set(9, {DType::BF16, DType::F16, DType::F32}, {129, 67}, 77u);
  MatrixSetRequest req;
  req.gram = true;
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1000}}) {
    const MatrixSetStats got = cuda(chunk)->matrix_set_stats(set.views, NeuronAxis::Rows, req);
    const MatrixSetStats ref = reference_->matrix_set_stats(set.views, NeuronAxis::Rows, req);
    expect_gram_near(got.gram, ref.gram, 3e-6, "mixed chunk=" + std::to_string(chunk));
  }
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

TEST_F(CudaBackendTest, SetStatsRejectsBadInput) {
  auto backend = cuda();
  Set set = make_set(3, {DType::BF16}, {8, 16}, 3u);
  MatrixSetRequest req;
  Set other = make_set(1, {DType::BF16}, {16, 8}, 4u);
  std::vector<TensorView> mixed = {set.views[0], other.views[0]};
  EXPECT_THROW(backend->matrix_set_stats(mixed, NeuronAxis::Rows, req), InputError);
  std::vector<TensorView> ints = set.views;
  ints[1].dtype = DType::I16;  // same byte size, not a float type
  EXPECT_THROW(backend->matrix_set_stats(ints, NeuronAxis::Rows, req), InputError);
  EXPECT_THROW(backend->matrix_set_stats({}, NeuronAxis::Rows, req), InputError);
  std::vector<TensorView> rank3 = set.views;
  for (TensorView& v : rank3) v.shape = {2, 4, 16};
  EXPECT_THROW(backend->matrix_set_stats(rank3, NeuronAxis::Rows, req), InputError);
  EXPECT_THROW(backend->neuron_cosine(set.views[0], other.views[0], NeuronAxis::Rows), InputError);
  // A NaN weight, like the other backends: an InputError naming the tensor.
  Set bad = make_set(3, {DType::F32}, {8, 16}, 6u);
  const float nan = std::nanf("");
  std::memcpy(bad.bytes[2].data() + 4 * 37, &nan, 4);
  try {
    backend->matrix_set_stats(bad.views, NeuronAxis::Rows, req);
    ADD_FAILURE() << "NaN weight accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "m2");
  }
  EXPECT_THROW(backend->gram_rows(bad.views[2]), InputError);
}

// --- gram_rows ----------------------------------------------------------------------------------

TEST_F(CudaBackendTest, GramRowsMatchesReference) {
  struct Case {
    int64_t n, d;
    DType dtype;
    std::size_t chunk;
  };
  const Case cases[] = {{8, 4099, DType::BF16, 0},    {60, 129, DType::F32, 0},
                        {64, 2048, DType::F16, 5000}, {385, 33, DType::BF16, 0},
                        {7, 1, DType::F32, 0},        {17, 1001, DType::BF16, 700}};
  for (const Case& c : cases) {
    // One [n, d] router matrix whose rows share a component, so the Gram is not near-diagonal.
    std::mt19937 rng(static_cast<uint32_t>(c.n * 31 + c.d));
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> base(static_cast<std::size_t>(c.d)), values;
    for (float& b : base) b = normal(rng);
    for (int64_t i = 0; i < c.n; ++i)
      for (int64_t j = 0; j < c.d; ++j)
        values.push_back(0.5f * base[static_cast<std::size_t>(j)] + normal(rng));
    Set rows;
    rows.views.push_back(add_tensor(rows, c.dtype, {c.n, c.d}, values, "router"));
    const std::string what = "router [" + std::to_string(c.n) + ", " + std::to_string(c.d) + "] " +
                             dtype_name(c.dtype) + " chunk=" + std::to_string(c.chunk);
    const Matrix got = cuda(c.chunk)->gram_rows(rows.views[0]);
    const Matrix ref = reference_->gram_rows(rows.views[0]);
    expect_gram_near(got, ref, 3e-6, what);
  }
}

// --- neuron_cosine ------------------------------------------------------------------------------

TEST_F(CudaBackendTest, NeuronCosineMatchesReference) {
  for (Gemm gemm : {Gemm::Float64, Gemm::Float32})
    for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols})
      for (DType dt : {DType::F32, DType::F16, DType::BF16})
        for (std::size_t chunk : {std::size_t{0}, std::size_t{999}}) {
          const int64_t neurons = 45, h = 67;
          const std::vector<int64_t> shape = axis == NeuronAxis::Rows
                                                 ? std::vector<int64_t>{neurons, h}
                                                 : std::vector<int64_t>{h, neurons};
          const Set set = make_set(2, {dt}, shape, 99u);
          const Matrix got = cuda(chunk, gemm)->neuron_cosine(set.views[0], set.views[1], axis);
          const Matrix ref = reference_->neuron_cosine(set.views[0], set.views[1], axis);
          const double tol = gemm == Gemm::Float64 ? 1e-10 : (h + 2) * kU;
          expect_matrix_near(got, ref, tol,
                             std::string("cosine ") + (gemm == Gemm::Float64 ? "f64 " : "f32 ") +
                                 axis_name(axis) + " " + dtype_name(dt) +
                                 " chunk=" + std::to_string(chunk));
        }
}

TEST_F(CudaBackendTest, NeuronCosineDefaultPathMatchesReference) {
  const Set set = make_set(2, {DType::BF16}, {131, 96}, 11u);
  const Matrix got = cuda()->neuron_cosine(set.views[0], set.views[1], NeuronAxis::Rows);
  const Matrix ref = reference_->neuron_cosine(set.views[0], set.views[1], NeuronAxis::Rows);
  expect_matrix_near(got, ref, (96 + 2) * kU, "cosine default path");
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
