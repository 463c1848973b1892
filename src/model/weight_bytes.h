// The weight bytes a pass over a layer reads, for progress rates (run's layer loop, capture).
#pragma once

#include <cstdint>

#include "model/moe_layer.h"

namespace moeprobe {

inline std::uint64_t weight_bytes(const ExpertWeights& e) {
  return e.act.nbytes() + e.up.nbytes() + e.down.nbytes();
}

// Router and every routed and shared expert.
inline std::uint64_t weight_bytes(const MoeLayer& layer) {
  std::uint64_t n = layer.router.nbytes();
  for (const auto* group : {&layer.experts, &layer.shared})
    for (const ExpertWeights& e : *group) n += weight_bytes(e);
  return n;
}

}  // namespace moeprobe
