// The float64 oracle of the all-experts evaluation: every output vector (biases and gpt-oss's
// clamped GLU included) computed in float64 by plain loops, then its Gram, norms and Pearson
// correlations by their definitions. Tokens are taken in blocks small enough that the block's
// outputs [B, N, H] fit in ~256 MB.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/all_experts_common.h"
#include "kernels/reference/reference_backend.h"

namespace moeprobe {
namespace {

std::vector<double> read_rows(const TensorView& m, int64_t row, int64_t count) {
  std::vector<double> v(static_cast<std::size_t>(count * m.cols()));
  m.read_double(row * m.cols(), count * m.cols(), v.data());
  return v;
}

// A bias vector in float64, or zeros when the family has none.
std::vector<double> bias_of(const std::optional<TensorView>& b, int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(n), 0.0);
  if (b) b->read_double(0, n, v.data());
  return v;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size();
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double cab = 0, caa = 0, cbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    cab += (a[i] - ma) * (b[i] - mb);
    caa += (a[i] - ma) * (a[i] - ma);
    cbb += (b[i] - mb) * (b[i] - mb);
  }
  return caa > 0 && cbb > 0 ? cab / std::sqrt(caa * cbb) : 0.0;
}

}  // namespace

AllExpertsStats ReferenceBackend::all_experts(const AllExpertsRequest& r) {
  check_all_experts_request(r);
  const int64_t T = r.tokens.dim(0), H = r.tokens.dim(1);
  const int N = static_cast<int>(r.entities.size()), E = r.num_experts;
  AllExpertsAccumulator acc(r);
  const int64_t B = std::clamp<int64_t>((int64_t{256} << 20) / (8 * std::max<int64_t>(1, N * H)), 1,
                                        std::max<int64_t>(T, 1));
  for (int64_t t0 = 0; t0 < T; t0 += B) {
    const int64_t nb = std::min(B, T - t0);
    const std::vector<double> x = read_rows(r.tokens, t0, nb);         // [nb, H]
    std::vector<double> y(static_cast<std::size_t>(nb * N * H), 0.0);  // [t][n][h]
    // act vectors of the routed experts, for the correlation: [t][e][i]
    std::vector<std::vector<std::vector<double>>> acts(
        static_cast<std::size_t>(nb),
        std::vector<std::vector<double>>(static_cast<std::size_t>(E)));
    for (int n = 0; n < N; ++n) {
      const FfnEntity& ent = r.entities[static_cast<std::size_t>(n)];
      std::vector<std::vector<int32_t>> counts(
          r.activation_thresholds.size(), std::vector<int32_t>(static_cast<std::size_t>(nb), 0));
      for (const ExpertWeights& w : ent.parts) {
        const int64_t I = w.intermediate();
        const std::vector<double> wa = read_rows(w.act, 0, I), wu = read_rows(w.up, 0, I),
                                  wd = read_rows(w.down, 0, H);
        const std::vector<double> ba = bias_of(w.act_bias, I), bu = bias_of(w.up_bias, I),
                                  bd = bias_of(w.down_bias, H);
        for (int64_t t = 0; t < nb; ++t) {
          const double* xt = x.data() + t * H;
          std::vector<double> h(static_cast<std::size_t>(I));
          for (int64_t i = 0; i < I; ++i) {
            double a = ba[static_cast<std::size_t>(i)], u = bu[static_cast<std::size_t>(i)];
            for (int64_t k = 0; k < H; ++k) {
              a += wa[static_cast<std::size_t>(i * H + k)] * xt[k];
              u += wu[static_cast<std::size_t>(i * H + k)] * xt[k];
            }
            const double act = activate(ent.activation, a);
            for (std::size_t q = 0; q < r.activation_thresholds.size(); ++q)
              if (std::fabs(act) > r.activation_thresholds[q])
                ++counts[q][static_cast<std::size_t>(t)];
            if (r.act_correlation && n < E) acts[t][n].push_back(act);
            h[static_cast<std::size_t>(i)] = glu_from_act(ent.activation, act, u);
          }
          double* yt = y.data() + (t * N + n) * H;
          for (int64_t o = 0; o < H; ++o) {
            double s = bd[static_cast<std::size_t>(o)];
            for (int64_t i = 0; i < I; ++i) s += wd[static_cast<std::size_t>(o * I + i)] * h[i];
            yt[o] += s;
          }
        }
      }
      if (ent.sigmoid_gate) {
        std::vector<double> g(static_cast<std::size_t>(H));
        ent.sigmoid_gate->read_double(0, H, g.data());
        for (int64_t t = 0; t < nb; ++t) {
          double z = 0;
          for (int64_t k = 0; k < H; ++k) z += g[k] * x[static_cast<std::size_t>(t * H + k)];
          const double s = 1.0 / (1.0 + std::exp(-z));
          double* yt = y.data() + (t * N + n) * H;
          for (int64_t o = 0; o < H; ++o) yt[o] *= s;
        }
      }
      for (std::size_t q = 0; q < counts.size(); ++q)
        for (int64_t t = 0; t < nb; ++t) acc.set_active_count(q, t0 + t, n, counts[q][t]);
    }
    std::vector<double> gram(static_cast<std::size_t>(N * N));
    for (int64_t t = 0; t < nb; ++t) {
      for (int a = 0; a < N; ++a)
        for (int b = 0; b < N; ++b) {
          const double* ya = y.data() + (t * N + a) * H;
          const double* yb = y.data() + (t * N + b) * H;
          double s = 0;
          for (int64_t o = 0; o < H; ++o) s += ya[o] * yb[o];
          gram[static_cast<std::size_t>(a * N + b)] = s;
        }
      acc.add_token(t0 + t, gram.data());
      if (r.act_correlation && E >= 2) {
        double s = 0;
        for (int a = 0; a < E; ++a)
          for (int b = a + 1; b < E; ++b) s += pearson(acts[t][a], acts[t][b]);
        acc.set_act_correlation_value(t0 + t, s / (0.5 * E * (E - 1.0)));
      }
    }
  }
  return acc.take();
}

}  // namespace moeprobe
