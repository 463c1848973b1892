// Layer-sized BF16 matrix sets shared by the kernel benchmarks: N matrices [rows, cols] of random
// values in (-1, 1) in one buffer, cached per shape, with TensorViews over them.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "io/tensor_view.h"

namespace moeprobe::bench {

struct Set {
  std::vector<uint16_t> bytes;  // N matrices back to back
  std::vector<TensorView> views;
  int64_t n = 0, rows = 0, cols = 0;
  std::filesystem::path file;  // optional copy on disk, removed with the set
  ~Set() {
    std::error_code ec;
    if (!file.empty()) std::filesystem::remove(file, ec);
  }
  std::size_t size() const { return bytes.size() * sizeof(uint16_t); }
};

// A xorshift stream rounded to BF16 (nearest even): mt19937 over 470M values would dominate the
// benchmarks' start-up.
inline void fill_bf16(uint16_t* out, std::size_t count, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < count; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float u = static_cast<float>(static_cast<int64_t>(s >> 40) - (1 << 23)) / (1 << 23);
    uint32_t w;
    std::memcpy(&w, &u, 4);
    out[i] = static_cast<uint16_t>((w + 0x7FFF + ((w >> 16) & 1)) >> 16);
  }
}

inline Set& bf16_set(int n, int64_t rows, int64_t cols) {
  static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<Set>> cache;
  auto& slot = cache[{n, rows, cols}];
  if (!slot) {
    slot = std::make_unique<Set>();
    slot->n = n;
    slot->rows = rows;
    slot->cols = cols;
    const std::size_t per = static_cast<std::size_t>(rows * cols);
    slot->bytes.resize(per * static_cast<std::size_t>(n));
    for (int a = 0; a < n; ++a) {
      fill_bf16(slot->bytes.data() + a * per, per, static_cast<uint64_t>(a) + 1);
      TensorView v;
      v.name = "expert" + std::to_string(a);
      v.dtype = DType::BF16;
      v.shape = {rows, cols};
      v.data = reinterpret_cast<const unsigned char*>(slot->bytes.data() + a * per);
      slot->views.push_back(v);
    }
  }
  return *slot;
}

}  // namespace moeprobe::bench
