// The backends on mapped views: an FP8 block-scaled set, an MXFP4 set and a transposed strided
// set give the statistics of the same values stored plainly as F32 (CPU within float accuracy,
// the reference exactly up to summation order), and CUDA does too when a device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "synth/quantize.h"
#include "util/error.h"

namespace moeprobe {
namespace {

struct Sets {
  std::vector<std::vector<uint8_t>> codes, e8m0;
  std::vector<std::vector<float>> scales, plain;
  std::vector<std::vector<double>> exact;  // read_double of the mapped views
  std::vector<TensorView> mapped, f32, f64;
};

TensorView plain_f32(const std::vector<float>& v, int64_t rows, int64_t cols) {
  TensorView t;
  t.name = "plain";
  t.dtype = DType::F32;
  t.shape = {rows, cols};
  t.data = reinterpret_cast<const unsigned char*>(v.data());
  return t;
}

// scheme 'f' FP8 (block 16x32), 'm' MXFP4, 't' F32 stored transposed and read through transposed().
std::unique_ptr<Sets> make_sets(char scheme, int n, int64_t rows, int64_t cols) {
  auto s = std::make_unique<Sets>();
  std::mt19937_64 rng(9);
  std::normal_distribution<float> dist(0.f, 1.f);
  s->codes.resize(n);
  s->e8m0.resize(n);
  s->scales.resize(n);
  s->plain.resize(n);
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (int a = 0; a < n; ++a) {
    for (auto& v : x) v = dist(rng);
    auto st = std::make_shared<StoredMatrix>();
    st->rows = st->rows_per_matrix = rows;
    st->cols = cols;
    if (scheme == 'f') {
      synth::quantize_fp8_blocks(x.data(), 1, rows, cols, 16, 32, s->codes[a], s->scales[a],
                                 s->plain[a]);
      st->scheme = QuantScheme::Fp8Block;
      st->code_dtype = DType::F8_E4M3;
      st->codes = s->codes[a].data();
      st->scales = reinterpret_cast<const unsigned char*>(s->scales[a].data());
      st->block_rows = 16;
      st->block_cols = 32;
    } else if (scheme == 'm') {
      synth::quantize_mxfp4(x.data(), rows, cols, s->codes[a], s->e8m0[a], s->plain[a]);
      st->scheme = QuantScheme::Mxfp4;
      st->code_dtype = DType::U8;
      st->codes = s->codes[a].data();
      st->scale_dtype = DType::U8;
      st->scales = s->e8m0[a].data();
      st->block_cols = 32;
    } else {
      s->plain[a] = x;
      // Stored as [cols, rows]: scales hold the transposed copy.
      s->scales[a].resize(x.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) s->scales[a][c * rows + r] = x[r * cols + c];
    }
    if (scheme == 't') {
      s->mapped.push_back(plain_f32(s->scales[a], cols, rows).transposed());
    } else {
      st->scale_rows_per_matrix = (rows + st->block_rows - 1) / st->block_rows;
      st->scale_cols = (cols + st->block_cols - 1) / st->block_cols;
      TensorView v;
      v.name = "q" + std::to_string(a);
      v.dtype = st->code_dtype;
      v.shape = {rows, cols};
      v = v.mapped();
      v.storage = std::move(st);
      s->mapped.push_back(std::move(v));
    }
    s->f32.push_back(plain_f32(s->plain[a], rows, cols));
  }
  // The exact values as F64: a quantised view's read_double is the exact product, its
  // read_float that product rounded once (what `plain` holds).
  s->exact.resize(n);
  for (int a = 0; a < n; ++a) {
    s->exact[a].resize(static_cast<std::size_t>(rows * cols));
    s->mapped[a].read_double(0, rows * cols, s->exact[a].data());
    TensorView t = s->f32[a];
    t.dtype = DType::F64;
    t.data = reinterpret_cast<const unsigned char*>(s->exact[a].data());
    s->f64.push_back(t);
  }
  return s;
}

void expect_close(const Matrix& a, const Matrix& b, double tol) {
  ASSERT_EQ(a.rows, b.rows);
  for (std::size_t i = 0; i < a.data.size(); ++i)
    EXPECT_NEAR(a.data[i], b.data[i], tol * (1 + std::fabs(b.data[i])));
}

// The backend on the mapped views and on `plain`, the same values stored plainly.
void check_backend(Backend& backend, const Sets& s, const std::vector<TensorView>& plain,
                   double tol) {
  const MatrixSetRequest all{true, true, true};
  for (NeuronAxis axis : {NeuronAxis::Rows, NeuronAxis::Cols}) {
    const MatrixSetStats q = backend.matrix_set_stats(s.mapped, axis, all);
    const MatrixSetStats p = backend.matrix_set_stats(plain, axis, all);
    expect_close(q.gram, p.gram, tol);
    expect_close(q.standardized_gram, p.standardized_gram, tol);
    for (std::size_t a = 0; a < q.mean_neuron.size(); ++a)
      for (std::size_t h = 0; h < q.mean_neuron[a].size(); ++h)
        EXPECT_NEAR(q.mean_neuron[a][h], p.mean_neuron[a][h], tol);
  }
  expect_close(backend.gram_rows(s.mapped[0]), backend.gram_rows(plain[0]), tol);
  expect_close(backend.neuron_cosine(s.mapped[0], s.mapped[1], NeuronAxis::Rows),
               backend.neuron_cosine(plain[0], plain[1], NeuronAxis::Rows), tol);
  const auto nq = backend.neuron_norms(s.mapped[1], NeuronAxis::Cols);
  const auto np = backend.neuron_norms(plain[1], NeuronAxis::Cols);
  for (std::size_t i = 0; i < nq.size(); ++i) EXPECT_NEAR(nq[i], np[i], tol * (1 + np[i]));
}

class QuantKernels : public ::testing::TestWithParam<char> {};

TEST_P(QuantKernels, CpuAndReferenceReadMappedViewsLikePlainOnes) {
  const auto s = make_sets(GetParam(), 5, 48, 96);
  CpuBackend cpu(2);
  ReferenceBackend ref;
  check_backend(cpu, *s, s->f32, 1e-9);
  check_backend(ref, *s, s->f64, 1e-12);
}

TEST_P(QuantKernels, CudaReadsMappedViewsLikePlainOnes) {
  std::unique_ptr<Backend> cuda;
  try {
    cuda = make_backend("cuda");
  } catch (const InputError& e) {
    GTEST_SKIP() << "no CUDA device: " << e.what();
  }
  const auto s = make_sets(GetParam(), 5, 48, 96);
  check_backend(*cuda, *s, s->f32, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, QuantKernels, ::testing::Values('f', 'm', 't'), [](const auto& info) {
      return std::string(info.param == 'f' ? "fp8" : info.param == 'm' ? "mxfp4" : "transposed");
    });

}  // namespace
}  // namespace moeprobe
