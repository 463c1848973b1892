// Deterministic random numbers for synthetic checkpoints. Every tensor row has its own stream,
// seeded from (recipe seed, a stream name, row index) through a fixed hash, so output bytes depend
// only on the recipe and seed: not on thread count, generation order or the C++ library (the
// standard distributions are implementation-defined, so the normal transforms are written here).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace moeprobe::synth {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// FNV-1a over the name, mixed with the seed: the stream key of a tensor (or any named quantity).
inline uint64_t stream_key(uint64_t seed, const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  uint64_t s = seed ^ (h * 0x9E3779B97F4A7C15ull);
  return splitmix64(s);
}

// xoshiro256** (Blackman & Vigna): fast, 256-bit state, good statistical quality.
class Rng {
 public:
  explicit Rng(uint64_t key, uint64_t row = 0) {
    uint64_t s = key ^ (row * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull);
    for (auto& w : s_) w = splitmix64(s);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in (0, 1): 53 random bits, never exactly 0 (Box-Muller takes its log).
  double uniform() {
    return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  uint64_t below(uint64_t n) { return next() % n; }  // bias < n / 2^64, irrelevant here

  // Exact standard normals by Box-Muller, two at a time.
  void normal_pair(double& a, double& b) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 6.283185307179586 * uniform();
    a = r * std::cos(t);
    b = r * std::sin(t);
  }
  // Fast approximate standard normal: the sum of four 16-bit uniforms (Irwin-Hall, n = 4),
  // centred and scaled to unit variance. Tails end at +-3.46, fine for bulk weights.
  float fast_normal() {
    const uint64_t r = next();
    const uint32_t s = static_cast<uint32_t>(r & 0xFFFF) +
                       static_cast<uint32_t>((r >> 16) & 0xFFFF) +
                       static_cast<uint32_t>((r >> 32) & 0xFFFF) + static_cast<uint32_t>(r >> 48);
    // Each term is uniform on {0..65535}: mean 32767.5, variance (65536^2 - 1) / 12.
    constexpr float kMean = 4.0f * 32767.5f;
    constexpr float kInvStd = 1.0f / 37837.23f;  // sqrt(4 * (65536^2 - 1) / 12)
    return (static_cast<float>(s) - kMean) * kInvStd;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

enum class NormalKind { Exact, Fast };

// Fills out[0..n) with scale * N(0, 1) from the stream (key, row).
inline void fill_normal(uint64_t key, uint64_t row, NormalKind kind, float scale, float* out,
                        int64_t n) {
  Rng rng(key, row);
  if (kind == NormalKind::Fast) {
    for (int64_t i = 0; i < n; ++i) out[i] = scale * rng.fast_normal();
    return;
  }
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    double a, b;
    rng.normal_pair(a, b);
    out[i] = static_cast<float>(scale * a);
    out[i + 1] = static_cast<float>(scale * b);
  }
  if (i < n) {
    double a, b;
    rng.normal_pair(a, b);
    out[i] = static_cast<float>(scale * a);
  }
}

}  // namespace moeprobe::synth
