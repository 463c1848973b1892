#include "model/routing_data.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace moeprobe {

RoutingData route_logits(const RouterRule& rule, Matrix logits,
                         const std::vector<double>* selection_bias) {
  RoutingData d;
  d.tokens = logits.rows;
  d.experts = static_cast<int>(logits.cols);
  d.top_k = rule.convention.top_k;
  d.weight_on_input = rule.convention.weight_on_input;
  if (d.experts != rule.num_experts)
    throw std::logic_error("route_logits: logits have " + std::to_string(d.experts) +
                           " columns for a rule of " + std::to_string(rule.num_experts) +
                           " experts");
  const int64_t T = d.tokens;
  const int E = d.experts;
  d.probabilities = Matrix(T, E);
  d.scores = Matrix(T, E);
  for (int64_t t = 0; t < T; ++t) {
    const double* z = logits.data.data() + t * E;
    const double mx = *std::max_element(z, z + E);
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += d.probabilities(t, e) = std::exp(z[e] - mx);
    for (int e = 0; e < E; ++e) {
      d.probabilities(t, e) /= sum;
      d.scores(t, e) = rule.convention.scoring == Scoring::Sigmoid ? 1.0 / (1.0 + std::exp(-z[e]))
                                                                   : d.probabilities(t, e);
    }
  }
  route_tokens<double>(
      rule, logits.data.data(), T,
      selection_bias && !selection_bias->empty() ? selection_bias->data() : nullptr, d.selected,
      d.weights);
  d.logits = std::move(logits);
  return d;
}

RoutingData route_layer(const MoeLayer& layer, const RouterRule& rule, const TensorView& tokens,
                        Backend& backend) {
  Matrix logits = backend.linear_rows(tokens, layer.router);
  const int E = static_cast<int>(logits.cols);
  auto read_vector = [&](const TensorView& v) {
    if (v.numel() != E)
      throw InputError(v.file, v.name,
                       "expected " + std::to_string(E) + " elements, got " + v.shape_string());
    std::vector<double> out(static_cast<std::size_t>(E));
    v.read_double(0, E, out.data());
    for (double b : out)
      if (!std::isfinite(b)) throw InputError(v.file, v.name, "non-finite value");
    return out;
  };
  if (layer.router_bias) {
    const std::vector<double> bias = read_vector(*layer.router_bias);
    for (int64_t t = 0; t < logits.rows; ++t)
      for (int e = 0; e < E; ++e) logits(t, e) += bias[static_cast<std::size_t>(e)];
  }
  for (double z : logits.data)
    if (!std::isfinite(z))
      throw InputError(layer.router.file, layer.router.name,
                       "router logits are not finite (a NaN or Inf router weight)");
  std::vector<double> selection_bias;
  if (layer.score_correction_bias) selection_bias = read_vector(*layer.score_correction_bias);
  return route_logits(rule, std::move(logits), &selection_bias);
}

}  // namespace moeprobe
