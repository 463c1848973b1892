// Owned in-memory tensors for tests: float values encoded in a dtype, with a TensorView over them.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/tensor_view.h"

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

inline std::vector<float> gaussian(std::size_t n, std::mt19937_64& rng, float sd = 1.f,
                                   float mean = 0.f) {
  std::normal_distribution<float> dist(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace moeprobe::test
