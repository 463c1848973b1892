#include "reports/html_report.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "reports/junit_report.h"
#include "reports/markdown_report.h"

namespace moeprobe {

namespace {

const char* outcome_colour(Outcome o) {
  switch (o) {
    case Outcome::Pass:
      return "#1a7f37";
    case Outcome::Fail:
      return "#cf222e";
    case Outcome::Warn:
      return "#9a6700";
    case Outcome::Inconclusive:
      return "#6e7781";
    case Outcome::Error:
      return "#8250df";
    case Outcome::Skipped:
      return "#6e7781";
  }
  return "#000";
}

// A line of per-layer values against the layer index, with the hypothesis threshold when the
// aggregate is on the same scale as the values (mean, median, min, max, band mean).
std::string svg_chart(const HypothesisResult& h) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& l : h.per_layer)
    if (std::isfinite(l.value)) pts.push_back({static_cast<double>(l.layer), l.value});
  if (pts.empty()) return "<p class=\"muted\">no per-layer values</p>";
  const double W = 480, H = 160, pad = 32;
  double x0 = pts.front().first, x1 = pts.back().first, y0 = pts.front().second, y1 = y0;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.first);
    x1 = std::max(x1, p.first);
    y0 = std::min(y0, p.second);
    y1 = std::max(y1, p.second);
  }
  const auto k = h.aggregate.kind;
  const bool same_scale = k == Aggregate::Kind::Mean || k == Aggregate::Kind::Median ||
                          k == Aggregate::Kind::Min || k == Aggregate::Kind::Max ||
                          k == Aggregate::Kind::BandMean;
  std::vector<double> lines;
  if (same_scale) {
    if (h.threshold.op == Threshold::Op::In) {
      lines = {h.threshold.lo, h.threshold.hi};
    } else {
      lines = {h.threshold.value};
    }
    for (double v : lines) {
      y0 = std::min(y0, v);
      y1 = std::max(y1, v);
    }
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  auto X = [&](double x) { return pad + (x - x0) / (x1 - x0) * (W - 2 * pad); };
  auto Y = [&](double y) { return H - pad + (y - y0) / (y1 - y0) * (2 * pad - H); };
  std::ostringstream o;
  o.precision(4);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"per-layer values of "
    << xml_escape(h.id) << "\">";
  o << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H
    << "\" fill=\"#fff\" stroke=\"#d0d7de\"/>";
  for (double v : lines)
    o << "<line x1=\"" << pad << "\" x2=\"" << W - pad << "\" y1=\"" << Y(v) << "\" y2=\"" << Y(v)
      << "\" stroke=\"#cf222e\" stroke-dasharray=\"4 3\"/><text x=\"" << W - pad + 2 << "\" y=\""
      << Y(v) + 4 << "\" font-size=\"10\" fill=\"#cf222e\">" << xml_escape(format_number(v))
      << "</text>";
  o << "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"";
  for (const auto& p : pts) o << X(p.first) << "," << Y(p.second) << " ";
  o << "\"/>";
  for (const auto& p : pts)
    o << "<circle cx=\"" << X(p.first) << "\" cy=\"" << Y(p.second)
      << "\" r=\"2.5\" fill=\"#0969da\"><title>layer " << p.first << ": "
      << xml_escape(format_number(p.second)) << "</title></circle>";
  o << "<text x=\"" << pad << "\" y=\"" << H - 8 << "\" font-size=\"10\">layer " << x0 << "</text>";
  o << "<text x=\"" << W - pad << "\" y=\"" << H - 8
    << "\" font-size=\"10\" text-anchor=\"end\">layer " << x1 << "</text>";
  o << "<text x=\"2\" y=\"" << Y(y1) + 4 << "\" font-size=\"10\">" << xml_escape(format_number(y1))
    << "</text>";
  o << "<text x=\"2\" y=\"" << Y(y0) + 4 << "\" font-size=\"10\">" << xml_escape(format_number(y0))
    << "</text>";
  o << "</svg>";
  return o.str();
}

}  // namespace

std::string render_html(const RunResult& r) {
  const OutcomeCounts c = count_outcomes(r);
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>moeprobe: "
    << xml_escape(r.suite_name)
    << "</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
       "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px "
       "8px;text-align:left}"
       ".muted{color:#6e7781}.badge{color:#fff;padding:1px "
       "6px;border-radius:4px;font-weight:600}</style>"
       "</head><body>\n";
  o << "<h1>moeprobe: " << xml_escape(r.suite_name) << "</h1>\n";
  if (!r.suite_description.empty()) o << "<p>" << xml_escape(r.suite_description) << "</p>\n";
  o << "<p>Model <code>" << xml_escape(r.model.path) << "</code> (" << xml_escape(r.model.family)
    << ", " << r.model.moe_layers.size() << " MoE layers, " << r.model.num_experts
    << " experts, top-" << r.model.top_k << "); backend " << xml_escape(r.environment.backend)
    << " on " << xml_escape(r.environment.device) << "; moeprobe "
    << xml_escape(r.environment.version) << " (" << xml_escape(r.environment.git_revision)
    << ").</p>\n";
  o << "<p><b>" << c.pass << " passed, " << c.fail << " failed, " << c.warn << " warned, "
    << c.inconclusive << " inconclusive, " << c.error << " errors, " << c.skipped
    << " skipped.</b></p>\n";
  o << "<table><tr><th>Outcome</th><th>Hypothesis</th><th>Metric</th><th>Value</th><th>Interval</"
       "th><th>Expect</th>"
       "<th>Paper</th></tr>\n";
  for (const auto& h : r.hypotheses) {
    std::string paper;
    for (const auto& [model, v] : h.reference)
      paper += (paper.empty() ? "" : ", ") + model + " " + format_number(v);
    o << "<tr><td><span class=\"badge\" style=\"background:" << outcome_colour(h.outcome) << "\">"
      << outcome_name(h.outcome) << "</span></td><td><a href=\"#" << xml_escape(h.id) << "\">"
      << xml_escape(h.id) << "</a></td><td>" << xml_escape(h.metric + " " + h.params.dump())
      << "<br><span class=\"muted\">" << xml_escape(h.aggregate.to_string()) << " over "
      << xml_escape(h.layers) << "</span></td><td>" << xml_escape(format_number(h.value))
      << "</td><td>[" << xml_escape(format_number(h.lo)) << ", " << xml_escape(format_number(h.hi))
      << "]</td><td>" << xml_escape(h.threshold.to_string()) << "</td><td>" << xml_escape(paper)
      << "</td></tr>\n";
  }
  o << "</table>\n";
  for (const auto& h : r.hypotheses) {
    o << "<h2 id=\"" << xml_escape(h.id) << "\">" << xml_escape(h.id)
      << " <span class=\"badge\" style=\"background:" << outcome_colour(h.outcome) << "\">"
      << outcome_name(h.outcome) << "</span></h2>\n";
    if (!h.finding.empty()) o << "<p>" << xml_escape(h.finding) << "</p>\n";
    if (!h.reason.empty()) o << "<p class=\"muted\">" << xml_escape(h.reason) << "</p>\n";
    o << svg_chart(h) << "\n";
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace moeprobe
