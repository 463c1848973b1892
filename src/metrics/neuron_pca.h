// A6: PCA of expert neurons (paper App. C.2, Fig. 7). Every neuron vector of every expert (rows of
// W_act / W_up, columns of W_down: H-vectors) is a row of an (N*I) x H data matrix; each of the H
// columns is z-scored over all rows and the neurons are projected on the first two principal
// components of that standardised data (the eigenvectors of the H x H correlation matrix).
//
// Computed as an intermediate of the layer (two passes over the layer's expert bytes: the
// column sums and the H x H cross-product, then the scores), so only an H x H matrix and the 2-D
// points are held, never the (N*I) x H data.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "metrics/metric.h"
#include "model/moe_layer.h"

namespace moeprobe {

struct NeuronPca {
  int experts = 0;
  std::vector<int64_t> neuron_index;  // the neurons used, the same for every expert (ascending)
  // 2-D scores, expert-major: point e * neuron_index.size() + k is neuron neuron_index[k] of e.
  std::vector<std::array<double, 2>> points;
  std::vector<double> explained;  // eigenvalue / trace of the correlation matrix, first two
  int64_t constant_columns = 0;   // hidden coordinates with zero variance (left out)
  int64_t per_expert() const { return static_cast<int64_t>(neuron_index.size()); }
};

// max_neurons_per_expert = 0: every neuron; else that many, evenly spaced over [0, I).
NeuronPca compute_neuron_pca(const std::vector<ExpertWeights>& experts, MatrixKind m,
                             long long max_neurons_per_expert);

}  // namespace moeprobe
