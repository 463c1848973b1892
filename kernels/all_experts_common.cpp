#include "kernels/all_experts_common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "util/error.h"
#include "util/parallel_for.h"

namespace moeprobe {

int64_t FfnEntity::neurons() const {
  int64_t n = 0;
  for (const auto& p : parts) n += p.intermediate();
  return n;
}

namespace {

constexpr double kPi = 3.14159265358979323846;

double nan() {
  return std::numeric_limits<double>::quiet_NaN();
}

void check_float_matrix(const TensorView& m, int64_t rows, int64_t cols, const char* what) {
  // Mapped views (transposed, interleaved or quantised weights) read as floats and hold no
  // contiguous data pointer.
  if (!m.float_valued())
    throw InputError(m.file, m.name,
                     std::string(what) + ": expected a float dtype, got " + dtype_name(m.dtype));
  if (m.rank() != 2 || (rows >= 0 && m.dim(0) != rows) || (cols >= 0 && m.dim(1) != cols))
    throw InputError(m.file, m.name,
                     std::string(what) + ": expected shape [" +
                         (rows >= 0 ? std::to_string(rows) : std::string("I")) + ", " +
                         (cols >= 0 ? std::to_string(cols) : std::string("I")) + "], got " +
                         m.shape_string());
  if (m.plain() && !m.data && m.numel() > 0)
    throw InputError(m.file, m.name, std::string(what) + ": no data");
}

void check_bias(const std::optional<TensorView>& b, int64_t n, const char* what) {
  if (!b) return;
  if (!b->float_valued() || b->numel() != n)
    throw InputError(b->file, b->name,
                     std::string(what) + ": expected " + std::to_string(n) + " float values, got " +
                         dtype_name(b->dtype) + " " + b->shape_string());
}

double angular(double c) {
  return 1.0 - std::acos(std::clamp(c, -1.0, 1.0)) / kPi;
}

}  // namespace

void check_all_experts_request(const AllExpertsRequest& r) {
  const TensorView& x = r.tokens;
  if (x.rank() != 2 || !dtype_is_float(x.dtype))
    throw InputError(x.file, x.name,
                     "expected a float [tokens, hidden] matrix, got " +
                         std::string(dtype_name(x.dtype)) + " " + x.shape_string());
  const int64_t T = x.dim(0), H = x.dim(1);
  const int n = static_cast<int>(r.entities.size());
  if (r.num_experts < 0 || r.num_shared < 0 ||
      r.num_experts + r.num_shared + (r.has_reference ? 1 : 0) != n)
    throw std::logic_error("all_experts: entity counts do not add up");
  for (const FfnEntity& e : r.entities) {
    if (e.parts.empty()) throw std::logic_error("all_experts: an entity without weights");
    for (const ExpertWeights& w : e.parts) {
      check_float_matrix(w.act, -1, H, "W_act");
      const int64_t I = w.act.dim(0);
      check_float_matrix(w.up, I, H, "W_up");
      check_float_matrix(w.down, H, I, "W_down");
      check_bias(w.act_bias, I, "act bias");
      check_bias(w.up_bias, I, "up bias");
      check_bias(w.down_bias, H, "down bias");
    }
    if (e.sigmoid_gate && (e.sigmoid_gate->numel() != H || !dtype_is_float(e.sigmoid_gate->dtype)))
      throw InputError(e.sigmoid_gate->file, e.sigmoid_gate->name,
                       "expected a float gate of " + std::to_string(H) + " elements, got " +
                           e.sigmoid_gate->shape_string());
  }
  if (!r.chosen.empty()) {
    if (r.top_k < 1 || static_cast<int64_t>(r.chosen.size()) != T * r.top_k)
      throw std::logic_error("all_experts: chosen experts are not [tokens * top_k]");
    for (int c : r.chosen)
      if (c < 0 || c >= r.num_experts)
        throw std::logic_error("all_experts: chosen expert out of range");
  }
  if (!r.bos_mask.empty() && static_cast<int64_t>(r.bos_mask.size()) != T)
    throw std::logic_error("all_experts: bos_mask is not [tokens]");
  if (r.act_correlation)
    for (int e = 1; e < r.num_experts; ++e)
      if (r.entities[e].neurons() != r.entities[0].neurons())
        throw InputError(r.entities[e].parts[0].act.file, r.entities[e].parts[0].act.name,
                         "act correlation across experts needs equal widths: " +
                             std::to_string(r.entities[e].neurons()) + " neurons vs " +
                             std::to_string(r.entities[0].neurons()));
}

AllExpertsAccumulator::AllExpertsAccumulator(const AllExpertsRequest& r) : r_(r) {
  const int64_t T = r.tokens.dim(0);
  const int N = static_cast<int>(r.entities.size());
  const auto t = static_cast<std::size_t>(T);
  s_.tokens = T;
  s_.entities = N;
  s_.num_experts = r.num_experts;
  s_.num_shared = r.num_shared;
  s_.has_reference = r.has_reference;
  for (const auto& e : r.entities) s_.entity_neurons.push_back(e.neurons());
  s_.norms.assign(t * static_cast<std::size_t>(N), nan());
  s_.mean_cosine.assign(t, nan());
  s_.mean_angular.assign(t, nan());
  s_.chosen_cosine.assign(t, nan());
  s_.chosen_angular.assign(t, nan());
  if (r.num_shared > 0) {
    s_.shared_cosine.assign(t, nan());
    s_.shared_angular.assign(t, nan());
  }
  if (r.has_reference) {
    s_.reference_cosine.assign(t, nan());
    s_.reference_angular.assign(t, nan());
  }
  for (SimilaritySums* sums : {&s_.all, &s_.non_bos}) {
    sums->cosine = Matrix(N, N);
    sums->angular = Matrix(N, N);
  }
  s_.active_counts.assign(r.activation_thresholds.size(),
                          std::vector<int32_t>(t * static_cast<std::size_t>(N), 0));
  if (r.act_correlation) s_.act_correlation.assign(t, nan());
}

void AllExpertsAccumulator::add_token(int64_t t, const double* g) {
  add_token_to(t, g, s_.all, s_.non_bos);
}

void AllExpertsAccumulator::add_tokens(int64_t t0, int64_t count, const double* grams,
                                       int threads) {
  const int N = s_.entities;
  const int parts = static_cast<int>(std::clamp<int64_t>(count / 8, 1, std::max(threads, 1)));
  if (parts <= 1) {
    for (int64_t t = 0; t < count; ++t) add_token(t0 + t, grams + t * N * N);
    return;
  }
  std::vector<SimilaritySums> all(static_cast<std::size_t>(parts)), non_bos(all.size());
  for (std::size_t p = 0; p < all.size(); ++p)
    for (SimilaritySums* s : {&all[p], &non_bos[p]}) {
      s->cosine = Matrix(N, N);
      s->angular = Matrix(N, N);
    }
  parallel_for(parts, parts, [&](int64_t p) {
    for (int64_t t = count * p / parts; t < count * (p + 1) / parts; ++t)
      add_token_to(t0 + t, grams + t * N * N, all[static_cast<std::size_t>(p)],
                   non_bos[static_cast<std::size_t>(p)]);
  });
  for (std::size_t p = 0; p < all.size(); ++p)
    for (auto [dst, src] :
         {std::make_pair(&s_.all, &all[p]), std::make_pair(&s_.non_bos, &non_bos[p])}) {
      dst->tokens += src->tokens;
      for (std::size_t k = 0; k < dst->cosine.data.size(); ++k) {
        dst->cosine.data[k] += src->cosine.data[k];
        dst->angular.data[k] += src->angular.data[k];
      }
    }
}

void AllExpertsAccumulator::add_token_to(int64_t t, const double* g, SimilaritySums& all_sums,
                                         SimilaritySums& non_bos_sums) {
  const int N = s_.entities, E = r_.num_experts;
  std::vector<double> norm(static_cast<std::size_t>(N)), cos(static_cast<std::size_t>(N) * N);
  for (int a = 0; a < N; ++a) {
    const double d = g[a * N + a];
    if (!std::isfinite(d)) {
      const TensorView& w = r_.entities[a].parts[0].down;
      throw InputError(w.file, w.name,
                       "the output on token " + std::to_string(t) +
                           " is not finite (a NaN or Inf weight in this entity's matrices)");
    }
    norm[a] = std::sqrt(std::max(d, 0.0));
  }
  // Same guard as cosine_from_gram: a zero output has cosine 0 with everything.
  for (int a = 0; a < N; ++a)
    for (int b = 0; b < N; ++b) cos[a * N + b] = g[a * N + b] / std::max(norm[a] * norm[b], 1e-8);
  const auto T = static_cast<std::size_t>(t);
  for (int a = 0; a < N; ++a) s_.norms[T * N + a] = norm[a];

  double sc = 0, sa = 0;
  for (int a = 0; a < E; ++a)
    for (int b = a + 1; b < E; ++b) {
      sc += cos[a * N + b];
      sa += angular(cos[a * N + b]);
    }
  const double pairs = 0.5 * E * (E - 1.0);
  if (E >= 2) {
    s_.mean_cosine[T] = sc / pairs;
    s_.mean_angular[T] = sa / pairs;
  }
  if (!r_.chosen.empty() && r_.top_k >= 2) {
    const int k = r_.top_k;
    const int* ch = r_.chosen.data() + T * k;
    double c = 0, an = 0;
    for (int i = 0; i < k; ++i)
      for (int j = i + 1; j < k; ++j) {
        c += cos[ch[i] * N + ch[j]];
        an += angular(cos[ch[i] * N + ch[j]]);
      }
    const double kp = 0.5 * k * (k - 1.0);
    s_.chosen_cosine[T] = c / kp;
    s_.chosen_angular[T] = an / kp;
  }
  auto versus = [&](int first, int count, std::vector<double>& vc, std::vector<double>& va) {
    if (count == 0 || E == 0) return;
    double c = 0, an = 0;
    for (int e = 0; e < E; ++e)
      for (int s = first; s < first + count; ++s) {
        c += cos[e * N + s];
        an += angular(cos[e * N + s]);
      }
    vc[T] = c / (double(E) * count);
    va[T] = an / (double(E) * count);
  };
  versus(E, r_.num_shared, s_.shared_cosine, s_.shared_angular);
  if (r_.has_reference) versus(N - 1, 1, s_.reference_cosine, s_.reference_angular);

  const bool bos = !r_.bos_mask.empty() && r_.bos_mask[T] != 0;
  for (SimilaritySums* sums : {&all_sums, &non_bos_sums}) {
    if (sums == &non_bos_sums && bos) continue;
    ++sums->tokens;
    for (int a = 0; a < N; ++a)
      for (int b = 0; b < N; ++b) {
        sums->cosine(a, b) += cos[a * N + b];
        sums->angular(a, b) += angular(cos[a * N + b]);
      }
  }
}

void apply_sigmoid_gates(const AllExpertsRequest& r, const float* x, int64_t nb, double* grams) {
  const int N = static_cast<int>(r.entities.size());
  const int64_t H = r.tokens.dim(1);
  for (int n = 0; n < N; ++n) {
    const FfnEntity& ent = r.entities[static_cast<std::size_t>(n)];
    if (!ent.sigmoid_gate) continue;
    std::vector<float> g(static_cast<std::size_t>(H));
    ent.sigmoid_gate->read_float(0, H, g.data());
    for (int64_t t = 0; t < nb; ++t) {
      double z = 0;
      for (int64_t k = 0; k < H; ++k) z += double(g[k]) * x[t * H + k];
      const double s = 1.0 / (1.0 + std::exp(-z));
      double* gt = grams + t * N * N;
      for (int a = 0; a < N; ++a) {
        if (a <= n) gt[a * N + n] *= s;  // (n, n) is scaled twice: s^2
        if (a >= n) gt[n * N + a] *= s;
      }
    }
  }
}

void mirror_upper(double* mats, int64_t nb, int n) {
  for (int64_t t = 0; t < nb; ++t) {
    double* m = mats + t * n * n;
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < a; ++b) m[a * n + b] = m[b * n + a];
  }
}

void AllExpertsAccumulator::set_active_count(std::size_t q, int64_t t, int n, int32_t count) {
  s_.active_counts[q][static_cast<std::size_t>(t * s_.entities + n)] = count;
}

void AllExpertsAccumulator::set_act_correlation(int64_t t, const double* cross, const double* sums,
                                                int64_t neurons) {
  const int E = r_.num_experts;
  if (E < 2) return;
  const double I = static_cast<double>(neurons);
  std::vector<double> var(static_cast<std::size_t>(E));
  for (int a = 0; a < E; ++a) var[a] = cross[a * E + a] - sums[a] * sums[a] / I;
  double s = 0;
  for (int a = 0; a < E; ++a)
    for (int b = a + 1; b < E; ++b) {
      const double cov = cross[a * E + b] - sums[a] * sums[b] / I;
      const double den = std::sqrt(std::max(var[a], 0.0) * std::max(var[b], 0.0));
      // A constant act vector has no correlation with anything.
      s += den > 0 ? cov / den : 0.0;
    }
  s_.act_correlation[static_cast<std::size_t>(t)] = s / (0.5 * E * (E - 1.0));
}

void AllExpertsAccumulator::set_act_correlation_value(int64_t t, double value) {
  s_.act_correlation[static_cast<std::size_t>(t)] = value;
}

}  // namespace moeprobe
