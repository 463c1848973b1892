#include "perf/gate.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "perf/mann_whitney.h"

namespace moeprobe::perf {

namespace {

std::string percent(double x) {
  std::ostringstream s;
  s.precision(3);
  s << x * 100 << "%";
  return s.str();
}

// Judges one metric of one benchmark. `lower_is_better` for times and cost counters.
GateRow judge(const std::string& benchmark, const std::string& metric, bool higher_is_better,
              const std::vector<double>& base, const std::vector<double>& cur, bool aggregates_only,
              const GateRule& rule, double alpha, bool is_time, double dispersion) {
  GateRow row;
  row.benchmark = benchmark;
  row.metric = metric;
  row.higher_is_better = higher_is_better;
  row.n_baseline = base.size();
  row.n_current = cur.size();
  row.threshold = rule.threshold;
  row.median_baseline = median(base);
  row.median_current = median(cur);
  row.change = row.median_baseline != 0 ? row.median_current / row.median_baseline - 1 : 0;
  row.cv_baseline = robust_dispersion(base);
  row.cv_current = robust_dispersion(cur);
  const RankTest test = mann_whitney_u(cur, base);
  row.p = test.p;
  row.exact = test.exact;

  row.verdict = Verdict::Ambiguous;
  if (aggregates_only) {
    row.reason = "aggregates only: no test possible";
    return row;
  }
  if (smallest_p_value(base.size(), cur.size()) > alpha) {
    row.reason = "too few repetitions (" + std::to_string(base.size()) + " vs " +
                 std::to_string(cur.size()) + ") to reach p < " +
                 std::to_string(alpha).substr(0, 5);
    return row;
  }
  // A benchmark's noise is its time's: every metric of a noisy benchmark is judged noisy.
  const double cv = dispersion;
  if (cv > rule.max_dispersion) {
    row.reason = "too noisy: dispersion " + percent(cv) + " above " + percent(rule.max_dispersion);
    return row;
  }
  if (row.p >= alpha) {
    row.verdict = Verdict::Same;
    return row;
  }
  const bool worse = higher_is_better ? row.change < 0 : row.change > 0;
  const bool beyond =
      std::fabs(row.change) >= rule.threshold &&
      (!is_time || std::fabs(row.median_current - row.median_baseline) >= rule.min_effect_ns);
  if (!beyond) {
    row.reason = "significant but within the threshold (" + percent(rule.threshold) +
                 (is_time && rule.min_effect_ns > 0
                      ? ", " + std::to_string(static_cast<long long>(rule.min_effect_ns)) + " ns"
                      : std::string()) +
                 ")";
    return row;
  }
  row.verdict = worse ? Verdict::Slow : Verdict::Fast;
  row.reason = "beyond " + percent(rule.threshold);
  return row;
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Fast:
      return "FAST";
    case Verdict::Slow:
      return "SLOW";
    case Verdict::Same:
      return "SAME";
    case Verdict::Ambiguous:
      return "AMBIGUOUS";
    case Verdict::New:
      return "NEW";
    case Verdict::Missing:
      return "MISSING";
  }
  return "?";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double robust_dispersion(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = median(v);
  std::vector<double> deviations;
  for (double x : v) deviations.push_back(std::fabs(x - m));
  return m != 0 ? 1.4826 * median(deviations) / std::fabs(m) : 0;
}

std::size_t GateResult::count(Verdict v) const {
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [&](const GateRow& r) { return r.verdict == v; }));
}

GateResult run_gate(const BenchmarkFile& baseline, const BenchmarkFile& current,
                    const Thresholds& thresholds) {
  GateResult result;
  result.baseline = baseline.path;
  result.current = current.path;
  result.alpha = thresholds.alpha;
  for (const auto* f : {&baseline, &current})
    result.warnings.insert(result.warnings.end(), f->warnings.begin(), f->warnings.end());
  const bool cpu = thresholds.time == TimeField::Cpu;
  const std::string time_metric = cpu ? "cpu_time" : "real_time";

  double log_sum = 0;
  std::size_t few = 0;
  auto only_in = [&](const BenchmarkSamples& b, Verdict v, const std::string& where) {
    GateRow row;
    row.benchmark = b.name;
    row.metric = time_metric;
    row.verdict = v;
    row.reason = "only in the " + where;
    const auto& times = cpu ? b.cpu_time_ns : b.real_time_ns;
    (v == Verdict::New ? row.n_current : row.n_baseline) = times.size();
    (v == Verdict::New ? row.median_current : row.median_baseline) = median(times);
    result.rows.push_back(row);
  };

  for (const auto& base : baseline.benchmarks) {
    const BenchmarkSamples* cur = current.find(base.name);
    if (!cur) {
      only_in(base, Verdict::Missing, "baseline");
      continue;
    }
    if (!base.error.empty() || !cur->error.empty()) {
      GateRow row;
      row.benchmark = base.name;
      row.metric = time_metric;
      row.verdict = Verdict::Ambiguous;
      row.reason = !cur->error.empty() ? "skipped in the current run: " + cur->error
                                       : "skipped in the baseline: " + base.error;
      result.rows.push_back(row);
      continue;
    }
    const GateRule rule = thresholds.rule_for(base.name);
    const bool aggregates = base.aggregates_only || cur->aggregates_only;
    const auto& bt = cpu ? base.cpu_time_ns : base.real_time_ns;
    const auto& ct = cpu ? cur->cpu_time_ns : cur->real_time_ns;
    const double dispersion = std::max(robust_dispersion(bt), robust_dispersion(ct));
    GateRow row = judge(base.name, time_metric, false, bt, ct, aggregates, rule, thresholds.alpha,
                        true, dispersion);
    if (row.median_baseline > 0 && row.median_current > 0) {
      log_sum += std::log(row.median_current / row.median_baseline);
      ++result.matched;
    }
    if (!aggregates && std::min(bt.size(), ct.size()) < kRecommendedRepetitions) ++few;
    result.rows.push_back(row);

    for (const bool higher : {true, false})
      for (const auto& counter : higher ? rule.higher_is_better : rule.lower_is_better) {
        const auto b = base.counters.find(counter);
        const auto c = cur->counters.find(counter);
        if (b == base.counters.end() && c == cur->counters.end()) continue;  // not reported here
        if (b == base.counters.end() || c == cur->counters.end()) {
          GateRow r;
          r.benchmark = base.name;
          r.metric = counter;
          r.higher_is_better = higher;
          r.verdict = b == base.counters.end() ? Verdict::New : Verdict::Missing;
          r.reason = std::string("counter only in the ") +
                     (b == base.counters.end() ? "current run" : "baseline");
          result.rows.push_back(r);
          continue;
        }
        result.rows.push_back(judge(base.name, counter, higher, b->second, c->second, aggregates,
                                    rule, thresholds.alpha, false, dispersion));
      }
  }
  for (const auto& cur : current.benchmarks)
    if (!baseline.find(cur.name)) only_in(cur, Verdict::New, "current run");

  if (result.matched > 0)
    result.geomean_time_ratio = std::exp(log_sum / static_cast<double>(result.matched));
  if (few > 0)
    result.warnings.push_back(std::to_string(few) + " benchmark(s) with fewer than " +
                              std::to_string(kRecommendedRepetitions) +
                              " repetitions: the test has little power (run with "
                              "--benchmark_repetitions=9 or more)");
  return result;
}

}  // namespace moeprobe::perf
