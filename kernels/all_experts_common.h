// What every backend's all-experts evaluation shares: the request checks (so all of them reject
// the same inputs with the same message) and the per-token reduction of the entities' output Gram
// matrix into AllExpertsStats (so the statistics are defined once; backends differ only in how
// they compute the Grams).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "model/activation.h"

namespace moeprobe {

// Shapes, dtypes and sizes of a request. Throws InputError naming the offending tensor.
void check_all_experts_request(const AllExpertsRequest& r);

// The per-token output statistics of one request, filled token by token.
class AllExpertsAccumulator {
 public:
  explicit AllExpertsAccumulator(const AllExpertsRequest& r);
  // Token t: `gram` is the N_ent x N_ent Gram matrix of the entities' outputs on x_t (row-major,
  // both triangles filled). Throws InputError when an output norm is not finite (a NaN/Inf
  // weight). Tokens may be added in any order, but each once; the similarity sums are then
  // identical whatever the order up to float64 rounding.
  void add_token(int64_t t, const double* gram);
  // Tokens t0 .. t0 + count - 1 with their Grams at grams + (t - t0) * N_ent^2, on `threads`
  // threads (per-thread partial sums merged in a fixed order, so results do not depend on
  // scheduling).
  void add_tokens(int64_t t0, int64_t count, const double* grams, int threads);
  // Neurons of entity n with |act| above threshold q, on token t.
  void set_active_count(std::size_t q, int64_t t, int n, int32_t count);
  // Per-token Pearson act correlation, from the act vectors' sums, sums of squares and
  // cross-products over the I neurons (row-major E x E `cross`, sums[e], squares on its diagonal).
  void set_act_correlation(int64_t t, const double* cross, const double* sums, int64_t neurons);
  // The same statistic, computed directly (the float64 reference).
  void set_act_correlation_value(int64_t t, double value);
  AllExpertsStats take() { return std::move(s_); }

 private:
  void add_token_to(int64_t t, const double* gram, SimilaritySums& all, SimilaritySums& non_bos);
  const AllExpertsRequest& r_;
  AllExpertsStats s_;
  std::vector<std::pair<int, int>> chosen_pairs_scratch_;
};

// Scales the Grams of a token block (nb tokens x, row-major [nb, H] float; grams [nb][N][N] with
// the upper triangle filled) for the entities with a sigmoid gate: output n times
// s_t = sigmoid(gate . x_t) scales row and column n of token t's Gram by s_t.
void apply_sigmoid_gates(const AllExpertsRequest& r, const float* x, int64_t nb, double* grams);
// Completes each of nb row-major n x n matrices from its upper triangle.
void mirror_upper(double* mats, int64_t nb, int n);

}  // namespace moeprobe
