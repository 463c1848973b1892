#include "suite/evaluate.h"

#include <cmath>
#include <random>

#include "suite/statistics.h"

namespace moeprobe {

namespace {

HypothesisResult skeleton(const Hypothesis& h, const IntervalSpec& interval) {
  HypothesisResult r;
  r.id = h.id;
  r.finding = h.finding;
  r.metric = h.metric;
  r.params = h.params;
  r.layers = h.layers.text.empty() ? "moe" : h.layers.text;
  r.aggregate = h.aggregate;
  r.level = interval.level;
  r.interval_method = interval.method == IntervalSpec::Method::Bootstrap ? "bootstrap" : "none";
  r.interval_over = interval.over == IntervalSpec::Over::Units ? "units" : "layers";
  r.threshold = h.expect;
  r.severity = h.severity;
  r.reference = h.reference;
  r.tolerance = h.tolerance;
  r.value = r.lo = r.hi = std::numeric_limits<double>::quiet_NaN();
  return r;
}

std::string interval_text(double lo, double hi) {
  return "[" + format_number(lo) + ", " + format_number(hi) + "]";
}

}  // namespace

HypothesisResult unmeasured_result(const Hypothesis& h, const IntervalSpec& interval,
                                   Outcome outcome, const std::string& reason) {
  HypothesisResult r = skeleton(h, interval);
  r.outcome = outcome;
  r.reason = reason;
  return r;
}

HypothesisResult evaluate_hypothesis(const Hypothesis& h, const IntervalSpec& interval,
                                     const std::vector<PositionedMeasurement>& ms, int num_layers) {
  HypothesisResult r = skeleton(h, interval);
  std::vector<LayerPoint> points;
  for (const auto& pm : ms) {
    r.per_layer.push_back({pm.m.layer, pm.position, pm.m.value, pm.m.detail});
    points.push_back({pm.position, pm.m.value});
  }
  auto error = [&](const std::string& why) {
    r.outcome = Outcome::Error;
    r.reason = why;
    return r;
  };
  if (ms.empty()) return error("no layer selected");
  // Metrics return NaN where a layer does not apply (e.g. no dark cross): when none applies, the
  // finding says nothing about this model, which is not an error.
  bool any_defined = false;
  for (const auto& pm : ms) any_defined = any_defined || !std::isnan(pm.m.value);
  if (!any_defined) {
    r.outcome = Outcome::Skipped;
    r.reason = "not applicable: the metric is undefined (NaN) on every selected layer";
    return r;
  }

  std::string why;
  bool not_applicable = false;
  r.value = aggregate(h.aggregate, points, num_layers, &why, &not_applicable);
  if (not_applicable) {
    r.outcome = Outcome::Skipped;
    r.reason = "not applicable: " + why;
    return r;
  }
  if (!std::isfinite(r.value)) return error(why.empty() ? "the aggregate is not finite" : why);

  if (interval.method == IntervalSpec::Method::None) {
    r.lo = r.hi = r.value;
    r.resamples = 0;
  } else {
    bool any_resampler = false;
    for (const auto& pm : ms) any_resampler = any_resampler || !pm.m.resampler.empty();
    const bool over_units = interval.over == IntervalSpec::Over::Units && any_resampler;
    r.interval_over = over_units ? "units" : "layers";
    r.resamples = interval.resamples;
    std::mt19937_64 rng(interval.seed ^ stats::stable_hash(h.id));
    std::vector<double> dist;
    dist.reserve(static_cast<std::size_t>(interval.resamples));
    std::vector<LayerPoint> sample(points.size());
    try {
      for (int b = 0; b < interval.resamples; ++b) {
        if (over_units) {
          for (std::size_t i = 0; i < ms.size(); ++i) {
            const Resampler& rs = ms[i].m.resampler;
            sample[i].position = points[i].position;
            sample[i].value =
                rs.empty() ? points[i].value : rs.statistic(stats::draw_indices(rs.n_units, rng));
          }
        } else {
          const auto idx = stats::draw_indices(static_cast<int>(points.size()), rng);
          for (std::size_t i = 0; i < idx.size(); ++i)
            sample[i] = points[static_cast<std::size_t>(idx[i])];
        }
        const double v = aggregate(h.aggregate, sample, num_layers);
        if (std::isfinite(v)) dist.push_back(v);
      }
    } catch (const std::exception& e) {
      return error(std::string("bootstrap resample failed: ") + e.what());
    }
    if (dist.empty())
      return error("every bootstrap resample was undefined (" + r.interval_over + ")");
    const auto ci = stats::percentile_interval(dist, interval.level);
    r.lo = ci.lo;
    r.hi = ci.hi;
  }

  const std::string ci = interval_text(r.lo, r.hi);
  switch (judge_interval(h.expect, r.lo, r.hi)) {
    case IntervalVerdict::Satisfies:
      r.outcome = Outcome::Pass;
      break;
    case IntervalVerdict::Violates:
      r.outcome = h.severity == Severity::Warn ? Outcome::Warn : Outcome::Fail;
      r.reason = "interval " + ci + " misses " + h.expect.to_string();
      break;
    case IntervalVerdict::Straddles:
      r.outcome = Outcome::Inconclusive;
      r.reason = "interval " + ci + " straddles " + h.expect.to_string();
      break;
  }
  return r;
}

}  // namespace moeprobe
