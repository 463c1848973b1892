#include "synth/generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numeric>

#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
#include "model/family.h"
#include "synth/parallel.h"
#include "synth/planting.h"
#include "synth/quantize.h"
#include "synth/rng.h"
#include "synth/text_file.h"
#include "synth/tokenizer_files.h"
#include "util/error.h"
#include "util/input_file.h"
#include "util/parallel_for.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

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

struct Model {
  const Recipe& r;
  Family fam;
  ExpertLayout layout;
  NormalKind kind;
  int threads;
  int L = 0, E = 0, K = 0, first_dense = 0, n_moe = 0, heads = 0, kv = 0, hd = 0;
  int64_t H = 0, I = 0, V = 0, dense_I = 0, shared_I = 0;
  int n_shared = 0;
  Activation act = Activation::SiLU;
};

struct LayerPlan {
  int pos = -1, layer = 0;
  double c = 0;
  bool upcycled = false;
  std::vector<char> dark;              // per expert
  std::vector<float> wb, wn;           // per expert: weight of the shared base and of the noise
  std::vector<float> wg;               // per expert: weight of the shared axis G (may be empty)
  std::vector<std::vector<int>> perm;  // per expert: source neuron of each position
  std::vector<char> dead;              // act rows
  std::vector<std::vector<float>> mu;  // per expert target mean act neuron
  std::vector<std::vector<float>> router;
  bool norm_neuron = false;
  float neuron_scale = 0;  // s / mean router norm
  double t = 0;
  std::vector<std::vector<float>> dir;  // d_e
  double out_scale = 1;
  LayerReport report;
};

std::string lkey(int layer, const std::string& what) {
  return "L" + std::to_string(layer) + "." + what;
}

class Generator {
 public:
  explicit Generator(const Model& m) : m_(m) {}

  const LayerPlan& plan(int pos) {
    if (!plan_ || plan_->pos != pos) {
      plan_ = build(pos);
      reports_[pos] = plan_->report;
    }
    return *plan_;
  }
  const std::map<int, LayerReport>& reports() const { return reports_; }

  // W_act / W_up [I, H] (neuron rows) of expert e; with_neuron false leaves it out (down only).
  void expert_rows(const LayerPlan& p, int e, const char* mat, float* out) const {
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

  // W_down [H, I] of expert e: neuron i is column i; amplitude t for the router-aligned neuron.
  void expert_down(const LayerPlan& p, int e, double t, float* out) const {
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

  // The dense reference FFN W_F of an MoE layer (what upcycled experts started from).
  void reference(const LayerPlan& p, const char* mat, float* out) const {
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

 private:
  std::unique_ptr<LayerPlan> build(int pos) const {
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
        fill_normal(kr, e, NormalKind::Exact, 1.0f / std::sqrt(static_cast<float>(H)), row.data(),
                    H);
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
      const int64_t n_dead =
          std::clamp<int64_t>(std::llround(I * (1.0 - target / live_p)), 0, I - 1);
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
  void base_weights(LayerPlan& p, double spread, double axis) const {
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
      std::vector<double> u(m);
      for (int j = 0; j < m; ++j) u[j] = -1.0 + 2.0 * j / (m - 1);
      Rng rs(stream_key(m_.r.seed, lkey(p.layer, "spread")));
      for (int j = m - 1; j > 0; --j) std::swap(u[j], u[rs.below(j + 1)]);
      for (int j = 0; j < m; ++j) f[live[j]] = 1.0 + spread * u[j];
    }
    std::vector<double> t(E, 0.0);
    if (axis > 0 && m >= 2) {
      std::vector<double> u(m);
      for (int j = 0; j < m; ++j) u[j] = -1.0 + 2.0 * j / (m - 1);
      Rng rs(stream_key(m_.r.seed, lkey(p.layer, "axis")));
      for (int j = m - 1; j > 0; --j) std::swap(u[j], u[rs.below(j + 1)]);
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
  NormRoutingSample sample_norms(const LayerPlan& p) const {
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

  const Model& m_;
  std::unique_ptr<LayerPlan> plan_;
  std::map<int, LayerReport> reports_;
};

// One tensor to write: which model (0 main, 1 reference), its spec and how to fill it.
struct Job {
  int writer;
  TensorSpec spec;  // name, recipe dtype, Linear-layout shape (what fill produces)
  std::function<void(float*)> fill;
  char quant = 0;           // 0 plain, 'f' FP8 blocks, 'm' MXFP4 (recipe quantization)
  bool transposed = false;  // the plain (and FP8) form stores the last two dimensions swapped
};

// Last two dimensions of `matrices` row-major [R, C] matrices swapped.
std::vector<float> transpose_last2(const float* x, int64_t matrices, int64_t R, int64_t C) {
  std::vector<float> t(static_cast<std::size_t>(matrices * R * C));
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) t[(m * C + c) * R + r] = x[(m * R + r) * C + c];
  return t;
}

std::vector<int64_t> swapped_last2(std::vector<int64_t> shape) {
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  return shape;
}

int json_int(const nlohmann::json& j, int fallback) {
  return j.is_number_integer() ? j.get<int>() : fallback;
}

const char* torch_dtype(DType d) {
  return d == DType::BF16 ? "bfloat16" : d == DType::F16 ? "float16" : "float32";
}

// Tensor bytes the model will take, from the shapes alone (before any job is listed: a recipe
// inside every documented range can still ask for petabytes). Norms and biases are left out.
double estimate_tensor_bytes(const Model& m, DType dt) {
  const double H = double(m.H), I = double(m.I), E = double(m.E), V = double(m.V);
  const double q = double(m.heads) * m.hd, kv = double(m.kv) * m.hd;
  const double attention = H * (2 * q + 2 * kv);
  const double moe_layer =
      E * 3 * I * H + E * H + (m.n_shared > 0 ? 3 * double(m.shared_I) * H : 0);
  const double dense_ffn = 3 * double(m.dense_I) * H;
  double elems = 2 * V * H + double(m.L) * attention + double(m.n_moe) * moe_layer +
                 double(m.first_dense) * dense_ffn;
  if (m.r.plant.write_reference) elems += 2 * V * H + double(m.L) * (attention + 3 * I * H);
  return elems * double(dtype_size(dt));
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g GB", bytes / 1e9);
  return buf;
}

SynthResult write_model(const Recipe& r, const fs::path& out_dir, const fs::path& families_dir_in,
                        int threads, uint64_t max_output_bytes, const fs::path& target) {
  const std::string rf = r.path.string();
  const fs::path families_dir = families_dir_in.empty() ? default_families_dir() : families_dir_in;
  const fs::path fam_path = families_dir / (r.family + ".yaml");
  if (!fs::exists(fam_path)) {
    std::string known;
    if (fs::is_directory(families_dir))
      for (const auto& f : load_families(families_dir))
        known += (known.empty() ? "" : ", ") + f.name;
    throw InputError(rf, "family", "unknown family '" + r.family + "' (known: " + known + ")");
  }
  Model m{r,
          load_family(fam_path),
          {},
          r.fast_rng ? NormalKind::Fast : NormalKind::Exact,
          std::max(1, threads)};  // sizes are filled in below
  const Family& fam = m.fam;
  const ModelShape& s = r.shape;

  // Layout: classic = the first per-expert layout, fused = the first fused one.
  const ExpertLayout* chosen = nullptr;
  for (const auto& l : fam.layouts) {
    if (r.layout.empty() || (r.layout == "fused") == l.fused()) {
      chosen = &l;
      break;
    }
  }
  if (!chosen)
    throw InputError(rf, "layout", "family " + fam.name + " has no " + r.layout + " layout");
  m.layout = *chosen;
  const ExpertLayout& lay = m.layout;
  auto has_key = [&](const std::string& canon) {
    auto it = fam.config_keys.find(canon);
    return it != fam.config_keys.end() && !it->second.empty();
  };

  m.L = s.num_layers;
  m.E = s.num_experts;
  m.K = s.top_k;
  m.H = s.hidden_size;
  m.I = s.intermediate_size;
  m.V = s.vocab_size;
  m.heads = s.num_attention_heads;
  m.kv = s.num_key_value_heads == 0 ? s.num_attention_heads : s.num_key_value_heads;
  m.hd = static_cast<int>(s.hidden_size / s.num_attention_heads);
  m.first_dense = s.first_k_dense_replace;
  m.n_moe = m.L - m.first_dense;
  m.dense_I = s.dense_intermediate_size > 0 ? s.dense_intermediate_size : 4 * s.hidden_size;
  m.act = fam.activation;

  // Shared experts: the family's default count unless the recipe sets one.
  const int fam_shared = fam.config_defaults.count("num_shared_experts")
                             ? json_int(fam.config_defaults.at("num_shared_experts"), 0)
                             : 0;
  m.n_shared = s.num_shared_experts >= 0 ? s.num_shared_experts : fam_shared;
  if (m.n_shared > 0 && lay.shared_act.empty())
    throw InputError(rf, "model.num_shared_experts",
                     "family " + fam.name + " has no shared experts (expected 0)");
  if (m.n_shared != fam_shared && !has_key("num_shared_experts"))
    throw InputError(rf, "model.num_shared_experts",
                     "family " + fam.name + " has a fixed number of shared experts (" +
                         std::to_string(fam_shared) + ")");
  if (m.n_shared > 0 && has_key("shared_intermediate_size"))
    m.shared_I = s.shared_intermediate_size > 0 ? s.shared_intermediate_size : m.n_shared * m.I;
  else if (m.n_shared > 0) {
    if (s.shared_intermediate_size > 0 && s.shared_intermediate_size != m.n_shared * m.I)
      throw InputError(
          rf, "model.shared_intermediate_size",
          "family " + fam.name + " fixes it to num_shared_experts * intermediate_size");
    m.shared_I = m.n_shared * m.I;
  }
  if (m.n_shared == 0 && s.shared_intermediate_size > 0)
    throw InputError(rf, "model.shared_intermediate_size", "set without shared experts");
  if (m.first_dense > 0 && (fam.moe_layers.first.empty() || fam.dense.dense_act.empty()))
    throw InputError(rf, "model.first_k_dense_replace",
                     "family " + fam.name + " has no dense first layers (expected 0)");
  if (r.plant.write_reference && m.first_dense > 0)
    throw InputError(rf, "plant.upcycling.write_reference",
                     "a dense reference needs every layer MoE (first_k_dense_replace 0)");
  if (lay.fused() && uint64_t(m.E) * 2 * m.I * m.H > (uint64_t(1) << 30))
    throw InputError(rf, "layout",
                     "fused tensors above 2^30 elements are not supported (use classic)");

  // Refuse before anything is written: above the cap, or above the free space of the target's
  // file system, with the estimate in the message.
  const double estimate = estimate_tensor_bytes(m, r.dtype);
  if (estimate > double(max_output_bytes))
    throw InputError(rf, "model",
                     "the synthetic model would take about " + gigabytes(estimate) +
                         " (estimate), above the limit of " + gigabytes(double(max_output_bytes)) +
                         "; pass --max-output-gb to allow more");
  std::error_code space_ec;
  const fs::space_info space = fs::space(out_dir.parent_path(), space_ec);
  if (!space_ec && estimate > double(space.available))
    throw InputError(rf, "model",
                     "the synthetic model would take about " + gigabytes(estimate) +
                         " (estimate), but only " + gigabytes(double(space.available)) +
                         " are free where " + target.string() + " is written");
  fs::create_directories(out_dir);
  Generator gen(m);
  std::vector<Job> jobs;
  const DType dt = r.dtype;
  auto add = [&](int w, std::string name, std::vector<int64_t> shape,
                 std::function<void(float*)> f) {
    jobs.push_back({w, TensorSpec{std::move(name), dt, std::move(shape)}, std::move(f)});
  };
  const Quantization& qz = r.quant;
  if (qz.scheme == "mxfp4" && (!lay.fused() || m.H % 32 != 0 || m.I % 32 != 0))
    throw InputError(rf, "quantization.scheme",
                     "mxfp4 needs a fused layout and hidden/intermediate sizes divisible by 32");
  if (!qz.twin.empty() && qz.scheme.empty())
    throw InputError(rf, "quantization.twin", "a dequantised twin needs a quantization scheme");
  // Expert weights: quantised when the recipe says so (FP8: routed and shared experts, as
  // DeepSeek-V3 ships them; MXFP4: the fused routed experts, as gpt-oss does).
  auto add_expert = [&](std::string name, std::vector<int64_t> shape, std::function<void(float*)> f,
                        bool routed_fused) {
    add(0, std::move(name), std::move(shape), std::move(f));
    Job& j = jobs.back();
    j.transposed = routed_fused && lay.fused_transposed;
    if (qz.scheme == "fp8") j.quant = 'f';
    if (qz.scheme == "mxfp4" && routed_fused) j.quant = 'm';
  };
  // Non-expert tensors: streams over fixed 4096-element blocks keyed by the tensor name, so a
  // tensor the reference model shares by name (embeddings, attention) gets identical bytes.
  auto randn = [&](int w, const std::string& name, std::vector<int64_t> shape, float sigma) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    const uint64_t k = stream_key(r.seed, name);
    add(w, name, shape, [&m, k, sigma, n](float* out) {
      parallel_for((n + 4095) / 4096, m.threads, [&](int64_t i) {
        fill_normal(k, i, m.kind, sigma, out + i * 4096, std::min<int64_t>(4096, n - i * 4096));
      });
    });
  };
  auto constant = [&](int w, const std::string& name, std::vector<int64_t> shape, float v) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    add(w, name, shape, [n, v](float* out) { std::fill(out, out + n, v); });
  };
  const int64_t H = m.H, I = m.I, E = m.E;
  const float sH = 1.0f / std::sqrt(float(H));
  const int64_t q_out = int64_t(m.heads) * m.hd, kv_out = int64_t(m.kv) * m.hd;
  const bool ref = r.plant.write_reference;
  const DenseTensorNames& dn = fam.dense;

  // Multi-head latent attention sizes (families naming kv_a_proj_with_mqa): small, fixed
  // fractions of the model's sizes, written to config.json below.
  struct MlaDims {
    int64_t q_lora, kv_lora, nope, rope, v;
  };
  const MlaDims mla{std::max<int64_t>(H / 2, 8), std::max<int64_t>(H / 4, 8), std::max(m.hd / 2, 2),
                    std::max(m.hd / 2, 2), m.hd};
  const bool has_mla = dn.extra.count("kv_a_proj_with_mqa") > 0;
  // Attention and norms of decoder layer l for writer w, under the given names.
  auto attention = [&](int w, const DenseTensorNames& names, int l) {
    if (!names.input_norm.empty()) constant(w, expand_pattern(names.input_norm, l), {H}, 1.0f);
    if (!names.q_proj.empty()) randn(w, expand_pattern(names.q_proj, l), {q_out, H}, sH);
    if (!names.k_proj.empty()) randn(w, expand_pattern(names.k_proj, l), {kv_out, H}, sH);
    if (!names.v_proj.empty()) randn(w, expand_pattern(names.v_proj, l), {kv_out, H}, sH);
    if (!names.o_proj.empty())
      randn(w, expand_pattern(names.o_proj, l), {H, q_out}, 1.0f / std::sqrt(float(q_out)));
    if (!names.post_attention_norm.empty())
      constant(w, expand_pattern(names.post_attention_norm, l), {H}, 1.0f);
    for (const auto& [key, pattern] : names.extra) {
      const std::string name = expand_pattern(pattern, l);
      if (key == "q_bias")
        constant(w, name, {q_out}, 0.0f);
      else if (key == "k_bias" || key == "v_bias")
        constant(w, name, {kv_out}, 0.0f);
      else if (key == "o_bias")
        constant(w, name, {H}, 0.0f);
      else if (key == "sinks")  // gpt-oss attention-sink logits, one per head
        randn(w, name, {int64_t(m.heads)}, 1.0f);
      else if (key == "q_a_proj")  // DeepSeek V2/V3 multi-head latent attention (mla_dims)
        randn(w, name, {mla.q_lora, H}, sH);
      else if (key == "q_a_layernorm")
        constant(w, name, {mla.q_lora}, 1.0f);
      else if (key == "q_b_proj")
        randn(w, name, {int64_t(m.heads) * (mla.nope + mla.rope), mla.q_lora},
              1.0f / std::sqrt(float(mla.q_lora)));
      else if (key == "kv_a_proj_with_mqa")
        randn(w, name, {mla.kv_lora + mla.rope, H}, sH);
      else if (key == "kv_a_layernorm")
        constant(w, name, {mla.kv_lora}, 1.0f);
      else if (key == "kv_b_proj")
        randn(w, name, {int64_t(m.heads) * (mla.nope + mla.v), mla.kv_lora},
              1.0f / std::sqrt(float(mla.kv_lora)));
      else if (key == "q_norm")
        constant(w, name, {q_out}, 1.0f);
      else if (key == "k_norm")
        constant(w, name, {kv_out}, 1.0f);
      else if (key.find("norm") != std::string::npos)
        constant(w, name, {H}, 1.0f);
      else
        throw InputError(fam.source.string(), "dense.extra." + key,
                         "synth does not know the shape of this tensor");
    }
  };
  auto dense_ffn = [&](int w, const std::string& pa, const std::string& pu, const std::string& pd,
                       int64_t width, bool quantized = false) {
    randn(w, pa, {width, H}, sH);
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
    randn(w, pu, {width, H}, sH);
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
    randn(w, pd, {H, width}, 1.0f / std::sqrt(float(width)));
    if (quantized && qz.scheme == "fp8") jobs.back().quant = 'f';
  };

  // The dense reference model "F" is written in the layout of its own family file.
  Family ref_fam;
  if (ref) {
    const fs::path ref_path = families_dir / (r.plant.reference_family + ".yaml");
    if (!fs::exists(ref_path))
      throw InputError(rf, "plant.upcycling.reference_family",
                       "no family file " + ref_path.string());
    ref_fam = load_family(ref_path);
    if (ref_fam.dense.dense_act.empty())
      throw InputError(rf, "plant.upcycling.reference_family",
                       "family " + ref_fam.name + " names no dense FFN tensors (dense.dense_act)");
  }
  const DenseTensorNames& rn = ref_fam.dense;

  randn(0, dn.embed, {m.V, H}, 1.0f);
  if (ref) randn(1, rn.embed, {m.V, H}, 1.0f);
  for (int l = 0; l < m.L; ++l) {
    attention(0, dn, l);
    if (l < m.first_dense) {
      dense_ffn(0, expand_pattern(dn.dense_act, l), expand_pattern(dn.dense_up, l),
                expand_pattern(dn.dense_down, l), m.dense_I);
      continue;
    }
    const int pos = l - m.first_dense;
    add(0, expand_pattern(lay.router, l), {E, H}, [&gen, pos, H, E](float* out) {
      const auto& p = gen.plan(pos);
      for (int64_t e = 0; e < E; ++e)
        std::copy(p.router[e].begin(), p.router[e].end(), out + e * H);
    });
    if (!lay.router_bias.empty()) constant(0, expand_pattern(lay.router_bias, l), {E}, 0.0f);
    if (!lay.score_correction_bias.empty())
      constant(0, expand_pattern(lay.score_correction_bias, l), {E}, 0.0f);
    if (lay.fused()) {
      const bool inter = lay.gate_up_interleaved;
      add_expert(
          expand_pattern(lay.fused_gate_up, l), {E, 2 * I, H},
          [&gen, pos, I, H, E, inter](float* out) {
            const auto& p = gen.plan(pos);
            std::vector<float> act(static_cast<std::size_t>(I * H)), up(act.size());
            for (int64_t e = 0; e < E; ++e) {
              float* o = out + e * 2 * I * H;
              gen.expert_rows(p, int(e), "act", act.data());
              gen.expert_rows(p, int(e), "up", up.data());
              // Act rows then up rows, or interleaved (gpt-oss: act row i at 2i, up at 2i + 1).
              for (int64_t i = 0; i < I; ++i) {
                std::copy_n(act.data() + i * H, H, o + (inter ? 2 * i : i) * H);
                std::copy_n(up.data() + i * H, H, o + (inter ? 2 * i + 1 : I + i) * H);
              }
            }
          },
          true);
      add_expert(
          expand_pattern(lay.fused_down, l), {E, H, I},
          [&gen, pos, I, H, E](float* out) {
            const auto& p = gen.plan(pos);
            for (int64_t e = 0; e < E; ++e) gen.expert_down(p, int(e), p.t, out + e * H * I);
          },
          true);
      if (!lay.fused_gate_up_bias.empty())
        randn(0, expand_pattern(lay.fused_gate_up_bias, l), {E, 2 * I}, 0.02f);
      if (!lay.fused_down_bias.empty())
        randn(0, expand_pattern(lay.fused_down_bias, l), {E, H}, 0.02f);
    } else {
      for (int e = 0; e < E; ++e) {
        add_expert(
            expand_pattern(lay.expert_act, l, e), {I, H},
            [&gen, pos, e](float* out) { gen.expert_rows(gen.plan(pos), e, "act", out); }, false);
        add_expert(
            expand_pattern(lay.expert_up, l, e), {I, H},
            [&gen, pos, e](float* out) { gen.expert_rows(gen.plan(pos), e, "up", out); }, false);
        add_expert(
            expand_pattern(lay.expert_down, l, e), {H, I},
            [&gen, pos, e](float* out) {
              const auto& p = gen.plan(pos);
              gen.expert_down(p, e, p.t, out);
            },
            false);
      }
    }
    if (m.n_shared > 0) {
      if (lay.shared_act.find("{E}") != std::string::npos) {
        for (int e = 0; e < m.n_shared; ++e)
          dense_ffn(0, expand_pattern(lay.shared_act, l, e), expand_pattern(lay.shared_up, l, e),
                    expand_pattern(lay.shared_down, l, e), m.shared_I / m.n_shared, true);
      } else {
        dense_ffn(0, expand_pattern(lay.shared_act, l), expand_pattern(lay.shared_up, l),
                  expand_pattern(lay.shared_down, l), m.shared_I, true);
      }
      if (!lay.shared_gate.empty()) randn(0, expand_pattern(lay.shared_gate, l), {1, H}, sH);
    }
    if (ref) {
      attention(1, rn, l);
      for (const char* mat : {"act", "up", "down"}) {
        const std::string mat_s = mat;
        const std::string& pattern = mat_s == "act"  ? rn.dense_act
                                     : mat_s == "up" ? rn.dense_up
                                                     : rn.dense_down;
        const bool down = mat_s == "down";
        add(1, expand_pattern(pattern, l),
            down ? std::vector<int64_t>{H, I} : std::vector<int64_t>{I, H},
            [&gen, pos, mat](float* out) { gen.reference(gen.plan(pos), mat, out); });
      }
    }
  }
  constant(0, dn.final_norm, {H}, 1.0f);
  if (!dn.lm_head.empty()) randn(0, dn.lm_head, {m.V, H}, sH);
  if (ref) {
    constant(1, rn.final_norm, {H}, 1.0f);
    randn(1, rn.lm_head, {m.V, H}, sH);
  }

  // config.json: each canonical size under the family's first config key for it. A size the
  // family has no key for must equal the family's default (the checkpoint could not say otherwise).
  auto config = [&](const Family& f, bool reference) {
    ojson c;
    c["model_type"] = f.model_types.empty() ? f.name : f.model_types[0];
    if (!f.architectures.empty()) c["architectures"] = {f.architectures[0]};
    auto put = [&](const std::string& canon, const ojson& v) {
      if (canon.empty()) return;
      const auto it = f.config_keys.find(canon);
      if (it == f.config_keys.end() || it->second.empty()) {
        const auto d = f.config_defaults.find(canon);
        if (d != f.config_defaults.end() && nlohmann::json::parse(v.dump()) != d->second)
          throw InputError(rf, "model",
                           "family " + f.name + " has no config key for " + canon +
                               "; its value is fixed at " + d->second.dump() + ", not " + v.dump());
        return;
      }
      if (!c.contains(it->second[0])) c[it->second[0]] = v;
    };
    put("num_layers", m.L);
    put("hidden_size", H);
    if (reference) {
      put("intermediate_size", I);
    } else {
      put("expert_intermediate_size", I);
      put("intermediate_size", m.dense_I);
      put("num_experts", E);
      put("top_k", m.K);
      if (m.n_shared > 0) {
        put("num_shared_experts", m.n_shared);
        put("shared_intermediate_size", m.shared_I);
      }
      put(f.moe_layers.first, m.first_dense);
      put(f.moe_layers.period, 1);
      put(f.moe_layers.except, ojson::array());
      put("norm_topk_prob", f.routing.renormalize);
      put("scoring_func", f.routing.scoring == Scoring::Sigmoid ? "sigmoid" : "softmax");
    }
    put("vocab_size", m.V);
    put("num_attention_heads", m.heads);
    put("num_key_value_heads", m.kv);
    put("head_dim", m.hd);
    put("rms_norm_eps", 1e-5);
    put("rope_theta", 10000.0);
    c["hidden_act"] =
        f.activation == Activation::GELU || f.activation == Activation::GELUTanh ? "gelu" : "silu";
    if (!reference && has_mla) {
      c["q_lora_rank"] = mla.q_lora;
      c["kv_lora_rank"] = mla.kv_lora;
      c["qk_nope_head_dim"] = mla.nope;
      c["qk_rope_head_dim"] = mla.rope;
      c["v_head_dim"] = mla.v;
    }
    c["max_position_embeddings"] = 4096;
    c["tie_word_embeddings"] = false;
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    c["torch_dtype"] = torch_dtype(dt);
    return c;
  };
  ojson main_config = config(fam, false);
  const ojson twin_config = main_config;
  if (qz.scheme == "fp8")
    main_config["quantization_config"] = {{"quant_method", "fp8"},
                                          {"fmt", "e4m3"},
                                          {"activation_scheme", "dynamic"},
                                          {"weight_block_size", {qz.block_rows, qz.block_cols}}};
  else if (qz.scheme == "mxfp4")
    main_config["quantization_config"] = {{"quant_method", "mxfp4"}};
  const ojson ref_config = ref ? config(ref_fam, true) : ojson();

  // Stream: one tensor in flight, converted in parallel chunks and handed to its writer. Writer 0
  // is the model, 1 the dense reference, 2 the dequantised twin (every tensor of writer 0, with
  // quantised ones as their exact F32 values).
  const bool twin = !qz.twin.empty();
  auto stored_shape = [](const Job& j) {
    return j.transposed && j.quant != 'm' ? swapped_last2(j.spec.shape) : j.spec.shape;
  };
  auto twin_shape = [](const Job& j) {
    return j.transposed ? swapped_last2(j.spec.shape) : j.spec.shape;
  };
  std::vector<TensorSpec> specs[3];
  uint64_t max_elems = 0;
  for (const auto& j : jobs) {
    const std::vector<int64_t> shape = stored_shape(j);
    const std::size_t nd = shape.size();
    const int64_t R = nd >= 2 ? shape[nd - 2] : 1, C = shape[nd - 1];
    std::vector<int64_t> lead(shape.begin(), shape.end() - std::min<std::size_t>(nd, 2));
    if (j.quant == 'f') {
      specs[j.writer].push_back({j.spec.name, DType::F8_E4M3, shape});
      std::vector<int64_t> sshape = lead;
      sshape.push_back((R + qz.block_rows - 1) / qz.block_rows);
      sshape.push_back((C + qz.block_cols - 1) / qz.block_cols);
      specs[j.writer].push_back({j.spec.name + "_scale_inv", DType::F32, sshape});
    } else if (j.quant == 'm') {
      std::vector<int64_t> scales(shape.begin(), shape.end() - 1);
      scales.push_back(C / 32);
      std::vector<int64_t> blocks = scales;
      blocks.push_back(16);
      specs[j.writer].push_back({j.spec.name + "_blocks", DType::U8, blocks});
      specs[j.writer].push_back({j.spec.name + "_scales", DType::U8, scales});
    } else {
      specs[j.writer].push_back({j.spec.name, dt, shape});
    }
    if (twin && j.writer == 0)
      specs[2].push_back({j.spec.name, j.quant ? DType::F32 : dt, twin_shape(j)});
    max_elems = std::max<uint64_t>(max_elems, j.spec.nbytes() / dtype_size(dt));
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  // load_recipe keeps reference_dir and the quantisation twin relative and inside the output (no
  // "..").
  const fs::path ref_dir = out_dir / r.plant.reference_dir;
  const fs::path twin_dir = out_dir / qz.twin;
  std::unique_ptr<ShardedWriter> writers[3];
  writers[0] = std::make_unique<ShardedWriter>(out_dir, specs[0], r.shard_bytes, meta);
  if (ref) {
    fs::create_directories(ref_dir);
    writers[1] = std::make_unique<ShardedWriter>(ref_dir, specs[1], r.shard_bytes, meta);
  }
  if (twin) {
    fs::create_directories(twin_dir);
    writers[2] = std::make_unique<ShardedWriter>(twin_dir, specs[2], r.shard_bytes, meta);
  }
  std::vector<float> buf(max_elems);
  std::vector<unsigned char> bytes(max_elems * dtype_size(dt));
  SynthResult result;
  result.out_dir = out_dir;
  auto encode = [&](const float* src, uint64_t n) {
    const uint64_t chunk = 1 << 20;
    const uint64_t chunks = (n + chunk - 1) / chunk;
    parallel_chunks(static_cast<int64_t>(chunks), chunks >= 4 ? m.threads : 1,
                    [&](int64_t cb, int64_t ce) {
                      for (uint64_t c = cb; c < static_cast<uint64_t>(ce); ++c) {
                        const uint64_t b = c * chunk, e = std::min(n, b + chunk);
                        convert_from_float(dt, src + b, bytes.data() + b * dtype_size(dt), e - b);
                      }
                    });
  };
  for (const auto& j : jobs) {
    const uint64_t n = j.spec.nbytes() / dtype_size(dt);
    j.fill(buf.data());
    const std::vector<int64_t>& ls = j.spec.shape;
    const std::size_t nd = ls.size();
    const int64_t R = nd >= 2 ? ls[nd - 2] : 1, C = ls[nd - 1];
    const int64_t mats = static_cast<int64_t>(n) / std::max<int64_t>(R * C, 1);
    std::vector<float> t;
    const float* src = buf.data();
    if (j.transposed && j.quant != 'm') {
      t = transpose_last2(buf.data(), mats, R, C);
      src = t.data();
    }
    if (!j.quant) {
      encode(src, n);
      writers[j.writer]->write(j.spec.name, bytes.data(), n * dtype_size(dt));
      if (twin && j.writer == 0) writers[2]->write(j.spec.name, bytes.data(), n * dtype_size(dt));
      result.tensor_bytes += n * dtype_size(dt);
      continue;
    }
    std::vector<float> deq;
    if (j.quant == 'f') {
      const int64_t SR = j.transposed ? C : R, SC = j.transposed ? R : C;
      std::vector<uint8_t> codes;
      std::vector<float> scales;
      quantize_fp8_blocks(src, mats, SR, SC, qz.block_rows, qz.block_cols, codes, scales, deq);
      writers[0]->write(j.spec.name, codes.data(), codes.size());
      writers[0]->write(j.spec.name + "_scale_inv", scales.data(), scales.size() * 4);
      result.tensor_bytes += codes.size() + scales.size() * 4;
    } else {
      std::vector<uint8_t> blocks, scales;
      quantize_mxfp4(src, mats * R, C, blocks, scales, deq);
      writers[0]->write(j.spec.name + "_blocks", blocks.data(), blocks.size());
      writers[0]->write(j.spec.name + "_scales", scales.data(), scales.size());
      result.tensor_bytes += blocks.size() + scales.size();
      if (j.transposed) deq = transpose_last2(deq.data(), mats, R, C);
    }
    if (twin) writers[2]->write(j.spec.name, deq.data(), deq.size() * 4);
  }
  for (auto& w : writers)
    if (w) w->finish();
  buf = {};
  bytes = {};

  write_text(out_dir / "config.json", main_config.dump(2) + "\n");
  write_tokenizer_files(out_dir);
  if (ref) {
    write_text(ref_dir / "config.json", ref_config.dump(2) + "\n");
    write_tokenizer_files(ref_dir);
  }
  if (twin) {
    ojson tc = twin_config;
    tc["torch_dtype"] = "float32";
    write_text(twin_dir / "config.json", tc.dump(2) + "\n");
    write_tokenizer_files(twin_dir);
  }

  // synth.json: what was planted and the calibrated parameters, per MoE layer.
  ojson manifest;
  manifest["recipe"] = r.name;
  manifest["family"] = fam.name;
  manifest["layout"] = lay.name;
  manifest["seed"] = r.seed;
  manifest["dtype"] = dtype_name(dt);
  manifest["rng"] = r.fast_rng ? "fast" : "exact";
  ojson layers = ojson::array();
  for (int pos = 0; pos < m.n_moe; ++pos) {
    const LayerReport rep = gen.reports().at(pos);
    result.layers.push_back(rep);
    ojson jl = {{"layer", rep.layer},
                {"similarity", rep.similarity},
                {"keep_order", rep.keep_order},
                {"output_scale", rep.output_scale}};
    if (!rep.dark_experts.empty()) jl["dark_experts"] = rep.dark_experts;
    if (!rep.base_weight.empty()) jl["base_weight"] = rep.base_weight;
    if (rep.mean_neuron > 0) jl["mean_neuron"] = rep.mean_neuron;
    if (rep.router_r2_target >= 0)
      jl["router_r2"] = {{"target", rep.router_r2_target},
                         {"planted", rep.router_r2},
                         {"alpha", rep.router_alpha}};
    if (rep.norm_target >= 0)
      jl["norm_routing"] = {{"target", rep.norm_target},
                            {"calibrated", rep.norm_achieved},
                            {"amplitude", rep.norm_amplitude}};
    if (rep.activation_ratio_target >= 0)
      jl["activation_ratio"] = {{"target", rep.activation_ratio_target},
                                {"dead_fraction", rep.dead_fraction}};
    layers.push_back(jl);
  }
  manifest["layers"] = layers;
  if (!r.expect.empty()) manifest["expect"] = r.expect;
  write_text(out_dir / "synth.json", manifest.dump(2) + "\n");

  return result;
}

// A staging directory beside the target, removed on destruction unless committed.
class StagedDirectory {
 public:
  explicit StagedDirectory(const fs::path& target) : target_(target) {
    const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string tag =
        "." + target.filename().string() + ".synth-" + std::to_string(::getpid());
    path_ = parent / (tag + "-tmp");
    old_ = parent / (tag + "-old");
    std::error_code ec;
    fs::remove_all(path_, ec);
    fs::remove_all(old_, ec);
  }
  ~StagedDirectory() {
    std::error_code ec;
    if (!committed_) fs::remove_all(path_, ec);
    fs::remove_all(old_, ec);
  }
  const fs::path& path() const { return path_; }
  // Moves the staged model into place; a previous model there is replaced only now.
  void commit() {
    std::error_code ec;
    if (fs::exists(target_, ec)) fs::rename(target_, old_, ec);
    if (ec) throw InputError(target_.string(), "--out", "cannot replace it: " + ec.message());
    fs::rename(path_, target_, ec);
    if (ec) {
      std::error_code restore;
      if (fs::exists(old_, restore)) fs::rename(old_, target_, restore);
      throw InputError(target_.string(), "--out",
                       "cannot move the model into place: " + ec.message());
    }
    committed_ = true;
  }

 private:
  fs::path target_, path_, old_;
  bool committed_ = false;
};

// --out must be absent, an empty directory or a model synth wrote before (it has synth.json):
// synth never replaces a directory of other files.
void check_output_target(const Recipe& r, const fs::path& out_dir) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out_dir, ec);
  if (ec || !fs::exists(st)) return;
  if (!fs::is_directory(st))
    throw InputError(out_dir.string(), "--out", "exists and is not a directory");
  if (!fs::is_empty(out_dir, ec) && !fs::exists(out_dir / "synth.json"))
    throw InputError(out_dir.string(), "--out",
                     "is a non-empty directory that synth did not write (no synth.json); "
                     "choose a new or empty directory");
  if (!r.path.empty() && is_inside(r.path, out_dir))
    throw InputError(out_dir.string(), "--out",
                     "holds the recipe " + r.path.string() + " itself; choose another directory");
}

}  // namespace

SynthResult synthesize(const Recipe& r, const fs::path& out_dir, const fs::path& families_dir,
                       int threads, uint64_t max_output_bytes) {
  if (out_dir.empty()) throw InputError("<command line>", "--out", "empty output path");
  check_output_target(r, out_dir);
  StagedDirectory stage(out_dir);
  SynthResult result =
      write_model(r, stage.path(), families_dir, threads, max_output_bytes, out_dir);
  stage.commit();
  result.out_dir = out_dir;
  for (const auto& e : fs::recursive_directory_iterator(out_dir))
    if (e.is_regular_file()) result.files.push_back(e.path());
  std::sort(result.files.begin(), result.files.end());
  return result;
}

}  // namespace moeprobe::synth
