#include "synth/planting.h"

#include <algorithm>
#include <cmath>

namespace moeprobe::synth {

double active_probability(Activation a, double rho) {
  // Midpoint rule over z in [-40, 40]: fine steps resolve the |u| < 2e-3 dead zone near 0.
  const double lo = -40.0, hi = 40.0;
  const int n = 800000;
  const double dz = (hi - lo) / n;
  double p = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = lo + (i + 0.5) * dz;
    if (std::fabs(activate(a, rho * z)) > 1e-3) p += std::exp(-0.5 * z * z);
  }
  return p * dz / std::sqrt(2.0 * M_PI);
}

double offdiag_r2(const std::vector<double>& x, const std::vector<double>& y, int n) {
  double sx = 0, sy = 0;
  int m = 0;
  for (int a = 1; a < n; ++a)
    for (int b = 0; b < a; ++b) {
      sx += x[a * n + b];
      sy += y[a * n + b];
      ++m;
    }
  const double mx = sx / m, my = sy / m;
  double cxy = 0, cxx = 0, cyy = 0;
  for (int a = 1; a < n; ++a)
    for (int b = 0; b < a; ++b) {
      const double dx = x[a * n + b] - mx, dy = y[a * n + b] - my;
      cxy += dx * dy;
      cxx += dx * dx;
      cyy += dy * dy;
    }
  if (cxx <= 0 || cyy <= 0) return 0.0;
  return cxy * cxy / (cxx * cyy);
}

std::vector<double> cosine_matrix(const std::vector<std::vector<double>>& rows) {
  const int n = static_cast<int>(rows.size());
  std::vector<double> norms(n), c(static_cast<std::size_t>(n) * n);
  for (int a = 0; a < n; ++a) {
    double s = 0;
    for (double v : rows[a]) s += v * v;
    norms[a] = std::sqrt(s);
  }
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      double s = 0;
      for (std::size_t i = 0; i < rows[a].size(); ++i) s += rows[a][i] * rows[b][i];
      c[a * n + b] = s / std::max(norms[a] * norms[b], 1e-300);
    }
  return c;
}

double calibrate_router_alpha(const std::vector<std::vector<double>>& mu_hat,
                              const std::vector<std::vector<double>>& noise, double target) {
  const int n = static_cast<int>(mu_hat.size());
  const auto y = cosine_matrix(mu_hat);
  auto r2 = [&](double alpha) {
    std::vector<std::vector<double>> g(n);
    for (int e = 0; e < n; ++e) {
      g[e].resize(mu_hat[e].size());
      for (std::size_t i = 0; i < g[e].size(); ++i) g[e][i] = alpha * mu_hat[e][i] + noise[e][i];
    }
    return offdiag_r2(cosine_matrix(g), y, n);
  };
  if (r2(0.0) >= target) return 0.0;
  // R^2 -> 1 as alpha grows (the router becomes mu_hat); find the first crossing.
  double lo = 0.0, hi = 1.0;
  while (r2(hi) < target && hi < 1e6) {
    lo = hi;
    hi *= 2.0;
  }
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (r2(mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double norm_agreement(const NormRoutingSample& s, double t) {
  int hits = 0;
  for (int k = 0; k < s.tokens; ++k) {
    int best_s = 0, best_n = 0;
    double max_s = -1e300, max_n = -1e300;
    for (int e = 0; e < s.experts; ++e) {
      const std::size_t i = static_cast<std::size_t>(k) * s.experts + e;
      const double n2 = s.b2[i] + 2.0 * t * s.phi[i] * s.bd[i] + t * t * s.phi[i] * s.phi[i];
      if (s.score[i] > max_s) max_s = s.score[i], best_s = e;
      if (n2 > max_n) max_n = n2, best_n = e;
    }
    hits += best_s == best_n;
  }
  return static_cast<double>(hits) / std::max(1, s.tokens);
}

double calibrate_norm_amplitude(const NormRoutingSample& s, double target, double* achieved) {
  // Amplitudes are searched on a log grid, then refined by bisection: agreement rises from
  // chance (t = 0) toward the construction's ceiling, not always monotonically at fine scale.
  double bm = 0, pm = 0;
  for (std::size_t i = 0; i < s.b2.size(); ++i) bm += std::sqrt(s.b2[i]), pm += std::fabs(s.phi[i]);
  const double unit = bm / std::max(pm, 1e-30);
  double lo = 0.0, hi = -1.0;
  const double base = norm_agreement(s, 0.0);
  if (base >= target) {
    if (achieved) *achieved = base;
    return 0.0;
  }
  for (double f = 1e-3; f <= 1e4; f *= 1.5) {
    if (norm_agreement(s, f * unit) >= target) {
      hi = f * unit;
      break;
    }
    lo = f * unit;
  }
  if (hi < 0) {  // the target is above the ceiling: take the largest amplitude tried
    if (achieved) *achieved = norm_agreement(s, 1e4 * unit);
    return 1e4 * unit;
  }
  for (int it = 0; it < 40; ++it) {
    const double mid = 0.5 * (lo + hi);
    (norm_agreement(s, mid) < target ? lo : hi) = mid;
  }
  if (achieved) *achieved = norm_agreement(s, hi);
  return hi;
}

}  // namespace moeprobe::synth
