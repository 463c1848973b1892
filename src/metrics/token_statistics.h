// The dynamic analyses' math (A7-A12 of docs/closer-look-spec.md) as pure functions over plain
// per-token data, so each is tested on hand-computed values apart from the all-experts pass:
// scores/norms are [T, E] row-major (token t's row at t * E), chosen experts [T, k] (descending
// score). Ties: an argmax and the ranks break ties towards the lower expert index (the lower
// index ranks higher among equal values), as routing does.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

// Index of the largest of v[0..n), the lowest index among equals.
int argmax_lowest(const double* v, int n);
// Ascending ranks 0..n-1 (n-1 = largest); among equal values the lower index ranks higher.
std::vector<int> ascending_ranks(const double* v, int n);

// A9/A10 -----------------------------------------------------------------------------------------
// C[s][r] += 1 for every token and expert with score rank s and norm rank r (0-based ascending:
// E-1 is the largest), over the given tokens. Every row and column sums to tokens.size().
Matrix rank_count_matrix(const std::vector<double>& scores, const std::vector<double>& norms,
                         int experts, const std::vector<int64_t>& tokens);
// The score rank and norm rank of every expert of the given tokens, computed once: a rank-count
// matrix over a token set (each bootstrap resample) then costs E additions per token instead of
// two sorts, and keeping it costs 4 bytes per token and expert instead of the 16 of two [T, E]
// float64 arrays. Rows of tokens not given stay 0.
struct TokenRankPairs {
  int experts = 0;
  std::vector<uint16_t> score_rank, norm_rank;  // [T, E], token t's row at t * E; E <= 65,536
};
TokenRankPairs token_rank_pairs(const std::vector<double>& scores, const std::vector<double>& norms,
                                int experts, const std::vector<int64_t>& tokens);
Matrix rank_count_matrix(const TokenRankPairs& pairs, const std::vector<int64_t>& tokens);
// Fraction of norm ranks r whose column maximum is strictly on the diagonal (C[r][r] > C[s][r],
// s != r); NaN for an empty matrix.
double rank_diagonal_dominance(const Matrix& c);
// 1 when the top-1 score expert is the largest-norm expert of the token, else 0.
double top1_norm_agreement(const double* scores, const double* norms, int experts);
// 1 when the largest-norm expert is among the token's chosen experts.
double topk_norm_coverage(const int* chosen, int k, const double* norms, int experts);
// 1 when the k largest scores and the k largest norms belong to the same experts (spec H9a).
double topk_set_agreement(const double* scores, const double* norms, int experts, int k);
// Of the `ranks` largest norm ranks r (columns of C), the fraction whose modal score rank
// (argmax_s C[s][r], the lower rank among equal counts) is one of the `ranks` largest score
// ranks (spec H10b). NaN unless 0 < ranks < the matrix size.
double top_norm_ranks_scored_high(const Matrix& c, int ranks);
// Spearman rank correlation (average ranks) of one token's scores and norms; NaN when constant.
double norm_score_spearman(const double* scores, const double* norms, int experts);
// p_(1) / p_(2) of one token's full-softmax probabilities (+inf when p_(2) is 0; NaN for E < 2).
double gate_confidence(const double* probs, int experts);

// "Super experts" (arXiv 2507.23279): experts whose output norm on some token exceeds factor x
// the median of all the layer's norms (over the given tokens); the tokens where that happens are
// the ones they dominate.
struct SuperExperts {
  double median_norm = 0.0;
  std::vector<int> experts;       // ascending
  std::vector<int64_t> tokens;    // ascending
  std::vector<double> max_ratio;  // per expert in `experts`: max norm / median
};
SuperExperts find_super_experts(const std::vector<double>& norms, int experts,
                                const std::vector<int64_t>& tokens, double factor);
// `tokens` without those in `remove` (both ascending).
std::vector<int64_t> tokens_without(const std::vector<int64_t>& tokens,
                                    const std::vector<int64_t>& remove);

// A11 --------------------------------------------------------------------------------------------
// Fraction of one token's neurons (over its experts) with |act| above the threshold, from the
// per-expert counts and neuron numbers.
double active_fraction(const int32_t* counts, const int64_t* neurons, int experts);

// A12 and router comparison ----------------------------------------------------------------------
// How often each expert is among the chosen of the given tokens.
std::vector<double> selection_counts(const std::vector<int>& chosen, int k, int experts,
                                     const std::vector<int64_t>& tokens);
// Shannon entropy of the counts' distribution / log(E), in [0, 1] (NaN without selections).
double normalized_entropy(const std::vector<double>& counts);
struct LoadBalance {
  double cv = 0.0;             // population standard deviation / mean of the counts
  double max_violation = 0.0;  // max count / mean - 1
  int dead = 0;                // experts never chosen
};
LoadBalance load_balance(const std::vector<double>& counts);
// Longest run of consecutive tokens (in `tokens` order, never across a sequence start) that one
// expert is among the chosen of. Tokens in `tokens` that are not consecutive positions (a BOS
// left out) break a run.
int longest_expert_run(const std::vector<int>& chosen, int k, const std::vector<int64_t>& tokens,
                       const std::vector<int64_t>& sequence_starts);
// 1 when the top-1 (first chosen) experts agree.
double top1_agreement(const int* a, const int* b);
// |A n B| / |A u B| of two tokens' chosen sets (k each).
double topk_jaccard(const int* a, const int* b, int k);

}  // namespace moeprobe
