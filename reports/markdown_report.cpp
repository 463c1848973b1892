#include "reports/markdown_report.h"

#include <cstdio>
#include <sstream>

#include "reports/junit_report.h"

namespace moeprobe {

std::string outcome_emoji(Outcome o) {
  switch (o) {
    case Outcome::Pass:
      return "✅";
    case Outcome::Fail:
      return "❌";
    case Outcome::Warn:
      return "⚠️";
    case Outcome::Inconclusive:
      return "❔";
    case Outcome::Error:
      return "💥";
    case Outcome::Skipped:
      return "⏭️";
  }
  return "";
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

namespace {

bool per_layer_scale(Aggregate::Kind k) {
  return k == Aggregate::Kind::Mean || k == Aggregate::Kind::Median || k == Aggregate::Kind::Min ||
         k == Aggregate::Kind::Max || k == Aggregate::Kind::BandMean;
}

// A collapsed block with what failed and the per-layer values behind it (a fenced block, so the
// summary's only table rows stay the hypotheses').
std::string failure_details(const HypothesisResult& h) {
  std::ostringstream o;
  o << "<details><summary>" << outcome_emoji(h.outcome) << " " << outcome_name(h.outcome) << " "
    << xml_escape(h.id) << (h.reason.empty() ? "" : ": " + xml_escape(h.reason))
    << "</summary>\n\n";
  o << markdown_cell(h.metric) << " " << markdown_cell(h.params.dump()) << ", "
    << markdown_cell(h.aggregate.to_string()) << " over layers " << markdown_cell(h.layers) << " = "
    << format_number(h.value) << " [" << format_number(h.lo) << ", " << format_number(h.hi)
    << "], expected " << markdown_cell(h.threshold.to_string()) << ".";
  const bool mark =
      per_layer_scale(h.aggregate.kind) || h.aggregate.kind == Aggregate::Kind::Fraction;
  const Threshold& test =
      h.aggregate.kind == Aggregate::Kind::Fraction ? h.aggregate.predicate : h.threshold;
  if (mark) o << " Layers marked ✗ miss " << markdown_cell(test.to_string()) << " on their own.";
  o << "\n\n```\nlayer  value\n";
  for (const auto& l : h.per_layer) {
    char layer[16];
    std::snprintf(layer, sizeof layer, "%-6d ", l.layer);
    o << layer << format_number(l.value) << (mark && !test.holds(l.value) ? "  ✗" : "") << "\n";
  }
  o << "```\n\n</details>\n";
  return o.str();
}

}  // namespace

std::string render_markdown(const RunResult& r) {
  const OutcomeCounts c = count_outcomes(r);
  std::ostringstream o;
  o << "## moeprobe: " << markdown_cell(r.suite_name) << "\n\n";
  o << "Model `" << markdown_cell(r.model.path) << "` (" << markdown_cell(r.model.family) << ", "
    << r.model.moe_layers.size() << " MoE layers, " << r.model.num_experts << " experts, top-"
    << r.model.top_k << "), backend " << markdown_cell(r.environment.backend) << ", moeprobe "
    << r.environment.version << " (" << r.environment.git_revision << ").\n\n";
  o << "**" << c.pass << " passed, " << c.fail << " failed, " << c.warn << " warned, "
    << c.inconclusive << " inconclusive, " << c.error << " errors, " << c.skipped
    << " skipped.**\n\n";
  o << "| Outcome | Hypothesis | Value | Interval | Expect | Paper |\n";
  o << "|---|---|---|---|---|---|\n";
  for (const auto& h : r.hypotheses) {
    std::string paper;
    for (const auto& [model, v] : h.reference)
      paper += (paper.empty() ? "" : ", ") + model + " " + format_number(v);
    std::string interval = "[" + format_number(h.lo) + ", " + format_number(h.hi) + "]";
    if (h.outcome == Outcome::Error || h.outcome == Outcome::Skipped) interval = "–";
    std::string value = (h.outcome == Outcome::Error || h.outcome == Outcome::Skipped)
                            ? "–"
                            : format_number(h.value);
    std::string id = "`" + h.id + "`";
    if (!h.reason.empty()) id += " — " + h.reason;
    o << "| " << outcome_emoji(h.outcome) << " " << outcome_name(h.outcome) << " | "
      << markdown_cell(id) << " | " << value << " | " << interval << " | "
      << markdown_cell(h.threshold.to_string()) << " | "
      << markdown_cell(paper.empty() ? "–" : paper) << " |\n";
  }
  for (const auto& h : r.hypotheses)
    if (h.outcome == Outcome::Fail || h.outcome == Outcome::Error) o << "\n" << failure_details(h);
  return o.str();
}

}  // namespace moeprobe
