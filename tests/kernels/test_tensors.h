// Owned in-memory tensors for tests: float values encoded in a dtype, with a TensorView over them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/tensor_view.h"
#include "synth/quantize.h"

namespace moeprobe::test {

struct OwnedTensor {
  std::vector<unsigned char> bytes;
  TensorView view;
};

inline std::shared_ptr<OwnedTensor> make_tensor(const std::vector<float>& values,
                                                std::vector<int64_t> shape, DType dtype,
                                                const std::string& name = "t") {
  auto t = std::make_shared<OwnedTensor>();
  t->bytes.resize(values.size() * dtype_size(dtype) + 1);
  convert_from_float(dtype, values.data(), t->bytes.data(), values.size());
  t->view.name = name;
  t->view.file = "memory";
  t->view.dtype = dtype;
  t->view.shape = std::move(shape);
  t->view.data = t->bytes.data();
  return t;
}

// A quantised tensor [matrices, R, C] (or [R, C] when matrices == 0) as a mapped view over owned
// codes and scales, laid out as io/quantization's open_weight maps a checkpoint's tensors.
struct QuantTensor {
  std::vector<unsigned char> codes, scales;
  TensorView view;
};

inline std::shared_ptr<QuantTensor> quant_tensor(QuantScheme scheme, DType code_dtype,
                                                 DType scale_dtype, int64_t matrices, int64_t R,
                                                 int64_t C, int64_t br, int64_t bc,
                                                 const std::string& name) {
  auto t = std::make_shared<QuantTensor>();
  const int64_t m = std::max<int64_t>(matrices, 1);
  const int64_t sr = (R + br - 1) / br, sc = (C + bc - 1) / bc;
  t->codes.resize(
      static_cast<std::size_t>(scheme == QuantScheme::Mxfp4 ? m * R * C / 2 : m * R * C));
  t->scales.resize(static_cast<std::size_t>(m * sr * sc) * dtype_size(scale_dtype));
  auto s = std::make_shared<StoredMatrix>();
  s->scheme = scheme;
  s->name = name;
  s->file = "memory";
  s->code_dtype = code_dtype;
  s->codes = t->codes.data();
  s->rows = m * R;
  s->rows_per_matrix = R;
  s->cols = C;
  s->scale_name = name + "_scale";
  s->scale_dtype = scale_dtype;
  s->scales = t->scales.data();
  s->block_rows = br;
  s->block_cols = bc;
  s->scale_rows_per_matrix = sr;
  s->scale_cols = sc;
  TensorView shape_only;
  shape_only.name = name;
  shape_only.file = "memory";
  shape_only.dtype = code_dtype;
  shape_only.shape = matrices ? std::vector<int64_t>{matrices, R, C} : std::vector<int64_t>{R, C};
  t->view = shape_only.mapped();
  t->view.storage = std::move(s);
  return t;
}

// `values` ([matrices, R, C]) as FP8 E4M3 with an F32 scale per [br, bc] block (synth's quantiser).
inline std::shared_ptr<QuantTensor> fp8_block_tensor(const std::vector<float>& values,
                                                     int64_t matrices, int64_t R, int64_t C,
                                                     int64_t br, int64_t bc,
                                                     const std::string& name = "fp8") {
  auto t =
      quant_tensor(QuantScheme::Fp8Block, DType::F8_E4M3, DType::F32, matrices, R, C, br, bc, name);
  std::vector<uint8_t> codes;
  std::vector<float> scales, deq;
  synth::quantize_fp8_blocks(values.data(), std::max<int64_t>(matrices, 1), R, C, br, bc, codes,
                             scales, deq);
  std::memcpy(t->codes.data(), codes.data(), codes.size());
  std::memcpy(t->scales.data(), scales.data(), scales.size() * 4);
  return t;
}

// `values` ([matrices, R, C], C % 32 == 0) as gpt-oss MXFP4: E2M1 pairs, an E8M0 per 32.
inline std::shared_ptr<QuantTensor> mxfp4_tensor(const std::vector<float>& values, int64_t matrices,
                                                 int64_t R, int64_t C,
                                                 const std::string& name = "mxfp4") {
  auto t = quant_tensor(QuantScheme::Mxfp4, DType::U8, DType::U8, matrices, R, C, 1, 32, name);
  std::vector<uint8_t> blocks, scales;
  std::vector<float> deq;
  synth::quantize_mxfp4(values.data(), std::max<int64_t>(matrices, 1) * R, C, blocks, scales, deq);
  std::memcpy(t->codes.data(), blocks.data(), blocks.size());
  std::memcpy(t->scales.data(), scales.data(), scales.size());
  return t;
}

inline std::vector<float> gaussian(std::size_t n, std::mt19937_64& rng, float sd = 1.f,
                                   float mean = 0.f) {
  std::normal_distribution<float> dist(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace moeprobe::test
