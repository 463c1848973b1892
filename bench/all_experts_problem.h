// In-memory all-experts problems for the benchmarks: E experts with bf16 W_act/W_up [I, H] and
// W_down [H, I] (bench/bench_sets.h buffers), T float32 tokens, and the FLOPs of the evaluation.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "bench/bench_sets.h"
#include "kernels/backend.h"

namespace moeprobe::bench {

struct AllExpertsProblem {
  int64_t T = 0, H = 0, I = 0;
  int E = 0;
  std::vector<float> x;  // [T, H]
  AllExpertsRequest req;
  // 6 T E I H for the three projections, E^2 T H for the per-token output Grams (ssyrk), as
  // GEMM-equivalent FLOPs.
  double flops() const { return 6.0 * T * E * I * H + static_cast<double>(E) * E * T * H; }
};

inline const AllExpertsProblem& all_experts_problem(int E, int64_t T, int64_t H, int64_t I) {
  static std::map<std::tuple<int, int64_t, int64_t, int64_t>, std::unique_ptr<AllExpertsProblem>>
      cache;
  auto& slot = cache[{E, T, H, I}];
  if (slot) return *slot;
  slot = std::make_unique<AllExpertsProblem>();
  AllExpertsProblem& p = *slot;
  p.T = T, p.H = H, p.I = I, p.E = E;
  const Set& gate_up = bf16_set(E, 2 * I, H);  // act rows then up rows, as fused checkpoints
  const Set& down = bf16_set(E, H, I);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0.f, 1.f);
  p.x.resize(static_cast<std::size_t>(T * H));
  for (float& v : p.x) v = g(rng) / 16;  // keeps the uniform(-1, 1) weights' outputs moderate
  p.req.tokens.name = "x";
  p.req.tokens.dtype = DType::F32;
  p.req.tokens.shape = {T, H};
  p.req.tokens.data = reinterpret_cast<const unsigned char*>(p.x.data());
  for (int e = 0; e < E; ++e)
    p.req.entities.push_back({{{gate_up.views[static_cast<std::size_t>(e)].slice0(0, I),
                                gate_up.views[static_cast<std::size_t>(e)].slice0(I, 2 * I),
                                down.views[static_cast<std::size_t>(e)]}},
                              Activation::SiLU,
                              {}});
  p.req.num_experts = E;
  p.req.activation_thresholds = {1e-3};
  return p;
}

}  // namespace moeprobe::bench
