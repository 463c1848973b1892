#include "suite/judge.h"

#include "suite/evaluate.h"

namespace moeprobe {

std::vector<HypothesisResult> judge_hypotheses(const Suite& suite, const IntervalSpec& interval,
                                               const RunPlan& plan,
                                               const Measurements& measurements) {
  std::vector<HypothesisResult> out;
  for (std::size_t i = 0; i < suite.hypotheses.size(); ++i) {
    if (plan.settled[i]) {
      out.push_back(*plan.settled[i]);
      continue;
    }
    const auto& by_position = measurements.at(static_cast<std::size_t>(plan.measurement_of[i]));
    std::vector<PositionedMeasurement> ms;
    for (int p : plan.positions_of[i]) ms.push_back({p, by_position.at(p)});
    out.push_back(evaluate_hypothesis(suite.hypotheses[i], interval, ms, plan.num_moe_layers));
  }
  return out;
}

}  // namespace moeprobe
