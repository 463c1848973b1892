#include "synth/expert_generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "synth/parallel.h"
#include "synth/rng.h"

namespace moeprobe::synth {

namespace {

constexpr int kNormNeuron = 0;           // position of the router-aligned neuron
constexpr double kNormNeuronGain = 4.0;  // its pre-activation is 4 * logit / mean router norm
// x ~ N(0, I) samples for the norm-routing calibration: as many as ~2e8 multiply-adds per layer
// allow, between 256 and 2048 (sampling sd of the calibrated agreement 0.03 .. 0.011).
int calib_tokens(int64_t E, int64_t I, int64_t H) {
  return static_cast<int>(std::clamp<int64_t>(200000000 / (3 * E * I * H), 256, 2048));
}

// Dot product in eight float lanes (vectorisable), summed in double.
inline double dotf(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  double s = 0;
  for (int k = 0; k < 8; ++k) s += acc[k];
  for (; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}
constexpr float kDeadScale = 1e-4f;  // dead act rows: pre-activations ~1e-4, |act| < 1e-3

std::string lkey(int layer, const std::string& what) {
  return "L" + std::to_string(layer) + "." + what;
}

// m >= 2 values evenly spaced in [-1, 1], shuffled by the stream `key`.
std::vector<double> shuffled_spacing(int m, uint64_t key) {
  std::vector<double> u(m);
  for (int j = 0; j < m; ++j) u[j] = -1.0 + 2.0 * j / (m - 1);
  Rng rs(key);
  for (int j = m - 1; j > 0; --j) std::swap(u[j], u[rs.below(j + 1)]);
  return u;
}

}  // namespace

const LayerPlan& ExpertGenerator::plan(int pos) {
  if (!plan_ || plan_->pos != pos) {
    plan_ = build(pos);
    reports_[pos] = plan_->report;
  }
  return *plan_;
}

void ExpertGenerator::expert_rows(const LayerPlan& p, int e, const char* mat, float* out) const {
  const int64_t I = m_.I, H = m_.H;
  const float sigma = 1.0f / std::sqrt(static_cast<float>(H));
  const bool shared = p.upcycled && !p.dark[e];
  const uint64_t kn = stream_key(m_.r.seed, lkey(p.layer, "e" + std::to_string(e) + "." + mat));
  const uint64_t kb = stream_key(m_.r.seed, lkey(p.layer, std::string("base.") + mat));
  const uint64_t kg = stream_key(m_.r.seed, lkey(p.layer, std::string("axis.") + mat));
  const float wb = p.wb[e], wn = p.wn[e], wg = p.wg.empty() ? 0.0f : p.wg[e];
  parallel_chunks(I, m_.threads, [&](int64_t begin, int64_t end) {
    std::vector<float> base(static_cast<std::size_t>(H));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t src = p.perm.empty() ? i : p.perm[e][i];
      float* row = out + i * H;
      if (!shared) {
        fill_normal(kn, src, m_.kind, sigma, row, H);
        continue;
      }
      fill_normal(kn, src, m_.kind, sigma * wn, row, H);
      fill_normal(kb, src, m_.kind, sigma * wb, base.data(), H);
      for (int64_t h = 0; h < H; ++h) row[h] += base[h];
      if (wg != 0.0f) {
        fill_normal(kg, src, m_.kind, sigma * wg, base.data(), H);
        for (int64_t h = 0; h < H; ++h) row[h] += base[h];
      }
    }
  });
  if (p.norm_neuron)
    for (int64_t h = 0; h < H; ++h) out[kNormNeuron * H + h] = p.neuron_scale * p.router[e][h];
  if (std::string(mat) != "act") return;
  for (int64_t i = 0; i < I; ++i)
    if (p.dead[i])
      for (int64_t h = 0; h < H; ++h) out[i * H + h] *= kDeadScale;
  if (p.mu.empty()) return;
  // Shift the live rows so the mean neuron is exactly mu_e (whatever the rows hold).
  std::vector<double> mean(static_cast<std::size_t>(H), 0.0);
  for (int64_t i = 0; i < I; ++i)
    for (int64_t h = 0; h < H; ++h) mean[h] += out[i * H + h];
  int64_t live = 0;
  for (int64_t i = 0; i < I; ++i) live += !p.dead[i] && !(p.norm_neuron && i == kNormNeuron);
  for (int64_t h = 0; h < H; ++h)
    mean[h] = (p.mu[e][h] - mean[h] / I) * static_cast<double>(I) / std::max<int64_t>(live, 1);
  for (int64_t i = 0; i < I; ++i) {
    if (p.dead[i] || (p.norm_neuron && i == kNormNeuron)) continue;
    for (int64_t h = 0; h < H; ++h) out[i * H + h] += static_cast<float>(mean[h]);
  }
}

void ExpertGenerator::expert_down(const LayerPlan& p, int e, double t, float* out) const {
  const int64_t I = m_.I, H = m_.H;
  const float sigma = 1.0f / std::sqrt(static_cast<float>(I));
  const bool shared = p.upcycled && !p.dark[e];
  const uint64_t kn = stream_key(m_.r.seed, lkey(p.layer, "e" + std::to_string(e) + ".down"));
  const uint64_t kb = stream_key(m_.r.seed, lkey(p.layer, "base.down"));
  const uint64_t kg = stream_key(m_.r.seed, lkey(p.layer, "axis.down"));
  const float wb = p.wb[e], wn = p.wn[e], wg = p.wg.empty() ? 0.0f : p.wg[e];
  parallel_chunks(H, m_.threads, [&](int64_t begin, int64_t end) {
    std::vector<float> a(static_cast<std::size_t>(I)), b(static_cast<std::size_t>(I));
    for (int64_t h = begin; h < end; ++h) {
      fill_normal(kn, h, m_.kind, shared ? sigma * wn : sigma, a.data(), I);
      if (shared) {
        fill_normal(kb, h, m_.kind, sigma * wb, b.data(), I);
        for (int64_t i = 0; i < I; ++i) a[i] += b[i];
        if (wg != 0.0f) {
          fill_normal(kg, h, m_.kind, sigma * wg, b.data(), I);
          for (int64_t i = 0; i < I; ++i) a[i] += b[i];
        }
      }
      float* row = out + h * I;
      for (int64_t i = 0; i < I; ++i) row[i] = a[p.perm.empty() ? i : p.perm[e][i]];
      if (p.norm_neuron) row[kNormNeuron] = static_cast<float>(t * p.dir[e][h]);
      const float s = static_cast<float>(p.out_scale);
      if (s != 1.0f)
        for (int64_t i = 0; i < I; ++i) row[i] *= s;
    }
  });
}

void ExpertGenerator::reference(const LayerPlan& p, const char* mat, float* out) const {
  const int64_t I = m_.I, H = m_.H;
  const bool down = std::string(mat) == "down";
  const int64_t rows = down ? H : I, cols = down ? I : H;
  const float sigma = 1.0f / std::sqrt(static_cast<float>(cols));
  const uint64_t kb = stream_key(m_.r.seed, lkey(p.layer, std::string("base.") + mat));
  parallel_for(rows, m_.threads, [&](int64_t i) {
    fill_normal(kb, i, m_.kind, sigma, out + i * cols, cols);
    const float s = down ? static_cast<float>(p.out_scale) : (p.dead[i] ? kDeadScale : 1.0f);
    if (s != 1.0f)
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] *= s;
  });
}

std::unique_ptr<LayerPlan> ExpertGenerator::build(int pos) const {
  const Plants& pl = m_.r.plant;
  const int n = m_.n_moe, E = m_.E;
  const int64_t H = m_.H, I = m_.I;
  auto p = std::make_unique<LayerPlan>();
  p->pos = pos;
  p->layer = m_.first_dense + pos;
  const int l = p->layer;
  const uint64_t seed = m_.r.seed;
  p->upcycled = pl.upcycling.has_value();
  p->c = p->upcycled ? pl.upcycling->at(pos, n) : 0.0;
  p->dark.assign(E, 0);
  if (!pl.dark_cross_experts.empty() &&
      (pl.dark_cross_layers.empty() ||
       std::count(pl.dark_cross_layers.begin(), pl.dark_cross_layers.end(), pos)))
    for (int e : pl.dark_cross_experts) p->dark[e] = 1;
  base_weights(*p, pl.upcycling_spread, pl.upcycling_axis);
  p->out_scale = pl.output_scale ? pl.output_scale->at(pos, n) : 1.0;

  // Neuron order: one moving set per layer, shuffled independently in each expert.
  const double keep = pl.neuron_order ? pl.neuron_order->at(pos, n) : 1.0;
  const int64_t moving = std::llround((1.0 - keep) * I);
  if (moving >= 2) {
    std::vector<int> order(I);
    std::iota(order.begin(), order.end(), 0);
    Rng rs(stream_key(seed, lkey(l, "perm.set")));
    for (int64_t i = I - 1; i > 0; --i) std::swap(order[i], order[rs.below(i + 1)]);
    std::vector<int> set(order.begin(), order.begin() + moving);
    std::sort(set.begin(), set.end());
    p->perm.resize(E);
    for (int e = 0; e < E; ++e) {
      auto& pe = p->perm[e];
      pe.resize(I);
      std::iota(pe.begin(), pe.end(), 0);
      std::vector<int> sh = set;
      Rng re(stream_key(seed, lkey(l, "perm.e" + std::to_string(e))));
      for (int64_t i = moving - 1; i > 0; --i) std::swap(sh[i], sh[re.below(i + 1)]);
      for (int64_t j = 0; j < moving; ++j) pe[set[j]] = sh[j];
    }
  }

  // Router rows: noise, plus the planted mean-neuron direction.
  p->norm_neuron = pl.norm_routing.has_value();
  std::vector<std::vector<double>> noise(E, std::vector<double>(H)), mu_hat;
  {
    std::vector<float> row(H);
    const uint64_t kr = stream_key(seed, lkey(l, "router.noise"));
    for (int e = 0; e < E; ++e) {
      fill_normal(kr, e, NormalKind::Exact, 1.0f / std::sqrt(static_cast<float>(H)), row.data(), H);
      for (int64_t h = 0; h < H; ++h) noise[e][h] = row[h];
    }
  }
  if (pl.mean_neuron) {
    const double target = pl.mean_neuron->at(pos, n);
    const int K = pl.mean_neuron_rank;
    std::vector<std::vector<float>> basis(K + 1, std::vector<float>(H));
    for (int k = 0; k <= K; ++k)
      fill_normal(stream_key(seed, lkey(l, "mu.basis")), k, NormalKind::Exact,
                  1.0f / std::sqrt(static_cast<float>(H)), basis[k].data(), H);
    // w_e = (a, n_e): E cos(mu_a, mu_b) ~ a^2 / (a^2 + K) = target.
    const double a = std::sqrt(target * K / (1.0 - target));
    Rng rw(stream_key(seed, lkey(l, "mu.weights")));
    p->mu.assign(E, std::vector<float>(H));
    mu_hat.assign(E, std::vector<double>(H));
    for (int e = 0; e < E; ++e) {
      std::vector<double> w(K + 1);
      w[0] = a;
      for (int k = 1; k <= K; k += 2) {
        double x, y;
        rw.normal_pair(x, y);
        w[k] = x;
        if (k + 1 <= K) w[k + 1] = y;
      }
      double nn = 0;
      for (int64_t h = 0; h < H; ++h) {
        double v = 0;
        for (int k = 0; k <= K; ++k) v += w[k] * basis[k][h];
        mu_hat[e][h] = v;
        nn += v * v;
      }
      nn = std::sqrt(nn);
      const double len = std::sqrt(pl.mean_neuron_energy);
      for (int64_t h = 0; h < H; ++h) {
        mu_hat[e][h] /= nn;
        p->mu[e][h] = static_cast<float>(len * mu_hat[e][h]);
      }
    }
    p->report.mean_neuron = target;
  }
  double alpha = 0;
  if (pl.router_association) {
    const double target = pl.router_association->at(pos, n);
    alpha = calibrate_router_alpha(mu_hat, noise, target);
    p->report.router_r2_target = target;
    p->report.router_alpha = alpha;
  }
  p->router.assign(E, std::vector<float>(H));
  std::vector<std::vector<double>> g(E, std::vector<double>(H));
  for (int e = 0; e < E; ++e) {
    const double hub =
        (pl.router_hub_expert && *pl.router_hub_expert == e) ? pl.router_hub_strength : 1.0;
    for (int64_t h = 0; h < H; ++h) {
      g[e][h] = (alpha * (mu_hat.empty() ? 0.0 : mu_hat[e][h]) + noise[e][h]) * hub *
                m_.r.shape.router_scale;
      p->router[e][h] = static_cast<float>(g[e][h]);
    }
  }
  if (pl.router_association) {
    std::vector<std::vector<double>> gr(E, std::vector<double>(H));
    for (int e = 0; e < E; ++e)
      for (int64_t h = 0; h < H; ++h) gr[e][h] = p->router[e][h];
    p->report.router_r2 = offdiag_r2(cosine_matrix(gr), cosine_matrix(mu_hat), E);
  }

  // Dead act rows for the activation ratio, shared by all experts of the layer.
  p->dead.assign(I, 0);
  if (pl.activation_ratio) {
    const double target = pl.activation_ratio->at(pos, n);
    const double live_p = active_probability(m_.act, 1.0);
    const int64_t n_dead = std::clamp<int64_t>(std::llround(I * (1.0 - target / live_p)), 0, I - 1);
    std::vector<int> order;
    for (int i = 0; i < I; ++i)
      if (!(p->norm_neuron && i == kNormNeuron)) order.push_back(i);
    Rng rd(stream_key(seed, lkey(l, "dead")));
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
      std::swap(order[i], order[rd.below(i + 1)]);
    for (int64_t j = 0; j < std::min<int64_t>(n_dead, order.size()); ++j) p->dead[order[j]] = 1;
    p->report.activation_ratio_target = target;
    p->report.dead_fraction = static_cast<double>(n_dead) / I;
  }

  if (p->norm_neuron) {
    double gm = 0;
    for (int e = 0; e < E; ++e) {
      double s = 0;
      for (int64_t h = 0; h < H; ++h) s += g[e][h] * g[e][h];
      gm += std::sqrt(s) / E;
    }
    p->neuron_scale = static_cast<float>(kNormNeuronGain / gm);
    // One output direction d for the layer: the chosen experts' outputs then share a large
    // component along d, so they are also more alike (A7), as the paper sees in Mixtral.
    std::vector<float> d(H);
    fill_normal(stream_key(seed, lkey(l, "normdir")), 0, NormalKind::Exact, 1.0f, d.data(), H);
    double dn = 0;
    for (float v : d) dn += double(v) * v;
    for (float& v : d) v = static_cast<float>(v / std::sqrt(dn));
    p->dir.assign(E, d);
    const double target = pl.norm_routing->at(pos, n);
    NormRoutingSample smp = sample_norms(*p);
    double achieved = 0;
    p->t = calibrate_norm_amplitude(smp, target, &achieved);
    p->report.norm_target = target;
    p->report.norm_achieved = achieved;
    p->report.norm_amplitude = p->t;
  }

  p->report.layer = l;
  p->report.similarity = p->c;
  p->report.keep_order = keep;
  p->report.output_scale = p->out_scale;
  for (int e = 0; e < E; ++e)
    if (p->dark[e]) p->report.dark_experts.push_back(e);
  return p;
}

// Expert e = wb_e W_F + wn_e N_e. Without spread wb = sqrt(c), wn = sqrt(1 - c) (unit rows,
// every pair at cosine c). With spread s the base weight is k f_e wn, f_e = 1 + s u_e (u_e
// evenly spaced in [-1, 1], shuffled per layer) and wn is the same for every expert, so
// cos(a, b) = k^2 f_a f_b / sqrt((k^2 f_a^2 + 1)(k^2 f_b^2 + 1)) varies across pairs with one
// pattern for act, up and down (what the three matrices agree on), while every expert keeps
// the same amount of private noise (no expert stands out in a PCA unless planted dark).
// k is found by bisection so the mean over pairs of non-dark experts is exactly c. Dark
// experts are scratch (wb = 0, wn = 1).
//
// With axis a, t_e = sqrt(a) u_e (u_e evenly spaced in [-1, 1], an independent shuffle) is the
// weight of a second shared matrix G (before normalisation, private noise weight 1), so
// cos(a, b) = (k^2 f_a f_b + t_a t_b) / norms: a zero-mean pair pattern that hardly moves the
// experts' mean similarity, and G an expert-PCA axis with a^2-scaled variance along which the
// experts spread evenly (no expert is an outlier along it).
void ExpertGenerator::base_weights(LayerPlan& p, double spread, double axis) const {
  const int E = m_.E;
  p.wb.assign(E, 0.0f);
  p.wn.assign(E, 1.0f);
  if (!p.upcycled) return;
  std::vector<int> live;
  for (int e = 0; e < E; ++e)
    if (!p.dark[e]) live.push_back(e);
  const int m = static_cast<int>(live.size());
  std::vector<double> f(E, 1.0);
  if (spread > 0 && m >= 2) {
    const std::vector<double> u =
        shuffled_spacing(m, stream_key(m_.r.seed, lkey(p.layer, "spread")));
    for (int j = 0; j < m; ++j) f[live[j]] = 1.0 + spread * u[j];
  }
  std::vector<double> t(E, 0.0);
  if (axis > 0 && m >= 2) {
    const std::vector<double> u = shuffled_spacing(m, stream_key(m_.r.seed, lkey(p.layer, "axis")));
    for (int j = 0; j < m; ++j) t[live[j]] = std::sqrt(axis) * u[j];
  }
  const double c = std::min(p.c, 1.0 - 1e-6);
  auto mean_cos = [&](double k) {
    double sum = 0;
    int pairs = 0;
    for (int a = 0; a < m; ++a)
      for (int b = a + 1; b < m; ++b, ++pairs) {
        const int ea = live[a], eb = live[b];
        const double x = k * f[ea], y = k * f[eb];
        sum += (x * y + t[ea] * t[eb]) /
               std::sqrt((x * x + t[ea] * t[ea] + 1) * (y * y + t[eb] * t[eb] + 1));
      }
    return pairs ? sum / pairs : c;
  };
  double k = std::sqrt(c / (1.0 - c));  // exact without spread or axis
  if ((spread > 0 || axis > 0) && m >= 2 && c > 0) {
    double lo = 0, hi = 1;
    while (mean_cos(hi) < c && hi < 1e9) lo = hi, hi *= 2;
    for (int it = 0; it < 100; ++it) {
      const double mid = 0.5 * (lo + hi);
      (mean_cos(mid) < c ? lo : hi) = mid;
    }
    k = 0.5 * (lo + hi);
  }
  double f2 = 0;
  for (int e : live) f2 += (k * k * f[e] * f[e] + t[e] * t[e]) / m;
  // Noise weight shared by all live experts: rows of norm ~1 on average.
  const double wn = 1.0 / std::sqrt(f2 + 1.0);
  if (axis > 0) p.wg.assign(E, 0.0f);
  for (int e : live) {
    if (axis > 0) p.wg[e] = static_cast<float>(t[e] * wn);
    p.wb[e] = static_cast<float>(k * f[e] * wn);
    p.wn[e] = static_cast<float>(wn);
    p.report.base_weight.push_back(p.wb[e]);
  }
  for (int e = 0; e < E; ++e)
    if (p.dark[e]) p.report.base_weight.insert(p.report.base_weight.begin() + e, 0.0);
}

// Outputs of every expert without its router-aligned neuron on kCalibTokens inputs.
NormRoutingSample ExpertGenerator::sample_norms(const LayerPlan& p) const {
  const int T = calib_tokens(m_.E, m_.I, m_.H), E = m_.E;
  const int64_t H = m_.H, I = m_.I;
  NormRoutingSample s;
  s.tokens = T;
  s.experts = E;
  const std::size_t n = static_cast<std::size_t>(T) * E;
  s.b2.resize(n), s.bd.resize(n), s.phi.resize(n), s.score.resize(n);
  std::vector<float> X(static_cast<std::size_t>(T * H));
  for (int t = 0; t < T; ++t)
    fill_normal(stream_key(m_.r.seed, lkey(p.layer, "calib")), t, NormalKind::Exact, 1.0f,
                X.data() + t * H, H);
  std::vector<float> A(static_cast<std::size_t>(I * H)), U(A.size()), D(A.size());
  for (int e = 0; e < E; ++e) {
    expert_rows(p, e, "act", A.data());
    expert_rows(p, e, "up", U.data());
    expert_down(p, e, 0.0, D.data());
    parallel_for(T, m_.threads, [&](int64_t t) {
      const float* x = X.data() + t * H;
      std::vector<float> hv(static_cast<std::size_t>(I));
      const std::size_t k = static_cast<std::size_t>(t) * E + e;
      for (int64_t i = 0; i < I; ++i) {
        const double v =
            activate(m_.act, dotf(A.data() + i * H, x, H)) * dotf(U.data() + i * H, x, H);
        if (i == kNormNeuron) s.phi[k] = v;
        hv[i] = i == kNormNeuron ? 0.0f : static_cast<float>(v);
      }
      double b2 = 0, bd = 0, sc = 0;
      for (int64_t h = 0; h < H; ++h) {
        const double b = dotf(D.data() + h * I, hv.data(), I);
        b2 += b * b;
        bd += b * p.dir[e][h];
        sc += double(p.router[e][h]) * x[h];
      }
      s.b2[k] = b2, s.bd[k] = bd, s.score[k] = sc;
    });
  }
  return s;
}

}  // namespace moeprobe::synth
