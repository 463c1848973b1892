#include "suite/compare.h"

#include <cmath>
#include <map>
#include <sstream>

namespace moeprobe {

bool drifts(double b, double c, double abs_tol, double rel_tol) {
  const bool bn = std::isnan(b), cn = std::isnan(c);
  if (bn || cn) return bn != cn;  // defined on one side only
  const double d = std::fabs(c - b);
  return d > abs_tol && d > rel_tol * std::fabs(b);
}

int Comparison::drifted() const {
  int k = 0;
  for (const auto& r : rows) k += r.drift ? 1 : 0;
  return k;
}

Comparison compare_results(const RunResult& base, const RunResult& cur, const CompareOptions& opt) {
  Comparison out;
  std::map<std::string, const HypothesisResult*> bmap, cmap;
  for (const auto& h : base.hypotheses) bmap[h.id] = &h;
  for (const auto& h : cur.hypotheses) cmap[h.id] = &h;
  for (const auto& h : base.hypotheses)
    if (!cmap.count(h.id)) out.removed.push_back(h.id);
  for (const auto& h : cur.hypotheses) {
    auto it = bmap.find(h.id);
    if (it == bmap.end()) {
      out.added.push_back(h.id);
      continue;
    }
    const HypothesisResult& b = *it->second;
    const double at = opt.abs.value_or(h.tolerance.abs);
    const double rt = opt.rel.value_or(h.tolerance.rel);
    if (b.outcome != h.outcome) out.outcome_changes.push_back({h.id, {b.outcome, h.outcome}});
    // A skipped hypothesis has no value on purpose; compare only what both runs measured.
    if (b.outcome != Outcome::Skipped && h.outcome != Outcome::Skipped)
      out.rows.push_back({h.id, -1, b.value, h.value, at, rt, drifts(b.value, h.value, at, rt)});
    std::map<int, double> blayers;
    for (const auto& l : b.per_layer) blayers[l.layer] = l.value;
    for (const auto& l : h.per_layer) {
      auto bl = blayers.find(l.layer);
      if (bl == blayers.end()) continue;
      out.rows.push_back(
          {h.id, l.layer, bl->second, l.value, at, rt, drifts(bl->second, l.value, at, rt)});
    }
  }
  return out;
}

std::string render_comparison_markdown(const Comparison& c, const std::string& bl,
                                       const std::string& cl) {
  std::ostringstream o;
  o << "## moeprobe compare\n\nBaseline `" << bl << "`, current `" << cl << "`: " << c.drifted()
    << " of " << c.rows.size() << " values drifted, " << c.outcome_changes.size()
    << " outcome changes, " << c.added.size() << " added, " << c.removed.size() << " removed.\n\n";
  o << "| | Hypothesis | Layer | Baseline | Current | Δ | Tolerance (abs, rel) |\n";
  o << "|---|---|---|---|---|---|---|\n";
  for (const auto& r : c.rows) {
    // Keep the table readable: every aggregate row, and the layers that drifted.
    if (r.layer >= 0 && !r.drift) continue;
    o << "| " << (r.drift ? "❌ drift" : "✅") << " | `" << r.id << "` | "
      << (r.layer < 0 ? "aggregate" : std::to_string(r.layer)) << " | " << format_number(r.baseline)
      << " | " << format_number(r.current) << " | " << format_number(r.current - r.baseline)
      << " | " << format_number(r.abs_tol) << ", " << format_number(r.rel_tol) << " |\n";
  }
  if (!c.outcome_changes.empty()) {
    o << "\n### Outcome changes\n\n| Hypothesis | Baseline | Current |\n|---|---|---|\n";
    for (const auto& [id, oc] : c.outcome_changes)
      o << "| `" << id << "` | " << outcome_name(oc.first) << " | " << outcome_name(oc.second)
        << " |\n";
  }
  if (!c.added.empty() || !c.removed.empty()) {
    o << "\n### Hypotheses added or removed\n\n";
    for (const auto& id : c.added) o << "- added `" << id << "`\n";
    for (const auto& id : c.removed) o << "- removed `" << id << "`\n";
  }
  return o.str();
}

}  // namespace moeprobe
