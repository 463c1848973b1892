#include "perf/gate_report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

namespace moeprobe::perf {

namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A time in ns with a readable unit; counters with 4 significant digits.
std::string value(const GateRow& r, double v, std::size_t n) {
  if (n == 0) return "—";
  const bool time = r.metric == "real_time" || r.metric == "cpu_time";
  if (!time) return format("%.4g", v);
  if (v >= 1e9) return format("%.3f s", v / 1e9);
  if (v >= 1e6) return format("%.3f ms", v / 1e6);
  if (v >= 1e3) return format("%.3f us", v / 1e3);
  return format("%.1f ns", v);
}

std::string badge(Verdict v) {
  switch (v) {
    case Verdict::Slow:
      return "❌ SLOW";
    case Verdict::Fast:
      return "🚀 FAST";
    case Verdict::Same:
      return "✅ SAME";
    case Verdict::Ambiguous:
      return "❔ AMBIGUOUS";
    case Verdict::New:
      return "🆕 NEW";
    case Verdict::Missing:
      return "➖ MISSING";
  }
  return "?";
}

std::string cell(std::string s) {  // a benchmark name may hold '|'
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

bool compared(const GateRow& r) {
  return r.n_baseline > 0 && r.n_current > 0;
}

}  // namespace

std::string render_gate_markdown(const GateResult& g) {
  std::ostringstream md;
  md << "## perf-gate: `" << g.current << "` vs baseline `" << g.baseline << "`\n\n";
  md << "| benchmark | metric | baseline | current | change | p | verdict | note |\n";
  md << "|---|---|---:|---:|---:|---:|---|---|\n";
  for (const auto& r : g.rows) {
    md << "| `" << cell(r.benchmark) << "` | " << cell(r.metric) << (r.higher_is_better ? " ↑" : "")
       << " | " << value(r, r.median_baseline, r.n_baseline) << " | "
       << value(r, r.median_current, r.n_current) << " | "
       << (compared(r) ? format("%+.1f%%", 100 * r.change) : "—") << " | "
       << (compared(r) ? format("%.2g", r.p) : "—") << " | " << badge(r.verdict) << " | "
       << cell(r.reason) << " |\n";
  }
  md << "\n**" << g.count(Verdict::Slow) << " SLOW**, " << g.count(Verdict::Fast) << " FAST, "
     << g.count(Verdict::Same) << " SAME, " << g.count(Verdict::Ambiguous) << " AMBIGUOUS, "
     << g.count(Verdict::New) << " NEW, " << g.count(Verdict::Missing) << " MISSING. ";
  if (g.matched > 0)
    md << "Geometric mean of current/baseline median time over " << g.matched
       << " matched benchmarks: **" << format("%.3f", g.geomean_time_ratio) << "** ("
       << format("%+.1f%%", 100 * (g.geomean_time_ratio - 1)) << ").";
  md << " Two-sided Mann-Whitney U, alpha " << format("%g", g.alpha)
     << "; medians of the repetitions.\n";
  if (!g.warnings.empty()) {
    md << "\n";
    for (const auto& w : g.warnings) md << "> ⚠️ " << w << "\n";
  }
  return md.str();
}

std::string render_gate_json(const GateResult& g) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : g.rows) {
    nlohmann::json j{{"benchmark", r.benchmark},
                     {"metric", r.metric},
                     {"higher_is_better", r.higher_is_better},
                     {"verdict", verdict_name(r.verdict)},
                     {"reason", r.reason},
                     {"repetitions", {{"baseline", r.n_baseline}, {"current", r.n_current}}}};
    if (r.n_baseline > 0) j["median_baseline"] = r.median_baseline;
    if (r.n_current > 0) j["median_current"] = r.median_current;
    if (compared(r)) {
      j["change"] = r.change;
      j["p_value"] = r.p;
      j["exact"] = r.exact;
      j["threshold"] = r.threshold;
      j["dispersion"] = {{"baseline", r.cv_baseline}, {"current", r.cv_current}};
    }
    if (r.metric == "real_time" || r.metric == "cpu_time") j["unit"] = "ns";
    rows.push_back(std::move(j));
  }
  nlohmann::json counts;
  for (Verdict v : {Verdict::Fast, Verdict::Slow, Verdict::Same, Verdict::Ambiguous, Verdict::New,
                    Verdict::Missing})
    counts[verdict_name(v)] = g.count(v);
  const nlohmann::json doc{
      {"baseline", g.baseline},     {"current", g.current},
      {"alpha", g.alpha},           {"test", "two-sided Mann-Whitney U"},
      {"regressed", g.regressed()}, {"geomean_time_ratio", g.geomean_time_ratio},
      {"matched", g.matched},       {"counts", counts},
      {"warnings", g.warnings},     {"rows", rows}};
  return doc.dump(2) + "\n";
}

}  // namespace moeprobe::perf
