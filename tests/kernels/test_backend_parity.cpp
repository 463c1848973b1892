// Backend parity, written once (in the style of ggml's test-backend-ops): one table of cases
// (primitive, shape, dtypes, axis, request) and one table of backends under test; every case runs
// against every backend, with the float64 reference backend as the oracle. A backend this build or
// machine lacks is skipped with the reason. A new primitive is new rows in parity_cases() (and its
// tolerance in Contract); a new backend is one row in backends_under_test(). See kernels/README.md.
//
// Tolerances (Contract, kernels/README.md "Accuracy contract"), and why they hold:
// - cpu: float32 products summed in float32 within blocks of a few thousand elements, the blocks
//   in float64: a Gram entry is within ~1e-6 of the reference relative to the norms on these
//   inputs; we allow 1e-5. Mean neurons 1e-7 absolute (2e-7 max|x| on large F8 values), neuron
//   cosines 1e-6 absolute.
// - cuda: float32 products over blocks of 32 positions, blocks in float64. Each block's sum is off
//   by at most 31 u (u = 2^-24) times its sum of |products|, which add up to at most |a| |b|
//   (Cauchy-Schwarz): |G_cuda - G_ref| <= ~2e-6 |a| |b|; z-scores rounded to float32 add 2u.
//   Tolerance 3e-6 |a| |b|. Mean neurons: float32 runs of 32 folded into float64, <= 31 u max|x|;
//   tolerance 2e-6 max|x|. Neuron cosines: float64 product 1e-10 absolute; float32 product of unit
//   vectors of length H is off by at most (H + 2) u in any summation order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_backend.h"
#include "io/dtype.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "test_tensors.h"
#include "util/error.h"

namespace moeprobe {
namespace {

constexpr double kU = 1.0 / 16777216.0;  // float32 unit roundoff, 2^-24

// --- backends under test ------------------------------------------------------------------------

// What a backend promises against the float64 reference, per primitive.
struct Contract {
  double gram_rel;        // Grams (matrix_set_stats, gram_rows): |d| <= gram_rel * |a| |b|
  double mean_abs;        // mean neurons: |d| <= max(mean_abs, mean_rel * max|x|)
  double mean_rel;        //
  double cosine_abs;      // neuron_cosine: |d| <= cosine_abs + cosine_h_units * (H + 2) u
  double cosine_h_units;  //
  double norm_rel;        // neuron_norms: |d| <= norm_rel * norm
  double matrix_cos_abs;  // near-zero cases: matrix-level cosine from the Gram, absolute
};

constexpr Contract kCpuContract{1e-5, 1e-7, 2e-7, 1e-6, 0.0, 1e-6, 1e-6};
// The default cosine product may be float32 (GPUs without full-rate float64): its bound.
constexpr Contract kCudaContract{3e-6, 0.0, 2e-6, 0.0, 1.0, 1e-6, 1e-6};
constexpr Contract kCudaF64Contract{3e-6, 0.0, 2e-6, 1e-10, 0.0, 1e-6, 1e-6};

struct BackendUnderTest {
  const char* label;
  Contract contract;
  // nullptr and *why_not when the backend cannot run in this build or on this machine.
  std::function<std::unique_ptr<Backend>(std::string* why_not)> make;
  bool tiny_chunks = false;  // skips the large cases (millions of chunks would take minutes)
};

using test::Gemm;

std::function<std::unique_ptr<Backend>(std::string*)> cuda_factory(std::size_t chunk_bytes,
                                                                   Gemm gemm) {
  return [chunk_bytes, gemm](std::string* why_not) {
    return test::make_test_cuda_backend(chunk_bytes, gemm, why_not);
  };
}

const std::vector<BackendUnderTest>& backends_under_test() {
  static const std::vector<BackendUnderTest> table = {
      {"cpu", kCpuContract, [](std::string*) { return std::make_unique<CpuBackend>(2); }},
      {"cuda", kCudaContract, cuda_factory(0, Gemm::Auto)},
      // ~1 KB staging chunks: the double-buffered pipeline cycles through both slots many times.
      {"cuda_chunked", kCudaContract, cuda_factory(997, Gemm::Auto), true},
      {"cuda_f32gemm", kCudaContract, cuda_factory(0, Gemm::Float32)},
      {"cuda_f64gemm_chunked", kCudaF64Contract, cuda_factory(999, Gemm::Float64), true},
  };
  return table;
}

// --- inputs -------------------------------------------------------------------------------------

enum class Primitive { SetStats, GramRows, NeuronCosine };

enum class Data {
  Correlated,   // shared part + noise, scaled per matrix; every 7th position equal across the set
  Independent,  // independent Gaussians: cosines near 0 (the from-scratch regime)
  F8Codes,      // random finite F8 codes; every 7th byte equal across the set
  SharedRows,   // one [n, d] matrix whose rows share a component (a router)
  // Quantised mapped views (kernels/staged_views.h stages their codes and scales; the device
  // decodes them), Correlated values quantised:
  Fp8Block,           // E4M3, F32 scales per 16x32 block (partial blocks at odd shapes); every
                      // 4th matrix plain BF16 (a dense FFN stored apart)
  Fp8Channel,         // random finite E5M2 codes, one BF16 scale per row (fbgemm_fp8)
  Mxfp4,              // E2M1 + E8M0 per 32 (C % 32 == 0)
  Mxfp4Interleaved,   // gpt-oss: one fused [ceil(n/2), 2R, C] tensor, views every0(0|1, 2) of it
  Fp8BlockFusedSlice  // one fused [n, R + 5, C] FP8 tensor, views index0(e).slice0(5, R + 5):
                      // each starts mid-block, and the scale grid restarts per expert
};

const char* data_name(Data d) {
  switch (d) {
    case Data::Fp8Block:
      return "fp8block";
    case Data::Fp8Channel:
      return "fp8channel_E5M2";
    case Data::Mxfp4:
      return "mxfp4";
    case Data::Mxfp4Interleaved:
      return "mxfp4_interleaved";
    case Data::Fp8BlockFusedSlice:
      return "fp8block_fused_slice";
    default:
      return "plain";
  }
}

// Whether every 7th position holds one value across the set (the standardised Gram skips them).
bool planted_constants(Data d) {
  return d == Data::Correlated || d == Data::F8Codes;
}

struct Inputs {
  std::vector<std::shared_ptr<test::OwnedTensor>> owned;
  std::vector<std::shared_ptr<test::QuantTensor>> quant;
  std::vector<TensorView> views;
  double max_abs = 0.0;  // largest |value| after encoding
};

void add_view(Inputs& in, const TensorView& v) {
  std::vector<float> back(static_cast<std::size_t>(v.numel()));
  v.read_float(0, v.numel(), back.data());
  for (float x : back) in.max_abs = std::max(in.max_abs, static_cast<double>(std::fabs(x)));
  in.views.push_back(v);
}

void add(Inputs& in, std::shared_ptr<test::OwnedTensor> t) {
  add_view(in, t->view);
  in.owned.push_back(std::move(t));
}

Inputs make_inputs(Data data, int n, const std::vector<int64_t>& shape,
                   const std::vector<DType>& dtypes, uint64_t seed) {
  const std::size_t numel = static_cast<std::size_t>(shape[0] * shape[1]);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  Inputs in;
  auto dtype_of = [&](int r) { return dtypes[static_cast<std::size_t>(r) % dtypes.size()]; };
  auto name_of = [](int r) { return "m" + std::to_string(r); };
  // Matrix r of a correlated set: a shared part plus noise, scaled per matrix; every 7th position
  // equal across the set.
  std::vector<float> base;
  if (data != Data::Independent && data != Data::F8Codes && data != Data::SharedRows) {
    base.resize(numel);
    for (float& b : base) b = normal(rng);
  }
  auto correlated = [&](int r) {
    const float scale = 1.0f + 0.1f * static_cast<float>(r % 7);
    std::vector<float> v(numel);
    for (std::size_t p = 0; p < numel; ++p)
      v[p] = p % 7 == 0 ? base[p] : scale * (0.6f * base[p] + normal(rng)) + 0.005f;
    return v;
  };
  switch (data) {
    case Data::Correlated:
      for (int r = 0; r < n; ++r)
        add(in, test::make_tensor(correlated(r), shape, dtype_of(r), name_of(r)));
      break;
    case Data::Fp8Block:
      for (int r = 0; r < n; ++r) {
        if (r % 4 == 3) {
          add(in, test::make_tensor(correlated(r), shape, DType::BF16, name_of(r)));
          continue;
        }
        in.quant.push_back(
            test::fp8_block_tensor(correlated(r), 0, shape[0], shape[1], 16, 32, name_of(r)));
        add_view(in, in.quant.back()->view);
      }
      break;
    case Data::Fp8Channel:
      for (int r = 0; r < n; ++r) {
        in.quant.push_back(test::quant_tensor(QuantScheme::Fp8Block, DType::F8_E5M2, DType::BF16, 0,
                                              shape[0], shape[1], 1, shape[1], name_of(r)));
        test::QuantTensor& q = *in.quant.back();
        for (auto& b : q.codes) {
          do b = static_cast<unsigned char>(rng() & 0xFF);
          while ((b & 0x7C) == 0x7C);  // Inf/NaN
        }
        for (std::size_t i = 0; i < q.scales.size() / 2; ++i) {
          const uint16_t bits =
              float_to_bf16(std::ldexp(1.0f + 0.5f * std::fabs(normal(rng)), -12));
          std::memcpy(q.scales.data() + 2 * i, &bits, 2);
        }
        add_view(in, q.view);
      }
      break;
    case Data::Mxfp4:
      for (int r = 0; r < n; ++r) {
        in.quant.push_back(test::mxfp4_tensor(correlated(r), 0, shape[0], shape[1], name_of(r)));
        add_view(in, in.quant.back()->view);
      }
      break;
    case Data::Mxfp4Interleaved: {
      const int experts = (n + 1) / 2;
      const int64_t R = shape[0], C = shape[1];
      std::vector<float> v(static_cast<std::size_t>(experts * 2 * R * C));
      for (int e = 0; e < experts; ++e)
        for (int half = 0; half < 2; ++half) {
          // The halves' rows alternate in storage: act row i is stored row 2i, up row i 2i + 1.
          const std::vector<float> part = correlated(2 * e + half);
          for (int64_t i = 0; i < R; ++i)
            std::copy(part.begin() + i * C, part.begin() + (i + 1) * C,
                      v.begin() + (2 * e * R + 2 * i + half) * C);
        }
      in.quant.push_back(test::mxfp4_tensor(v, experts, 2 * shape[0], shape[1], "gate_up"));
      for (int r = 0; r < n; ++r)
        add_view(in, in.quant.back()->view.index0(r / 2).every0(r % 2, 2));
      break;
    }
    case Data::Fp8BlockFusedSlice: {
      const int64_t R = shape[0] + 5, C = shape[1];
      std::vector<float> v;
      for (int r = 0; r < n; ++r) {
        const std::vector<float> head = correlated(r + n), body = correlated(r);
        v.insert(v.end(), head.begin(), head.begin() + 5 * C);
        v.insert(v.end(), body.begin(), body.end());
      }
      in.quant.push_back(test::fp8_block_tensor(v, n, R, C, 16, 32, "experts"));
      for (int r = 0; r < n; ++r) add_view(in, in.quant.back()->view.index0(r).slice0(5, R));
      break;
    }
    case Data::Independent:
      for (int r = 0; r < n; ++r) {
        std::vector<float> v(numel);
        for (float& x : v) x = normal(rng);
        add(in, test::make_tensor(v, shape, dtype_of(r), name_of(r)));
      }
      break;
    case Data::F8Codes: {
      auto draw = [&](DType dt) {
        unsigned b;
        do b = static_cast<unsigned>(rng() & 0xFF);
        while (dt == DType::F8_E4M3 ? (b & 0x7F) == 0x7F : (b & 0x7C) == 0x7C);  // NaN/Inf codes
        return static_cast<unsigned char>(b);
      };
      std::vector<unsigned char> shared(numel);
      for (unsigned char& b : shared) b = draw(dtype_of(0));
      for (int r = 0; r < n; ++r) {
        auto t = std::make_shared<test::OwnedTensor>();
        t->bytes.resize(numel);
        for (std::size_t p = 0; p < numel; ++p)
          t->bytes[p] = p % 7 == 0 ? shared[p] : draw(dtype_of(r));
        t->view.name = name_of(r);
        t->view.file = "memory";
        t->view.dtype = dtype_of(r);
        t->view.shape = shape;
        t->view.data = t->bytes.data();
        add(in, std::move(t));
      }
      break;
    }
    case Data::SharedRows: {
      const int64_t rows = shape[0], d = shape[1];
      std::vector<float> base(static_cast<std::size_t>(d)), v;
      for (float& b : base) b = normal(rng);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < d; ++j)
          v.push_back(0.5f * base[static_cast<std::size_t>(j)] + normal(rng));
      add(in, test::make_tensor(v, shape, dtype_of(0), "router"));
      break;
    }
  }
  return in;
}

// --- the case table -----------------------------------------------------------------------------

struct Case {
  std::string name;
  Primitive primitive;
  Data data;
  int n;                       // matrices (SetStats); NeuronCosine uses 2, GramRows 1
  std::vector<int64_t> shape;  // of each matrix
  std::vector<DType> dtypes;   // cycled over the set
  NeuronAxis axis = NeuronAxis::Rows;
  MatrixSetRequest request{true, true, true};
  bool large = false;           // skipped by tiny-chunk backends
  double near_zero_cosine = 0;  // > 0: the reference's off-diagonal cosines are below this, and
                                // the matrix-level cosines are checked (Contract::matrix_cos_abs)
};

std::string dims(const std::vector<int64_t>& shape) {
  return std::to_string(shape[0]) + "x" + std::to_string(shape[1]);
}
const char* axis_name(NeuronAxis axis) {
  return axis == NeuronAxis::Rows ? "rows" : "cols";
}

std::vector<Case> parity_cases() {
  std::vector<Case> cases;
  auto set_case = [&](int n, std::vector<int64_t> shape, std::vector<DType> dts, NeuronAxis axis,
                      Data data = Data::Correlated) {
    std::string dt_names;
    for (DType dt : dts) dt_names += std::string("_") + dtype_name(dt);
    const std::string name =
        "set_n" + std::to_string(n) + "_" + dims(shape) + dt_names + "_" + axis_name(axis);
    for (const Case& c : cases)
      if (c.name == name) return;  // the lists below overlap
    cases.push_back({name, Primitive::SetStats, data, n, shape, dts, axis});
  };
  const NeuronAxis kAxes[] = {NeuronAxis::Rows, NeuronAxis::Cols};
  // matrix_set_stats: odd sizes (no dimension a multiple of a block or tile), non-power-of-two
  // counts, a single matrix, 1x1 matrices.
  for (NeuronAxis axis : kAxes) {
    set_case(3, {37, 53}, {DType::F32}, axis);
    set_case(5, {37, 53}, {DType::BF16}, axis);
    set_case(7, {37, 53}, {DType::F16}, axis);
    set_case(60, {19, 23}, {DType::BF16}, axis);
    set_case(7, {64, 96}, {DType::BF16}, axis);
    set_case(5, {1, 1}, {DType::F32}, axis);
    set_case(1, {13, 11}, {DType::F16}, axis);
    set_case(3, {200, 301}, {DType::F32}, axis);
    for (int n : {3, 5, 7, 60})
      for (DType dt : {DType::F32, DType::F16, DType::BF16})
        set_case(
            n,
            axis == NeuronAxis::Rows ? std::vector<int64_t>{37, 53} : std::vector<int64_t>{53, 37},
            {dt}, axis);
    // F64 is rounded to float32 on the GPU; F8 widens exactly.
    set_case(5, {37, 53}, {DType::F64}, axis);
    set_case(5, {37, 53}, {DType::F8_E4M3}, axis, Data::F8Codes);
    set_case(5, {37, 53}, {DType::F8_E5M2}, axis, Data::F8Codes);
  }
  // Quantised sets: odd shapes (partial scale blocks), non-power-of-two counts, mid-block starts,
  // gpt-oss's interleaved halves.
  auto quant_case = [&](Primitive prim, int n, std::vector<int64_t> shape, Data data,
                        NeuronAxis axis) {
    const char* prefix = prim == Primitive::SetStats   ? "set_n"
                         : prim == Primitive::GramRows ? "gram_rows_n"
                                                       : "cosine_n";
    cases.push_back({prefix + std::to_string(n) + "_" + dims(shape) + "_" + data_name(data) + "_" +
                         axis_name(axis),
                     prim,
                     data,
                     n,
                     shape,
                     {DType::F32},
                     axis});
  };
  for (NeuronAxis axis : kAxes) {
    quant_case(Primitive::SetStats, 5, {37, 53}, Data::Fp8Block, axis);
    quant_case(Primitive::SetStats, 3, {29, 41}, Data::Fp8Channel, axis);
    quant_case(Primitive::SetStats, 7, {19, 64}, Data::Mxfp4, axis);
    quant_case(Primitive::SetStats, 6, {19, 96}, Data::Mxfp4Interleaved, axis);
    quant_case(Primitive::SetStats, 3, {40, 70}, Data::Fp8BlockFusedSlice, axis);
    quant_case(Primitive::NeuronCosine, 2, {37, 53}, Data::Fp8Block, axis);
    quant_case(Primitive::NeuronCosine, 2, {45, 64}, Data::Mxfp4, axis);
    quant_case(Primitive::NeuronCosine, 2, {19, 96}, Data::Mxfp4Interleaved, axis);
  }
  quant_case(Primitive::GramRows, 1, {60, 129}, Data::Fp8Block, NeuronAxis::Rows);
  quant_case(Primitive::GramRows, 1, {7, 2048}, Data::Mxfp4, NeuronAxis::Rows);

  // A set mixing dtypes (a dense FFN stored differently from the experts), Gram only: the staging
  // then ignores row boundaries.
  set_case(9, {129, 67}, {DType::BF16, DType::F16, DType::F32}, NeuronAxis::Rows);
  cases.back().request = {true, false, false};
  // The accuracy contract: a cosine near 0 over ~20M bf16 elements matches float64 within 1e-6.
  cases.push_back({"set_near_zero_cosine_20M_BF16",
                   Primitive::SetStats,
                   Data::Independent,
                   2,
                   {4096, 4883},
                   {DType::BF16},
                   NeuronAxis::Rows,
                   {true, false, false},
                   true,
                   0.05});

  // gram_rows: router shapes, including D = 1 and N far from a power of two.
  const std::pair<std::vector<int64_t>, DType> routers[] = {
      {{60, 53}, DType::BF16},  {{7, 2048}, DType::BF16}, {{3, 1}, DType::BF16},
      {{8, 4099}, DType::BF16}, {{60, 129}, DType::F32},  {{64, 2048}, DType::F16},
      {{385, 33}, DType::BF16}, {{7, 1}, DType::F32},     {{17, 1001}, DType::BF16}};
  for (const auto& [shape, dt] : routers)
    cases.push_back({std::string("gram_rows_") + dims(shape) + "_" + dtype_name(dt),
                     Primitive::GramRows,
                     Data::SharedRows,
                     1,
                     shape,
                     {dt}});

  // neuron_cosine (and neuron_norms of its first input).
  auto cosine_case = [&](std::vector<int64_t> shape, DType dt, NeuronAxis axis,
                         Data data = Data::Correlated) {
    cases.push_back(
        {std::string("cosine_") + dims(shape) + "_" + dtype_name(dt) + "_" + axis_name(axis),
         Primitive::NeuronCosine,
         data,
         2,
         shape,
         {dt},
         axis});
  };
  for (NeuronAxis axis : kAxes) {
    for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
      cosine_case({37, 53}, dt, axis);
      cosine_case({8, 1100}, dt, axis);
      cosine_case({1, 5}, dt, axis);
      cosine_case(
          axis == NeuronAxis::Rows ? std::vector<int64_t>{45, 67} : std::vector<int64_t>{67, 45},
          dt, axis);
    }
    cosine_case({37, 53}, DType::F64, axis);
    cosine_case({37, 53}, DType::F8_E4M3, axis, Data::F8Codes);
    cosine_case({37, 53}, DType::F8_E5M2, axis, Data::F8Codes);
  }
  cosine_case({131, 96}, DType::BF16, NeuronAxis::Rows);
  return cases;
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = parity_cases();
  return cases;
}

// --- the oracle, computed once per case ---------------------------------------------------------

struct Oracle {
  Inputs inputs;
  MatrixSetStats set;
  Matrix gram;
  Matrix cosine;
  std::vector<double> norms;
};

const Oracle& oracle(std::size_t index) {
  static std::map<std::size_t, Oracle> cache;
  auto it = cache.find(index);
  if (it != cache.end()) return it->second;
  const Case& c = all_cases()[index];
  Oracle o;
  o.inputs = make_inputs(c.data, c.n, c.shape, c.dtypes, 1000 + index);
  ReferenceBackend ref;
  switch (c.primitive) {
    case Primitive::SetStats:
      o.set = ref.matrix_set_stats(o.inputs.views, c.axis, c.request);
      break;
    case Primitive::GramRows:
      o.gram = ref.gram_rows(o.inputs.views[0]);
      break;
    case Primitive::NeuronCosine:
      o.cosine = ref.neuron_cosine(o.inputs.views[0], o.inputs.views[1], c.axis);
      o.norms = ref.neuron_norms(o.inputs.views[0], c.axis);
      break;
  }
  return cache.emplace(index, std::move(o)).first->second;
}

// --- comparisons
// ----------------------------------------------------------------------------------

// |got - ref| <= rel * sqrt(ref(a,a) ref(b,b)) + abs elementwise; ref's diagonal holds the
// squared norms.
void expect_gram_near(const Matrix& got, const Matrix& ref, double rel, double abs,
                      const std::string& what) {
  ASSERT_EQ(got.rows, ref.rows) << what;
  ASSERT_EQ(got.cols, ref.cols) << what;
  for (int64_t a = 0; a < ref.rows; ++a)
    for (int64_t b = 0; b < ref.cols; ++b) {
      const double scale = std::sqrt(std::fabs(ref(a, a)) * std::fabs(ref(b, b)));
      ASSERT_NEAR(got(a, b), ref(a, b), rel * scale + abs)
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

double cosine_of(const Matrix& g, int a, int b) {
  return g(a, b) / std::sqrt(g(a, a) * g(b, b));
}

void check_set_stats(const Case& c, const Oracle& o, const MatrixSetStats& got, const Contract& k) {
  const MatrixSetStats& ref = o.set;
  if (c.request.gram) {
    expect_gram_near(got.gram, ref.gram, k.gram_rel, 1e-300, "gram");
    if (c.near_zero_cosine > 0)
      for (int a = 0; a < c.n; ++a)
        for (int b = 0; b < c.n; ++b) {
          if (a != b) EXPECT_LT(std::fabs(cosine_of(ref.gram, a, b)), c.near_zero_cosine);
          EXPECT_NEAR(cosine_of(got.gram, a, b), cosine_of(ref.gram, a, b), k.matrix_cos_abs)
              << "matrix cosine (" << a << ", " << b << ")";
        }
  }
  if (c.request.standardized_gram) {
    expect_gram_near(got.standardized_gram, ref.standardized_gram, k.gram_rel, 1e-12,
                     "standardized gram");
    EXPECT_EQ(got.skipped_positions, ref.skipped_positions);
    // The planted constant positions (every 7th) are skipped.
    if (c.n >= 2 && planted_constants(c.data))
      EXPECT_GE(ref.skipped_positions, (c.shape[0] * c.shape[1] + 6) / 7);
  }
  if (c.request.mean_neuron) {
    const std::size_t hidden =
        static_cast<std::size_t>(c.axis == NeuronAxis::Rows ? c.shape[1] : c.shape[0]);
    ASSERT_EQ(got.mean_neuron.size(), static_cast<std::size_t>(c.n));
    const double tol = std::max(k.mean_abs, k.mean_rel * o.inputs.max_abs);
    for (std::size_t r = 0; r < ref.mean_neuron.size(); ++r) {
      ASSERT_EQ(got.mean_neuron[r].size(), hidden);
      for (std::size_t j = 0; j < hidden; ++j)
        ASSERT_NEAR(got.mean_neuron[r][j], ref.mean_neuron[r][j], tol)
            << "mean neuron " << r << "[" << j << "]";
    }
  }
}

class BackendParity : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(BackendParity, MatchesReference) {
  const auto [case_index, backend_index] = GetParam();
  const Case& c = all_cases()[case_index];
  const BackendUnderTest& bt = backends_under_test()[backend_index];
  if (c.large && bt.tiny_chunks) GTEST_SKIP() << "large case: not run with tiny staging chunks";
  std::string why_not;
  std::unique_ptr<Backend> backend = bt.make(&why_not);
  if (!backend) GTEST_SKIP() << why_not;
  const Oracle& o = oracle(case_index);
  const Contract& k = bt.contract;
  switch (c.primitive) {
    case Primitive::SetStats:
      check_set_stats(c, o, backend->matrix_set_stats(o.inputs.views, c.axis, c.request), k);
      break;
    case Primitive::GramRows:
      expect_gram_near(backend->gram_rows(o.inputs.views[0]), o.gram, k.gram_rel, 1e-300,
                       "gram_rows");
      break;
    case Primitive::NeuronCosine: {
      const Matrix got = backend->neuron_cosine(o.inputs.views[0], o.inputs.views[1], c.axis);
      ASSERT_EQ(got.rows, c.axis == NeuronAxis::Rows ? c.shape[0] : c.shape[1]);
      const double h = static_cast<double>(c.axis == NeuronAxis::Rows ? c.shape[1] : c.shape[0]);
      expect_matrix_near(got, o.cosine, k.cosine_abs + k.cosine_h_units * (h + 2) * kU, "cosine");
      const std::vector<double> norms = backend->neuron_norms(o.inputs.views[0], c.axis);
      ASSERT_EQ(norms.size(), o.norms.size());
      for (std::size_t i = 0; i < norms.size(); ++i)
        EXPECT_NEAR(norms[i], o.norms[i], k.norm_rel * o.norms[i]) << "norm " << i;
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BackendParity,
    ::testing::Combine(::testing::Range<std::size_t>(0, all_cases().size()),
                       ::testing::Range<std::size_t>(0, backends_under_test().size())),
    [](const ::testing::TestParamInfo<std::tuple<std::size_t, std::size_t>>& info) {
      return all_cases()[std::get<0>(info.param)].name + "_on_" +
             backends_under_test()[std::get<1>(info.param)].label;
    });

// --- cases every backend (the reference included) must meet exactly
// -------------------------------

// The reference first, then the backends under test.
std::vector<std::string> every_backend_label() {
  std::vector<std::string> labels = {"reference"};
  for (const BackendUnderTest& bt : backends_under_test()) labels.push_back(bt.label);
  return labels;
}

std::unique_ptr<Backend> make_labelled(const std::string& label, std::string* why_not) {
  if (label == "reference") return std::make_unique<ReferenceBackend>();
  for (const BackendUnderTest& bt : backends_under_test())
    if (label == bt.label) return bt.make(why_not);
  *why_not = "no backend " + label;
  return nullptr;
}

struct ExactCase {
  const char* name;
  std::function<void(Backend&)> check;
};

std::shared_ptr<test::OwnedTensor> filled(int64_t rows, int64_t cols, DType dt,
                                          const std::string& name, float value = 1.f) {
  return test::make_tensor(std::vector<float>(static_cast<std::size_t>(rows * cols), value),
                           {rows, cols}, dt, name);
}

const std::vector<ExactCase>& exact_cases() {
  static const std::vector<ExactCase> table = {
      {"KnownValues",
       [](Backend& be) {
         // [1, 2] and [3, 4]: Gram [[5, 11], [11, 25]]; standardised: each position holds {1, 3}
         // or {2, 4}, z = -/+ 1/sqrt(2), so G_std = [[1, -1], [-1, 1]].
         auto a = test::make_tensor({1, 2}, {1, 2}, DType::F32);
         auto b = test::make_tensor({3, 4}, {1, 2}, DType::F32);
         const auto s =
             be.matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, {true, true, true});
         EXPECT_DOUBLE_EQ(s.gram(0, 1), 11.0);
         EXPECT_DOUBLE_EQ(s.gram(1, 1), 25.0);
         EXPECT_NEAR(s.standardized_gram(0, 1), -1.0, 1e-6);
         EXPECT_NEAR(s.standardized_gram(0, 0), 1.0, 1e-6);
         EXPECT_DOUBLE_EQ(s.mean_neuron[1][0], 3.0);
         const auto c =
             be.matrix_set_stats({a->view, b->view}, NeuronAxis::Cols, {true, false, true});
         EXPECT_DOUBLE_EQ(c.mean_neuron[0][0], 1.5);
       }},
      {"NanWeightNamesTheTensor",
       [](Backend& be) {
         std::vector<float> v(12, 1.f);
         v[5] = std::nanf("");
         auto bad = test::make_tensor(v, {3, 4}, DType::BF16, "experts.1.w1");
         auto good = filled(3, 4, DType::BF16, "experts.0.w1");
         try {
           be.matrix_set_stats({good->view, bad->view}, NeuronAxis::Rows, {});
           ADD_FAILURE() << "NaN weight accepted";
         } catch (const InputError& e) {
           EXPECT_EQ(e.field(), "experts.1.w1");
         }
         EXPECT_THROW(be.gram_rows(bad->view), InputError);
       }},
      {"NanWeightInLargerF32Set",
       [](Backend& be) {
         std::vector<std::shared_ptr<test::OwnedTensor>> ts;
         for (int r = 0; r < 3; ++r)
           ts.push_back(filled(8, 16, DType::F32, "m" + std::to_string(r)));
         const float nan = std::nanf("");
         std::memcpy(ts[2]->bytes.data() + 4 * 37, &nan, 4);
         try {
           be.matrix_set_stats({ts[0]->view, ts[1]->view, ts[2]->view}, NeuronAxis::Rows, {});
           ADD_FAILURE() << "NaN weight accepted";
         } catch (const InputError& e) {
           EXPECT_EQ(e.field(), "m2");
         }
         EXPECT_THROW(be.gram_rows(ts[2]->view), InputError);
       }},
      {"ShapeMismatchIsAnInputError",
       [](Backend& be) {
         auto a = filled(3, 4, DType::F32, "a"), b = filled(4, 3, DType::F32, "b");
         EXPECT_THROW(be.matrix_set_stats({a->view, b->view}, NeuronAxis::Rows, {}), InputError);
         EXPECT_THROW(be.neuron_cosine(a->view, b->view, NeuronAxis::Rows), InputError);
       }},
      {"NonFloatEmptyAndRank3AreInputErrors",
       [](Backend& be) {
         auto a = filled(8, 16, DType::BF16, "a"), b = filled(8, 16, DType::BF16, "b");
         TensorView ints = b->view;
         ints.dtype = DType::I16;  // same byte size, not a float type
         EXPECT_THROW(be.matrix_set_stats({a->view, ints}, NeuronAxis::Rows, {}), InputError);
         EXPECT_THROW(be.matrix_set_stats({}, NeuronAxis::Rows, {}), InputError);
         TensorView r3a = a->view, r3b = b->view;
         r3a.shape = r3b.shape = {2, 4, 16};
         EXPECT_THROW(be.matrix_set_stats({r3a, r3b}, NeuronAxis::Rows, {}), InputError);
       }},
  };
  return table;
}

class BackendExact : public ::testing::TestWithParam<std::tuple<std::size_t, std::string>> {};

TEST_P(BackendExact, Holds) {
  const auto& [index, label] = GetParam();
  std::string why_not;
  std::unique_ptr<Backend> backend = make_labelled(label, &why_not);
  if (!backend) GTEST_SKIP() << why_not;
  exact_cases()[index].check(*backend);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BackendExact,
    ::testing::Combine(::testing::Range<std::size_t>(0, exact_cases().size()),
                       ::testing::ValuesIn(every_backend_label())),
    [](const ::testing::TestParamInfo<std::tuple<std::size_t, std::string>>& info) {
      return std::string(exact_cases()[std::get<0>(info.param)].name) + "_on_" +
             std::get<1>(info.param);
    });

}  // namespace
}  // namespace moeprobe
