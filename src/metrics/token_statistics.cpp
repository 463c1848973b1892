#include "metrics/token_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "metrics/rank_statistics.h"

namespace moeprobe {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const double* row(const std::vector<double>& m, int64_t t, int e) {
  return m.data() + t * e;
}
}  // namespace

int argmax_lowest(const double* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

std::vector<int> ascending_ranks(const double* v, int n) {
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Ascending by value; among equals the higher index first, so the lower index ranks higher.
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return v[a] < v[b] || (v[a] == v[b] && a > b); });
  std::vector<int> rank(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r)
    rank[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] = r;
  return rank;
}

TokenRankPairs token_rank_pairs(const std::vector<double>& scores, const std::vector<double>& norms,
                                int experts, const std::vector<int64_t>& tokens) {
  if (experts > 65536) throw std::logic_error("token_rank_pairs: more than 65,536 experts");
  TokenRankPairs p;
  p.experts = experts;
  const std::size_t rows = experts > 0 ? scores.size() / static_cast<std::size_t>(experts) : 0;
  p.score_rank.assign(rows * static_cast<std::size_t>(experts), 0);
  p.norm_rank.assign(p.score_rank.size(), 0);
  for (int64_t t : tokens) {
    const auto s = ascending_ranks(row(scores, t, experts), experts);
    const auto r = ascending_ranks(row(norms, t, experts), experts);
    for (int e = 0; e < experts; ++e) {
      const std::size_t at = static_cast<std::size_t>(t * experts + e);
      p.score_rank[at] = static_cast<uint16_t>(s[static_cast<std::size_t>(e)]);
      p.norm_rank[at] = static_cast<uint16_t>(r[static_cast<std::size_t>(e)]);
    }
  }
  return p;
}

Matrix rank_count_matrix(const TokenRankPairs& pairs, const std::vector<int64_t>& tokens) {
  const int experts = pairs.experts;
  Matrix c(experts, experts);
  for (int64_t t : tokens) {
    const std::size_t base = static_cast<std::size_t>(t * experts);
    for (int e = 0; e < experts; ++e)
      c(pairs.score_rank[base + static_cast<std::size_t>(e)],
        pairs.norm_rank[base + static_cast<std::size_t>(e)]) += 1.0;
  }
  return c;
}

Matrix rank_count_matrix(const std::vector<double>& scores, const std::vector<double>& norms,
                         int experts, const std::vector<int64_t>& tokens) {
  return rank_count_matrix(token_rank_pairs(scores, norms, experts, tokens), tokens);
}

double rank_diagonal_dominance(const Matrix& c) {
  if (c.rows == 0 || c.rows != c.cols) return kNaN;
  int on = 0;
  for (int64_t r = 0; r < c.cols; ++r) {
    bool dominant = true;
    for (int64_t s = 0; s < c.rows && dominant; ++s)
      if (s != r && !(c(r, r) > c(s, r))) dominant = false;
    on += dominant ? 1 : 0;
  }
  return static_cast<double>(on) / static_cast<double>(c.cols);
}

double top1_norm_agreement(const double* scores, const double* norms, int experts) {
  return argmax_lowest(scores, experts) == argmax_lowest(norms, experts) ? 1.0 : 0.0;
}

double topk_norm_coverage(const int* chosen, int k, const double* norms, int experts) {
  const int largest = argmax_lowest(norms, experts);
  return std::find(chosen, chosen + k, largest) != chosen + k ? 1.0 : 0.0;
}

double topk_set_agreement(const double* scores, const double* norms, int experts, int k) {
  const std::vector<int> score_rank = ascending_ranks(scores, experts);
  const std::vector<int> norm_rank = ascending_ranks(norms, experts);
  for (int e = 0; e < experts; ++e)
    if ((score_rank[e] >= experts - k) != (norm_rank[e] >= experts - k)) return 0.0;
  return 1.0;
}

double top_norm_ranks_scored_high(const Matrix& c, int ranks) {
  const int64_t n = c.cols;
  if (c.rows != n || ranks <= 0 || ranks >= n) return kNaN;
  int high = 0;
  for (int64_t r = n - ranks; r < n; ++r) {
    int64_t modal = 0;
    for (int64_t s = 1; s < n; ++s)
      if (c(s, r) > c(modal, r)) modal = s;
    high += modal >= n - ranks ? 1 : 0;
  }
  return static_cast<double>(high) / ranks;
}

double norm_score_spearman(const double* scores, const double* norms, int experts) {
  return spearman(std::vector<double>(scores, scores + experts),
                  std::vector<double>(norms, norms + experts));
}

double gate_confidence(const double* probs, int experts) {
  if (experts < 2) return kNaN;
  double p1 = -std::numeric_limits<double>::infinity(), p2 = p1;
  for (int e = 0; e < experts; ++e) {
    if (probs[e] > p1) {
      p2 = p1;
      p1 = probs[e];
    } else if (probs[e] > p2) {
      p2 = probs[e];
    }
  }
  return p2 > 0.0 ? p1 / p2 : std::numeric_limits<double>::infinity();
}

SuperExperts find_super_experts(const std::vector<double>& norms, int experts,
                                const std::vector<int64_t>& tokens, double factor) {
  SuperExperts out;
  std::vector<double> all;
  all.reserve(tokens.size() * static_cast<std::size_t>(experts));
  for (int64_t t : tokens)
    all.insert(all.end(), row(norms, t, experts), row(norms, t, experts) + experts);
  out.median_norm = median(all);
  if (tokens.empty() || !(out.median_norm > 0.0)) return out;
  const double limit = factor * out.median_norm;
  std::vector<double> max_norm(static_cast<std::size_t>(experts), 0.0);
  for (int64_t t : tokens) {
    bool dominated = false;
    for (int e = 0; e < experts; ++e) {
      const double n = row(norms, t, experts)[e];
      max_norm[static_cast<std::size_t>(e)] = std::max(max_norm[static_cast<std::size_t>(e)], n);
      dominated = dominated || n > limit;
    }
    if (dominated) out.tokens.push_back(t);
  }
  std::sort(out.tokens.begin(), out.tokens.end());
  for (int e = 0; e < experts; ++e)
    if (max_norm[static_cast<std::size_t>(e)] > limit) {
      out.experts.push_back(e);
      out.max_ratio.push_back(max_norm[static_cast<std::size_t>(e)] / out.median_norm);
    }
  return out;
}

std::vector<int64_t> tokens_without(const std::vector<int64_t>& tokens,
                                    const std::vector<int64_t>& remove) {
  std::vector<int64_t> out;
  std::set_difference(tokens.begin(), tokens.end(), remove.begin(), remove.end(),
                      std::back_inserter(out));
  return out;
}

double active_fraction(const int32_t* counts, const int64_t* neurons, int experts) {
  double active = 0.0, total = 0.0;
  for (int e = 0; e < experts; ++e) {
    active += counts[e];
    total += static_cast<double>(neurons[e]);
  }
  return total > 0.0 ? active / total : kNaN;
}

std::vector<double> selection_counts(const std::vector<int>& chosen, int k, int experts,
                                     const std::vector<int64_t>& tokens) {
  std::vector<double> counts(static_cast<std::size_t>(experts), 0.0);
  for (int64_t t : tokens)
    for (int j = 0; j < k; ++j) {
      const int e = chosen[static_cast<std::size_t>(t * k + j)];
      if (e >= 0 && e < experts) counts[static_cast<std::size_t>(e)] += 1.0;
    }
  return counts;
}

double normalized_entropy(const std::vector<double>& counts) {
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  if (!(total > 0.0) || counts.size() < 2) return kNaN;
  double h = 0.0;
  for (double c : counts)
    if (c > 0.0) h -= (c / total) * std::log(c / total);
  return h / std::log(static_cast<double>(counts.size()));
}

LoadBalance load_balance(const std::vector<double>& counts) {
  LoadBalance out;
  const double m = mean(counts);
  double var = 0.0, top = 0.0;
  for (double c : counts) {
    var += (c - m) * (c - m);
    top = std::max(top, c);
    out.dead += c == 0.0 ? 1 : 0;
  }
  var /= static_cast<double>(counts.size());
  out.cv = m > 0.0 ? std::sqrt(var) / m : kNaN;
  out.max_violation = m > 0.0 ? top / m - 1.0 : kNaN;
  return out;
}

int longest_expert_run(const std::vector<int>& chosen, int k, const std::vector<int64_t>& tokens,
                       const std::vector<int64_t>& sequence_starts) {
  int best = 0;
  std::vector<int> run;  // per expert: current run length
  int64_t previous = -2;
  for (int64_t t : tokens) {
    const bool starts = std::binary_search(sequence_starts.begin(), sequence_starts.end(), t);
    if (t != previous + 1 || starts) run.assign(run.size(), 0);
    previous = t;
    std::vector<int> next(run.size(), 0);
    for (int j = 0; j < k; ++j) {
      const int e = chosen[static_cast<std::size_t>(t * k + j)];
      if (e < 0) continue;
      if (static_cast<std::size_t>(e) >= run.size()) {
        run.resize(static_cast<std::size_t>(e) + 1, 0);
        next.resize(run.size(), 0);
      }
      next[static_cast<std::size_t>(e)] = run[static_cast<std::size_t>(e)] + 1;
      best = std::max(best, next[static_cast<std::size_t>(e)]);
    }
    run = std::move(next);
  }
  return best;
}

double top1_agreement(const int* a, const int* b) {
  return a[0] == b[0] ? 1.0 : 0.0;
}

double topk_jaccard(const int* a, const int* b, int k) {
  std::vector<int> x(a, a + k), y(b, b + k);
  std::sort(x.begin(), x.end());
  x.erase(std::unique(x.begin(), x.end()), x.end());
  std::sort(y.begin(), y.end());
  y.erase(std::unique(y.begin(), y.end()), y.end());
  std::vector<int> both, either;
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
  std::set_union(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(either));
  return either.empty() ? kNaN
                        : static_cast<double>(both.size()) / static_cast<double>(either.size());
}

}  // namespace moeprobe
