// The expert nonlinearity as one function of the two projections, for every family:
// E(x) = W_down glu(W_act x, W_up x). Most families use act(a) * u; gpt-oss clamps both inputs
// and adds one to the up projection. Header-only and templated (float64 reference, float fast).
#pragma once

#include <algorithm>
#include <cmath>

#include "model/family.h"

namespace moeprobe {

struct ActivationSpec {
  Activation kind = Activation::SiLU;
  double alpha = 1.702, limit = 7.0;  // ClampedSwiGLU (gpt-oss: config swiglu_limit)
};

// act(a) alone, the quantity A11's activation ratio thresholds (for ClampedSwiGLU the gate part
// g * sigmoid(alpha g) with g = min(a, limit)).
template <class T>
T activate(const ActivationSpec& s, T a) {
  switch (s.kind) {
    case Activation::SiLU:
      return a / (T(1) + std::exp(-a));
    case Activation::GELU:
      return T(0.5) * a * std::erfc(-a / std::sqrt(T(2)));
    case Activation::GELUTanh:
      return T(0.5) * a * (T(1) + std::tanh(T(0.7978845608028654) * (a + T(0.044715) * a * a * a)));
    case Activation::ClampedSwiGLU: {
      const T g = std::min(a, T(s.limit));
      return g / (T(1) + std::exp(-T(s.alpha) * g));
    }
  }
  return a;
}

// The elementwise product the down projection reads.
template <class T>
T glu(const ActivationSpec& s, T a, T u) {
  if (s.kind == Activation::ClampedSwiGLU) {
    const T lim = T(s.limit);
    return activate(s, a) * (std::clamp(u, -lim, lim) + T(1));
  }
  return activate(s, a) * u;
}

}  // namespace moeprobe
