// Linear assignment (A2's neuron matching): the permutation maximising the total score, by the
// shortest augmenting path method (Jonker–Volgenant style, with dual potentials), O(n^3).
#pragma once

#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

// perm[i] = the column assigned to row i, maximising sum_i score(i, perm[i]). score must be
// square with finite entries; throws std::invalid_argument otherwise. Deterministic: among equal
// candidates the lowest column index is taken.
std::vector<int> maximize_assignment(const Matrix& score);
// The same, minimising total cost.
std::vector<int> minimize_assignment(const Matrix& cost);

}  // namespace moeprobe
