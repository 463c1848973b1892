// The experts' activation functions (a family's `activation`) in float64 and float32: SiLU
// u * sigmoid(u), exact GELU (erf), GELU's tanh approximation and gpt-oss's clamped SwiGLU gate
// g * sigmoid(1.702 g), g = min(u, 7) (activate() uses these defaults). The whole elementwise
// product the down projection reads, E(x) = W_down glu(W_act x, W_up x), is glu(): act(a) * u for
// most families, act(a) * (clamp(u, -limit, limit) + 1) for gpt-oss.
#pragma once

#include <algorithm>
#include <cmath>

#include "model/family.h"

namespace moeprobe {

double activate(Activation a, double u);
float activate(Activation a, float u);

struct ActivationSpec {
  // Implicit from a kind, so code that names only the kind keeps gpt-oss's defaults.
  ActivationSpec(Activation k = Activation::SiLU, double a = 1.702, double l = 7.0)  // NOLINT
      : kind(k), alpha(a), limit(l) {}
  Activation kind = Activation::SiLU;
  double alpha = 1.702, limit = 7.0;  // ClampedSwiGLU (gpt-oss: config swiglu_alpha, swiglu_limit)
};

// act(a) alone (for ClampedSwiGLU the gate part with the spec's alpha and limit).
template <class T>
T activate(const ActivationSpec& s, T a) {
  if (s.kind != Activation::ClampedSwiGLU) return activate(s.kind, a);
  const T g = std::min(a, T(s.limit));
  return g / (T(1) + std::exp(-T(s.alpha) * g));
}

// The elementwise product the down projection reads, from act = activate(s, a) already at hand
// (the kernels count and correlate act values too).
template <class T>
T glu_from_act(const ActivationSpec& s, T act, T u) {
  if (s.kind == Activation::ClampedSwiGLU) {
    const T lim = T(s.limit);
    return act * (std::clamp(u, -lim, lim) + T(1));
  }
  return act * u;
}

// The elementwise product the down projection reads.
template <class T>
T glu(const ActivationSpec& s, T a, T u) {
  return glu_from_act(s, activate(s, a), u);
}

}  // namespace moeprobe
