// Dequantisation of FP8 block-scaled and MXFP4 views: bit-exact against an independent float64
// decoding (every code, NaN/Inf encodings, subnormals, E8M0 extremes), sub-views of fused
// tensors (index0 / slice0 / every0 / transposed) and the refusals (unknown scheme, missing or
// misshapen scales) at open.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/checkpoint.h"
#include "io/float_codes.h"
#include "io/quantization.h"
#include "io/safetensors_writer.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

// Independent float64 decodings from the bit fields (no tables shared with the reader).
double ref_e4m3(uint8_t b) {
  const int s = b >> 7, e = (b >> 3) & 0xF, m = b & 7;
  if (e == 15 && m == 7) return std::nan("");
  const double v = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return s ? -v : v;
}
double ref_e5m2(uint8_t b) {
  const int s = b >> 7, e = (b >> 2) & 0x1F, m = b & 3;
  double v;
  if (e == 31)
    v = m == 0 ? INFINITY : std::nan("");
  else
    v = e == 0 ? std::ldexp(m, -16) : std::ldexp(4 + m, e - 17);
  return s ? -v : v;
}
double ref_e2m1(uint8_t n) {
  const int s = (n >> 3) & 1, e = (n >> 1) & 3, m = n & 1;
  const double v = e == 0 ? 0.5 * m : std::ldexp(2 + m, e - 2);
  return s ? -v : v;
}
double ref_e8m0(uint8_t e) {
  return e == 255 ? std::nan("") : std::ldexp(1.0, e - 127);
}

// The float a reader must produce for an exact float64 value: its correct rounding (one IEEE
// multiply), an infinity from the rounding midpoint past FLT_MAX on.
void expect_float_of(double ref, float got, const std::string& what) {
  const double overflow = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);
  if (std::isnan(ref)) {
    EXPECT_TRUE(std::isnan(got)) << what;
  } else if (std::fabs(ref) >= overflow) {
    EXPECT_TRUE(std::isinf(got) && std::signbit(got) == std::signbit(ref)) << what << " " << ref;
  } else {
    const float want = std::fabs(ref) > FLT_MAX
                           ? std::copysign(FLT_MAX, static_cast<float>(ref > 0 ? 1 : -1))
                           : static_cast<float>(ref);
    EXPECT_EQ(got, want) << what;
    EXPECT_EQ(std::signbit(got), std::signbit(ref)) << what;
  }
}
void expect_same(double ref, double got, const std::string& what) {
  if (std::isnan(ref)) {
    EXPECT_TRUE(std::isnan(got)) << what;
  } else {
    EXPECT_EQ(got, ref) << what;
    EXPECT_EQ(std::signbit(got), std::signbit(ref)) << what;
  }
}

// The shared decoders (io/float_codes.h, which the CUDA kernels compile too) on every code.
TEST(Quantization, SharedFp8DecodersAreExactForEveryCode) {
  for (int b = 0; b < 256; ++b) {
    const uint8_t code = static_cast<uint8_t>(b);
    expect_same(ref_e4m3(code), f8e4m3_to_float(code), "e4m3 " + std::to_string(b));
    expect_same(ref_e5m2(code), f8e5m2_to_float(code), "e5m2 " + std::to_string(b));
  }
}

struct Owned {
  std::vector<unsigned char> codes, scales;
  TensorView view;
};

// A [rows, cols] FP8 tensor with F32 block scales, as a mapped view over memory.
Owned fp8_view(DType dt, int64_t rows, int64_t cols, int64_t br, int64_t bc,
               std::vector<unsigned char> codes, const std::vector<float>& scales) {
  Owned o;
  o.codes = std::move(codes);
  o.scales.resize(scales.size() * 4);
  std::memcpy(o.scales.data(), scales.data(), o.scales.size());
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = QuantScheme::Fp8Block;
  s->name = "w";
  s->code_dtype = dt;
  s->codes = o.codes.data();
  s->rows = s->rows_per_matrix = rows;
  s->cols = cols;
  s->scale_dtype = DType::F32;
  s->scales = o.scales.data();
  s->block_rows = br;
  s->block_cols = bc;
  s->scale_rows_per_matrix = (rows + br - 1) / br;
  s->scale_cols = (cols + bc - 1) / bc;
  TensorView shape_only;
  shape_only.name = "w";
  shape_only.dtype = dt;
  shape_only.shape = {rows, cols};
  o.view = shape_only.mapped();
  o.view.storage = s;
  return o;
}

TEST(Quantization, Fp8BlockDequantisationIsExactForEveryCode) {
  std::mt19937_64 rng(7);
  for (DType dt : {DType::F8_E4M3, DType::F8_E5M2}) {
    const int64_t rows = 48, cols = 40, br = 16, bc = 16;  // partial blocks in the last column
    std::vector<unsigned char> codes(static_cast<std::size_t>(rows * cols));
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<unsigned char>(i % 256);
    std::shuffle(codes.begin(), codes.end(), rng);
    // Scales: ordinary, subnormal, huge (overflow to inf in float), negative, one.
    std::vector<float> scales = {
        1.0f, 0.0123f, std::ldexp(1.0f, -140), 3.0e38f, -2.5f, 0.5f, 7.0f, 1e-20f, 1.0f};
    const auto o = fp8_view(dt, rows, cols, br, bc, codes, scales);
    std::vector<float> f(static_cast<std::size_t>(rows * cols));
    std::vector<double> d(f.size());
    o.view.read_float(0, rows * cols, f.data());
    o.view.read_double(0, rows * cols, d.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const std::size_t i = static_cast<std::size_t>(r * cols + c);
        const uint8_t b = codes[i];
        const double q = dt == DType::F8_E4M3 ? ref_e4m3(b) : ref_e5m2(b);
        const double ref = q * static_cast<double>(scales[(r / br) * 3 + c / bc]);
        const std::string what = std::string(dtype_name(dt)) + " code " + std::to_string(b);
        expect_same(ref, d[i], what);
        expect_float_of(ref, f[i], what);
      }
    // Unaligned reads (a run starting mid-block) give the same values.
    std::vector<float> part(100);
    o.view.read_float(37, 100, part.data());
    for (int k = 0; k < 100; ++k) EXPECT_EQ(std::memcmp(&part[k], &f[37 + k], 4), 0);
  }
}

TEST(Quantization, Mxfp4DequantisationIsExactIncludingE8m0Extremes) {
  std::mt19937_64 rng(11);
  const int64_t rows = 6, cols = 96;  // 3 scales a row
  std::vector<unsigned char> blocks(static_cast<std::size_t>(rows * cols / 2));
  for (auto& b : blocks) b = static_cast<unsigned char>(rng());
  std::vector<unsigned char> scales = {0, 1,   127, 254, 255, 126, 100, 130, 200,
                                       0, 255, 128, 127, 127, 50,  5,   250, 253};
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = QuantScheme::Mxfp4;
  s->code_dtype = DType::U8;
  s->codes = blocks.data();
  s->rows = s->rows_per_matrix = rows;
  s->cols = cols;
  s->scale_dtype = DType::U8;
  s->scales = scales.data();
  s->block_rows = 1;
  s->block_cols = 32;
  s->scale_rows_per_matrix = rows;
  s->scale_cols = cols / 32;
  TensorView shape_only;
  shape_only.name = "w_blocks";
  shape_only.dtype = DType::U8;
  shape_only.shape = {rows, cols};
  TensorView v = shape_only.mapped();
  v.storage = s;
  std::vector<float> f(static_cast<std::size_t>(rows * cols));
  std::vector<double> d(f.size());
  v.read_float(0, rows * cols, f.data());
  v.read_double(0, rows * cols, d.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      const uint8_t byte = blocks[i / 2];
      const uint8_t nib = c % 2 ? byte >> 4 : byte & 0xF;  // low nibble first
      const double ref = ref_e2m1(nib) * ref_e8m0(scales[static_cast<std::size_t>(r * 3 + c / 32)]);
      expect_same(ref, d[i], "element " + std::to_string(i));
      expect_float_of(ref, f[i], "element " + std::to_string(i));
    }
  for (int e = 0; e < 256; ++e) {
    expect_same(ref_e8m0(static_cast<uint8_t>(e)), e8m0_to_double(static_cast<uint8_t>(e)), "e8m0");
    expect_float_of(ref_e8m0(static_cast<uint8_t>(e)), e8m0_to_float(static_cast<uint8_t>(e)),
                    "e8m0");
  }
  for (int n = 0; n < 16; ++n)
    expect_same(ref_e2m1(static_cast<uint8_t>(n)), e2m1_to_float(static_cast<uint8_t>(n)), "e2m1");
  // Odd start offsets (a high nibble first).
  std::vector<float> part(45);
  v.read_float(33, 45, part.data());
  for (int k = 0; k < 45; ++k) EXPECT_EQ(std::memcmp(&part[k], &f[33 + k], 4), 0);
}

// [E, R, C] FP8 with blocks that do not divide R: the scale grid restarts for every expert, and
// sub-views (index0, slice0 at a mid-block row, every0, transposed) carry it along.
TEST(Quantization, SubViewsOfFusedTensorsCarryTheirScales) {
  const int64_t E = 3, R = 6, C = 10, br = 4, bc = 4;
  const int64_t SR = 2, SC = 3;
  std::mt19937_64 rng(3);
  std::vector<unsigned char> codes(static_cast<std::size_t>(E * R * C));
  for (auto& b : codes) b = static_cast<unsigned char>(rng() % 0x7E);  // finite E4M3
  std::vector<float> scales(static_cast<std::size_t>(E * SR * SC));
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = 0.25f * static_cast<float>(i + 1);
  Owned o;
  o.codes = codes;
  o.scales.resize(scales.size() * 4);
  std::memcpy(o.scales.data(), scales.data(), o.scales.size());
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = QuantScheme::Fp8Block;
  s->code_dtype = DType::F8_E4M3;
  s->codes = o.codes.data();
  s->rows = E * R;
  s->rows_per_matrix = R;
  s->cols = C;
  s->scales = o.scales.data();
  s->block_rows = br;
  s->block_cols = bc;
  s->scale_rows_per_matrix = SR;
  s->scale_cols = SC;
  TensorView shape_only;
  shape_only.name = "gate_up";
  shape_only.dtype = DType::F8_E4M3;
  shape_only.shape = {E, R, C};
  TensorView v = shape_only.mapped();
  v.storage = s;
  auto ref = [&](int64_t e, int64_t r, int64_t c) {
    return ref_e4m3(codes[static_cast<std::size_t>((e * R + r) * C + c)]) *
           scales[static_cast<std::size_t>((e * SR + r / br) * SC + c / bc)];
  };
  auto all = [](const TensorView& t) {
    std::vector<double> out(static_cast<std::size_t>(t.numel()));
    t.read_double(0, t.numel(), out.data());
    return out;
  };
  for (int64_t e = 0; e < E; ++e) {
    const TensorView m = v.index0(e);
    const auto half = all(m.slice0(3, 6));  // starts inside the first row block
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < C; ++c) EXPECT_EQ(half[r * C + c], ref(e, 3 + r, c));
    const auto odd = all(m.every0(1, 2));  // rows 1, 3, 5
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < C; ++c) EXPECT_EQ(odd[r * C + c], ref(e, 2 * r + 1, c));
    const TensorView t = m.transposed();  // [C, R]
    ASSERT_EQ(t.shape, (std::vector<int64_t>{C, R}));
    const auto tt = all(t.slice0(2, 7));
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t r = 0; r < R; ++r) EXPECT_EQ(tt[i * R + r], ref(e, r, 2 + i));
    std::vector<float> f(static_cast<std::size_t>(t.numel()));
    t.read_float(0, t.numel(), f.data());
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < R; ++r) EXPECT_EQ(static_cast<double>(f[c * R + r]), ref(e, r, c));
  }
}

// ---- refusals at open ---------------------------------------------------------------------------

fs::path temp_dir(const std::string& tag) {
  static int counter = 0;
  fs::path p =
      fs::temp_directory_path() / ("moeprobe_quant_" + tag + "_" + std::to_string(::getpid()) +
                                   "_" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

struct Spec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

// A checkpoint of zero-filled tensors and the given config.
fs::path write_checkpoint(const std::string& tag, const std::vector<Spec>& specs,
                          const nlohmann::json& config) {
  const fs::path dir = temp_dir(tag);
  std::vector<TensorSpec> ts;
  for (const auto& s : specs) ts.push_back({s.name, s.dtype, s.shape});
  SafetensorsWriter w(dir / "model.safetensors", ts, {});
  for (const auto& t : ts) {
    std::vector<unsigned char> zeros(t.nbytes(), 0);
    w.write(t.name, zeros.data(), zeros.size());
  }
  w.finish();
  std::ofstream(dir / "config.json") << config.dump();
  return dir;
}

std::string error_of(const fs::path& dir, const std::string& name) {
  try {
    const Checkpoint ck(dir);
    const QuantConfig q = read_quant_config(ck.config(), ck.config_path().string());
    (void)open_weight(ck, name, q);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Quantization, RefusesWhatItCannotDequantise) {
  const nlohmann::json fp8 = {
      {"quantization_config", {{"quant_method", "fp8"}, {"weight_block_size", {128, 128}}}}};
  // Missing scale tensor.
  auto dir = write_checkpoint("missing", {{"w", DType::F8_E4M3, {256, 256}}}, fp8);
  std::string err = error_of(dir, "w");
  EXPECT_NE(err.find("'w'"), std::string::npos) << err;
  EXPECT_NE(err.find("w_scale_inv"), std::string::npos) << err;
  EXPECT_NE(err.find("fp8"), std::string::npos) << err;
  // Scales that do not tile the weight.
  dir = write_checkpoint(
      "tile", {{"w", DType::F8_E4M3, {256, 256}}, {"w_scale_inv", DType::F32, {2, 3}}}, fp8);
  err = error_of(dir, "w");
  EXPECT_NE(err.find("does not tile"), std::string::npos) << err;
  EXPECT_NE(err.find("[2, 2]"), std::string::npos) << err;
  // The default block when the config gives none, and partial edge blocks.
  dir = write_checkpoint("edge",
                         {{"w", DType::F8_E4M3, {200, 130}}, {"w_scale_inv", DType::F32, {2, 2}}},
                         {{"quantization_config", {{"quant_method", "fp8"}}}});
  EXPECT_EQ(error_of(dir, "w"), "");
  // Unknown scheme.
  dir = write_checkpoint("gptq", {{"w", DType::F32, {4, 4}}},
                         {{"quantization_config", {{"quant_method", "gptq"}}}});
  err = error_of(dir, "w");
  EXPECT_NE(err.find("quantization_config.quant_method"), std::string::npos) << err;
  EXPECT_NE(err.find("gptq"), std::string::npos) << err;
  // MXFP4 without scales, and with scales of the wrong shape.
  const nlohmann::json mx = {{"quantization_config", {{"quant_method", "mxfp4"}}}};
  dir = write_checkpoint("mx", {{"w_blocks", DType::U8, {8, 2, 16}}}, mx);
  err = error_of(dir, "w");
  EXPECT_NE(err.find("w_scales"), std::string::npos) << err;
  EXPECT_NE(err.find("MXFP4"), std::string::npos) << err;
  dir = write_checkpoint(
      "mx2", {{"w_blocks", DType::U8, {8, 2, 16}}, {"w_scales", DType::U8, {8, 3}}}, mx);
  err = error_of(dir, "w");
  EXPECT_NE(err.find("does not tile"), std::string::npos) << err;
  // Per-channel scales are recognised.
  dir = write_checkpoint("pc", {{"w", DType::F8_E4M3, {8, 64}}, {"w_scale", DType::F32, {8, 1}}},
                         {{"quantization_config", {{"quant_method", "fbgemm_fp8"}}}});
  EXPECT_EQ(error_of(dir, "w"), "");
}

}  // namespace
}  // namespace moeprobe
