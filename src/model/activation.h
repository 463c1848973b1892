// The experts' activation functions (a family's `activation`) in float64 and float32: SiLU
// u * sigmoid(u), exact GELU (erf) and GELU's tanh approximation.
#pragma once

#include "model/family.h"

namespace moeprobe {

double activate(Activation a, double u);
float activate(Activation a, float u);

}  // namespace moeprobe
