// The arithmetic behind planted findings: activation functions, the active-neuron ratio of a
// row of given norm on x ~ N(0, I), and the calibrations that turn a requested strength into a
// construction parameter (router mixing weight alpha for a target R^2, the output amplitude t of
// the router-aligned neuron for a target norm/score agreement). All in float64.
#pragma once

#include <cstdint>
#include <vector>

#include "model/activation.h"
#include "model/family.h"

namespace moeprobe::synth {

using moeprobe::activate;  // model/activation.h

// P(|act(rho * z)| > 1e-3) for z ~ N(0, 1): the active fraction of a neuron whose act row has
// norm rho when the input is x ~ N(0, I). Numerical integration on a fixed grid.
double active_probability(Activation a, double rho);

// Pearson R^2 between the strict lower triangles of two symmetric n x n matrices (row-major).
double offdiag_r2(const std::vector<double>& x, const std::vector<double>& y, int n);

// Cosine matrix (n x n, row-major) of n row vectors of length h.
std::vector<double> cosine_matrix(const std::vector<std::vector<double>>& rows);

// Router rows g_e = alpha * mu_hat_e + v_e (mu_hat unit vectors, v_e fixed noise rows): the alpha
// for which the R^2 between cos(g) and cos(mu) equals `target`, by bisection on the exact
// float64 R^2. Returns 0 when even alpha = 0 gives at least the target (chance correlation).
double calibrate_router_alpha(const std::vector<std::vector<double>>& mu_hat,
                              const std::vector<std::vector<double>>& noise, double target);

// Per-token statistics of E_e(x) = b_e(x) + t * phi_e(x) * d_e (d_e unit vectors): the output of
// an expert without its router-aligned neuron (b), that neuron's activation (phi) and <b, d>.
struct NormRoutingSample {
  int tokens = 0, experts = 0;
  std::vector<double> b2, bd, phi;  // [token * experts + expert]
  std::vector<double> score;        // router logits, same layout
};
// P(argmax score = argmax ||E_e||) at amplitude t (ties to the lower index).
double norm_agreement(const NormRoutingSample& s, double t);
// The t that makes norm_agreement hit `target` (bisection on a log scale); `achieved` receives
// the value reached (the target may be above what the construction can give).
double calibrate_norm_amplitude(const NormRoutingSample& s, double target, double* achieved);

}  // namespace moeprobe::synth
