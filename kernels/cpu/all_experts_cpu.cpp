#include "kernels/cpu/all_experts_cpu.h"

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>

#include "kernels/all_experts_common.h"
#include "util/parallel_for.h"

namespace moeprobe {
namespace {

// Our threads each call the BLAS on their own rows, so the BLAS must not start threads of its own
// (OpenBLAS's pthread build would oversubscribe the cores). Set for the duration of one call.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    set_ = reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (set_ && get) {
      saved_ = get();
      set_(1);
    }
  }
  ~SingleThreadedBlas() {
    if (set_ && saved_ > 0) set_(saved_);
  }

 private:
  void (*set_)(int) = nullptr;
  int saved_ = 0;
};

constexpr int64_t kRowsPerThread = 64;  // rows of a weight matrix one thread converts per chunk

struct Layout {
  int64_t T = 0, H = 0;
  int N = 0, E = 0;
  std::vector<int64_t> width, offset;  // per entity: neurons, offset in the Hh block
  int64_t total_width = 0, max_part_width = 0;
  int64_t chunk1 = 0, chunk2 = 0;  // rows per chunk: neurons (W_act/W_up), outputs (W_down)
};

Layout layout_of(const AllExpertsRequest& r, int threads) {
  Layout L;
  L.T = r.tokens.dim(0);
  L.H = r.tokens.dim(1);
  L.N = static_cast<int>(r.entities.size());
  L.E = r.num_experts;
  for (const auto& e : r.entities) {
    L.offset.push_back(L.total_width);
    L.width.push_back(e.neurons());
    L.total_width += e.neurons();
    for (const auto& p : e.parts) L.max_part_width = std::max(L.max_part_width, p.intermediate());
  }
  L.chunk1 = std::min(L.max_part_width, kRowsPerThread * threads);
  L.chunk2 = std::min(L.H, kRowsPerThread * threads);
  return L;
}

int64_t block_for(const AllExpertsRequest& r, const Layout& L) {
  const std::size_t budget = r.block_bytes ? r.block_bytes : kDefaultAllExpertsBlockBytes;
  const int64_t floats = L.H + L.total_width + 2 * L.chunk1 + L.N * L.chunk2 +
                         (r.act_correlation ? L.E * L.chunk1 : 0);
  const int64_t doubles =
      int64_t{L.N} * L.N + (r.act_correlation ? int64_t{L.E} * L.E + L.E : 0) + 2;
  const int64_t per_token = 4 * floats + 8 * doubles;
  return std::clamp<int64_t>(static_cast<int64_t>(budget) / per_token, 1,
                             std::max<int64_t>(L.T, 1));
}

// Rows [begin, end) of m converted to float into dst (row-major, m.cols() per row).
void convert_rows(const TensorView& m, int64_t begin, int64_t end, float* dst) {
  m.read_float(begin * m.cols(), (end - begin) * m.cols(), dst);
}

// Entries [begin, end) of a bias vector (zeros when the family has none).
std::vector<float> bias_range(const std::optional<TensorView>& b, int64_t begin, int64_t end) {
  std::vector<float> v(static_cast<std::size_t>(end - begin), 0.0f);
  if (b) b->read_float(begin, end - begin, v.data());
  return v;
}

}  // namespace

int64_t cpu_all_experts_block(const AllExpertsRequest& r, int threads) {
  if (threads <= 0) threads = default_threads();
  return block_for(r, layout_of(r, threads));
}

AllExpertsStats cpu_all_experts(const AllExpertsRequest& r, int threads) {
  check_all_experts_request(r);
  if (threads <= 0) threads = default_threads();
  const SingleThreadedBlas blas_guard;
  const Layout L = layout_of(r, threads);
  const int64_t T = L.T, H = L.H, B = block_for(r, L);
  const int N = L.N, E = L.E;
  const std::size_t Q = r.activation_thresholds.size();
  AllExpertsAccumulator acc(r);

  std::vector<float> x(static_cast<std::size_t>(B * H));
  std::vector<float> hh(static_cast<std::size_t>(B * L.total_width));  // [n][t][i] per entity
  std::vector<float> pre_a(static_cast<std::size_t>(B * L.chunk1)), pre_u(pre_a.size());
  std::vector<float> acts(r.act_correlation ? static_cast<std::size_t>(E * B * L.chunk1) : 0);
  std::vector<float> y(static_cast<std::size_t>(N * B * L.chunk2));  // [n][t][h]
  std::vector<double> gram(static_cast<std::size_t>(B * N * N));
  std::vector<double> cross(r.act_correlation ? static_cast<std::size_t>(B * E * E) : 0);
  std::vector<double> sums(r.act_correlation ? static_cast<std::size_t>(B * E) : 0);
  std::vector<int32_t> counts(Q * static_cast<std::size_t>(B * N));
  std::vector<double> gate(static_cast<std::size_t>(B));
  // Per-thread weight chunks: W_act and W_up rows, then W_down rows.
  const int64_t wrows = (std::max(L.chunk1, L.chunk2) + threads - 1) / threads;
  std::vector<std::vector<float>> wbuf(static_cast<std::size_t>(threads));
  for (auto& w : wbuf)
    w.resize(static_cast<std::size_t>(std::max(2 * wrows * H, wrows * L.max_part_width)));

  for (int64_t t0 = 0; t0 < T; t0 += B) {
    const int64_t nb = std::min(B, T - t0);
    r.tokens.read_float(t0 * H, nb * H, x.data());
    std::fill(counts.begin(), counts.end(), 0);
    std::fill(gram.begin(), gram.begin() + nb * N * N, 0.0);
    if (r.act_correlation) {
      std::fill(cross.begin(), cross.end(), 0.0);
      std::fill(sums.begin(), sums.end(), 0.0);
    }

    // Phase 1: hh_n = glu(X W_act^T + b_act, X W_up^T + b_up), neuron chunk by neuron chunk. For
    // the act correlation every routed expert's act values of a chunk are kept and their per-token
    // cross-products accumulated before the next chunk.
    auto phase1 = [&](int n, const ExpertWeights& w, int64_t part_offset, int64_t c0, int64_t c1,
                      float* act_out) {
      const int64_t ic = c1 - c0, width = L.width[static_cast<std::size_t>(n)];
      const ActivationSpec& actf = r.entities[static_cast<std::size_t>(n)].activation;
      float* hn = hh.data() + L.offset[static_cast<std::size_t>(n)] * B;
      const int parts = static_cast<int>(std::min<int64_t>(threads, ic));
      std::vector<std::vector<int32_t>> local(static_cast<std::size_t>(parts),
                                              std::vector<int32_t>(Q * nb, 0));
      parallel_for(parts, parts, [&](int64_t p) {
        const int64_t r0 = c0 + ic * p / parts, r1 = c0 + ic * (p + 1) / parts, rr = r1 - r0;
        if (rr == 0) return;
        float* wa = wbuf[static_cast<std::size_t>(p)].data();
        float* wu = wa + rr * H;
        convert_rows(w.act, r0, r1, wa);
        convert_rows(w.up, r0, r1, wu);
        float* pa = pre_a.data() + (r0 - c0);
        float* pu = pre_u.data() + (r0 - c0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nb),
                    static_cast<int>(rr), static_cast<int>(H), 1.0f, x.data(), static_cast<int>(H),
                    wa, static_cast<int>(H), 0.0f, pa, static_cast<int>(ic));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nb),
                    static_cast<int>(rr), static_cast<int>(H), 1.0f, x.data(), static_cast<int>(H),
                    wu, static_cast<int>(H), 0.0f, pu, static_cast<int>(ic));
        auto& cnt = local[static_cast<std::size_t>(p)];
        const std::vector<float> ba = bias_range(w.act_bias, r0, r1),
                                 bu = bias_range(w.up_bias, r0, r1);
        for (int64_t t = 0; t < nb; ++t)
          for (int64_t i = 0; i < rr; ++i) {
            const float a = activate(actf, pa[t * ic + i] + ba[static_cast<std::size_t>(i)]);
            for (std::size_t q = 0; q < Q; ++q)
              cnt[q * nb + t] += std::fabs(a) > r.activation_thresholds[q] ? 1 : 0;
            hn[t * width + part_offset + r0 + i] =
                glu_from_act(actf, a, pu[t * ic + i] + bu[static_cast<std::size_t>(i)]);
            if (act_out) act_out[t * ic + (r0 - c0) + i] = a;
          }
      });
      for (const auto& cnt : local)
        for (std::size_t q = 0; q < Q; ++q)
          for (int64_t t = 0; t < nb; ++t) counts[(q * B + t) * N + n] += cnt[q * nb + t];
    };

    if (r.act_correlation && E >= 2) {
      // Routed experts chunk-major (equal widths, one part each is not required: parts are
      // walked in order), so each chunk's act vectors of all experts are at hand together.
      const int64_t I = L.width[0];
      for (int64_t c0 = 0; c0 < I; c0 += L.chunk1) {
        const int64_t c1 = std::min(I, c0 + L.chunk1), ic = c1 - c0;
        for (int n = 0; n < E; ++n) {
          // The chunk [c0, c1) of the entity's concatenated neurons, which may span parts.
          int64_t off = 0;
          for (const ExpertWeights& w : r.entities[static_cast<std::size_t>(n)].parts) {
            const int64_t pw = w.intermediate();
            const int64_t b = std::max(c0, off), e = std::min(c1, off + pw);
            if (b < e) {
              // phase1 writes act values at column (row - chunk start) of a chunk of width ic:
              // run it on the part-local range and place the acts at their chunk offset.
              std::vector<float> tmp(static_cast<std::size_t>(nb * (e - b)));
              phase1(n, w, off, b - off, e - off, tmp.data());
              float* dst = acts.data() + static_cast<std::size_t>(n) * B * ic;
              for (int64_t t = 0; t < nb; ++t)
                std::copy(tmp.begin() + t * (e - b), tmp.begin() + (t + 1) * (e - b),
                          dst + t * ic + (b - c0));
            }
            off += pw;
          }
        }
        parallel_for(nb, threads, [&](int64_t t) {
          std::vector<float> g(static_cast<std::size_t>(E * E));
          cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, E, static_cast<int>(ic), 1.0f,
                      acts.data() + t * ic, static_cast<int>(B * ic), 0.0f, g.data(), E);
          double* ct = cross.data() + t * E * E;
          for (int a = 0; a < E; ++a)
            for (int b = a; b < E; ++b) ct[a * E + b] += g[static_cast<std::size_t>(a * E + b)];
          double* st = sums.data() + t * E;
          for (int a = 0; a < E; ++a) {
            const float* v = acts.data() + (static_cast<int64_t>(a) * B + t) * ic;
            double s = 0;
            for (int64_t i = 0; i < ic; ++i) s += v[i];
            st[a] += s;
          }
        });
      }
    }
    for (int n = (r.act_correlation && E >= 2) ? E : 0; n < N; ++n) {
      int64_t off = 0;
      for (const ExpertWeights& w : r.entities[static_cast<std::size_t>(n)].parts) {
        for (int64_t c0 = 0; c0 < w.intermediate(); c0 += L.chunk1)
          phase1(n, w, off, c0, std::min(w.intermediate(), c0 + L.chunk1), nullptr);
        off += w.intermediate();
      }
    }

    // Phase 2: output chunk by output chunk, every entity's Y = hh W_down^T + b_down on those rows,
    // then each token's N x N Gram of the chunk (ssyrk), accumulated in float64.
    for (int64_t h0 = 0; h0 < H; h0 += L.chunk2) {
      const int64_t hc = std::min(H, h0 + L.chunk2) - h0;
      for (int n = 0; n < N; ++n) {
        const FfnEntity& ent = r.entities[static_cast<std::size_t>(n)];
        const int64_t width = L.width[static_cast<std::size_t>(n)];
        const float* hn = hh.data() + L.offset[static_cast<std::size_t>(n)] * B;
        float* yn = y.data() + static_cast<std::size_t>(n) * B * hc;
        const int parts = static_cast<int>(std::min<int64_t>(threads, hc));
        parallel_for(parts, parts, [&](int64_t p) {
          const int64_t r0 = h0 + hc * p / parts, r1 = h0 + hc * (p + 1) / parts, rr = r1 - r0;
          if (rr == 0) return;
          float* wd = wbuf[static_cast<std::size_t>(p)].data();
          int64_t off = 0;
          for (std::size_t k = 0; k < ent.parts.size(); ++k) {
            const ExpertWeights& w = ent.parts[k];
            const int64_t I = w.intermediate();
            convert_rows(w.down, r0, r1, wd);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nb),
                        static_cast<int>(rr), static_cast<int>(I), 1.0f, hn + off,
                        static_cast<int>(width), wd, static_cast<int>(I), k == 0 ? 0.0f : 1.0f,
                        yn + (r0 - h0), static_cast<int>(hc));
            if (w.down_bias) {
              const std::vector<float> bd = bias_range(w.down_bias, r0, r1);
              for (int64_t t = 0; t < nb; ++t)
                for (int64_t o = 0; o < rr; ++o)
                  yn[t * hc + (r0 - h0) + o] += bd[static_cast<std::size_t>(o)];
            }
            off += I;
          }
        });
      }
      parallel_for(nb, threads, [&](int64_t t) {
        std::vector<float> g(static_cast<std::size_t>(N * N));
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, N, static_cast<int>(hc), 1.0f,
                    y.data() + t * hc, static_cast<int>(B * hc), 0.0f, g.data(), N);
        double* gt = gram.data() + t * N * N;
        for (int a = 0; a < N; ++a)
          for (int b = a; b < N; ++b) gt[a * N + b] += g[static_cast<std::size_t>(a * N + b)];
      });
    }

    apply_sigmoid_gates(r, x.data(), nb, gram.data());
    mirror_upper(gram.data(), nb, N);
    if (r.act_correlation && E >= 2) mirror_upper(cross.data(), nb, E);
    for (int64_t t = 0; t < nb; ++t) {
      for (std::size_t q = 0; q < Q; ++q)
        for (int n = 0; n < N; ++n) acc.set_active_count(q, t0 + t, n, counts[(q * B + t) * N + n]);
      if (r.act_correlation && E >= 2)
        acc.set_act_correlation(t0 + t, cross.data() + t * E * E, sums.data() + t * E, L.width[0]);
    }
    acc.add_tokens(t0, nb, gram.data(), threads);
  }
  return acc.take();
}

}  // namespace moeprobe
