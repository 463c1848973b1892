#include "model/activation.h"

#include <cmath>

namespace moeprobe {

double activate(Activation a, double u) {
  switch (a) {
    case Activation::SiLU:
      return u / (1.0 + std::exp(-u));
    case Activation::GELU:
      return 0.5 * u * std::erfc(-u / std::sqrt(2.0));
    case Activation::GELUTanh:
      return 0.5 * u * (1.0 + std::tanh(0.7978845608028654 * (u + 0.044715 * u * u * u)));
    case Activation::ClampedSwiGLU:
      return activate(ActivationSpec{a}, u);
  }
  return u;
}

float activate(Activation a, float u) {
  switch (a) {
    case Activation::SiLU:
      return u / (1.0f + std::exp(-u));
    case Activation::GELU:
      return 0.5f * u * std::erfc(-u * 0.70710678118654752f);
    case Activation::GELUTanh:
      return 0.5f * u * (1.0f + std::tanh(0.79788456080286536f * (u + 0.044715f * u * u * u)));
    case Activation::ClampedSwiGLU:
      return activate(ActivationSpec{a}, u);
  }
  return u;
}

}  // namespace moeprobe
