#include "reports/html_report.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "reports/junit_report.h"
#include "reports/report_figures.h"

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

std::string badge(Outcome o) {
  return std::string("<span class=\"badge\" data-outcome=\"") + outcome_name(o) +
         "\" style=\"background:" + outcome_colour(o) + "\">" + outcome_name(o) + "</span>";
}

const char* kStyle =
    ":root{--fg:#1f2328;--bg:#fff;--muted:#656d76;--line:#d0d7de;--plot:#f6f8fa;--accent:#0969da;"
    "--mark:#d9480f;--ring:#a61e4d;--bad:#cf222e;color-scheme:light dark}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#8d96a0;"
    "--line:#30363d;--plot:#161b22;--accent:#4493f8;--mark:#ff8c42;--ring:#f783ac;--bad:#ff7b72}}"
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:var(--fg);"
    "background:var(--bg)}"
    "a{color:var(--accent)}table{border-collapse:collapse}.wide{overflow-x:auto}"
    "td,th{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}"
    ".muted{color:var(--muted)}.badge{color:#fff;padding:1px 6px;border-radius:4px;"
    "font-weight:600}"
    "section.hypothesis{border-top:1px solid var(--line);margin-top:2em}"
    ".figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
    "figure{margin:0;max-width:100%}figcaption{font-size:.85em;color:var(--muted);max-width:36em}"
    "figure svg{max-width:100%;height:auto;color:var(--fg);font-size:10px}"
    // Plain class and type selectors only: a figure drawn again through <use> gets its shapes
    // cloned into a shadow tree, where descendant selectors ("svg .frame") no longer match.
    "text{fill:currentColor}.axis{font-size:11px}"
    ".plot{fill:var(--plot);stroke:var(--line)}.grid{stroke:var(--line);stroke-width:.6}"
    ".frame{fill:none;stroke:var(--line)}"
    ".series{fill:none;stroke:var(--accent);stroke-width:1.5}.point{fill:var(--accent)}"
    ".band{fill:var(--accent);fill-opacity:.18}"
    ".threshold{stroke:var(--bad);stroke-width:1.2;stroke-dasharray:5 3}"
    ".threshold-label{fill:var(--bad)}"
    ".reference{stroke:var(--muted);stroke-width:1;stroke-dasharray:2 3}"
    ".reference-label{fill:var(--muted)}"
    ".dots{fill:none;stroke:var(--accent);stroke-width:4;stroke-linecap:round;"
    "stroke-opacity:.75}"
    ".marked{fill:none;stroke:var(--mark);stroke-width:8;stroke-linecap:round}"
    ".marked-label{fill:var(--mark);font-weight:600}"
    ".ring{fill:none;stroke:var(--ring);stroke-width:1.8}"
    ".fit{stroke:var(--mark);stroke-width:1.5}.fit-label{fill:var(--mark)}"
    ".bar{fill:var(--accent)}.bars{fill:none;stroke:var(--accent)}"
    // The layer selector: radio buttons and CSS only (no script); printing shows every layer.
    ".layers>input{position:absolute;opacity:0;pointer-events:none}"
    ".layers>label{display:inline-block;border:1px solid var(--line);border-radius:4px;"
    "padding:0 6px;margin:0 2px 4px 0;cursor:pointer;font-size:.85em}"
    ".layers>input:checked+label{background:var(--accent);color:#fff;border-color:var(--accent)}"
    ".layers>input:focus-visible+label{outline:2px solid var(--accent)}"
    ".panel{display:none}.layers>input.all:checked~.panels>.panel{display:block}"
    "@media print{body{margin:0;max-width:none}.layers>input,.layers>label{display:none}"
    ".panel{display:block!important;break-inside:avoid}section.hypothesis{break-before:auto}"
    "figure{break-inside:avoid}}";

// Draws each distinct figure body once; a repeat is a <use> of the first.
class FigureWriter {
 public:
  std::string write(const Figure& f, int layer) {
    std::ostringstream o;
    o << "<figure class=\"fig\" data-figure=\"" << xml_escape(f.key) << "\"";
    if (layer >= 0) o << " data-layer=\"" << layer << "\"";
    o << "><svg width=\"" << f.svg.width << "\" height=\"" << f.svg.height << "\" viewBox=\"0 0 "
      << f.svg.width << " " << f.svg.height << "\" role=\"img\" aria-label=\""
      << xml_escape(f.caption) << "\">";
    const auto [it, first] = ids_.emplace(f.svg.body, "g" + std::to_string(ids_.size()));
    if (first)
      o << "<g id=\"" << it->second << "\">" << f.svg.body << "</g>";
    else
      o << "<use href=\"#" << it->second << "\"/>";
    o << "</svg><figcaption>" << xml_escape(f.caption) << "</figcaption></figure>";
    return o.str();
  }

 private:
  std::map<std::string, std::string> ids_;
};

std::string probe_text(const nlohmann::json& p) {
  if (!p.is_object()) return "";
  const auto name = p.find("name");
  std::string s =
      "Probe: " + (name != p.end() && name->is_string() ? name->get<std::string>() : "?");
  if (p.contains("tokens") && p["tokens"].is_number_integer())
    s += " (" + std::to_string(p["tokens"].get<long long>()) + " tokens)";
  return s + ".";
}

}  // namespace

std::string render_html(const RunResult& r) {
  const OutcomeCounts c = count_outcomes(r);
  std::vector<HypothesisFigures> figures;
  std::size_t max_panels = 0;
  for (const auto& h : r.hypotheses) {
    figures.push_back(hypothesis_figures(h));
    max_panels = std::max(max_panels, figures.back().layers.size());
  }
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>moeprobe: "
    << xml_escape(r.suite_name) << "</title><style>" << kStyle;
  for (std::size_t k = 1; k <= max_panels; ++k)
    o << ".layers>input:nth-of-type(" << k << "):checked~.panels>.panel:nth-child(" << k
      << "){display:block}";
  o << "</style></head><body>\n";
  // The legends' gradients, once for the page; a zero-size SVG (not display:none, which would
  // switch the gradients off in Chromium).
  o << "<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\" "
       "style=\"position:absolute\"><defs>"
    << colour_scale_defs() << "</defs></svg>\n";
  o << "<h1>moeprobe: " << xml_escape(r.suite_name) << "</h1>\n";
  if (!r.suite_description.empty()) o << "<p>" << xml_escape(r.suite_description) << "</p>\n";
  o << "<p>Model <code id=\"model-path\">" << xml_escape(r.model.path) << "</code> ("
    << xml_escape(r.model.family) << ", " << r.model.moe_layers.size() << " MoE layers, "
    << r.model.num_experts << " experts, top-" << r.model.top_k << "); backend "
    << xml_escape(r.environment.backend) << " on " << xml_escape(r.environment.device)
    << "; moeprobe " << xml_escape(r.environment.version) << " ("
    << xml_escape(r.environment.git_revision) << "). " << xml_escape(probe_text(r.probe))
    << "</p>\n";
  o << "<p id=\"counts\"><b>" << c.pass << " passed, " << c.fail << " failed, " << c.warn
    << " warned, " << c.inconclusive << " inconclusive, " << c.error << " errors, " << c.skipped
    << " skipped.</b></p>\n";
  o << "<div class=\"wide\"><table "
       "id=\"summary\"><tr><th>Outcome</th><th>Hypothesis</th><th>Metric</th><th>Value</"
       "th><th>Interval</th><th>Expect</th><th>Paper</th></tr>\n";
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i) {
    const auto& h = r.hypotheses[i];
    std::string paper;
    for (const auto& [model, v] : h.reference)
      paper += (paper.empty() ? "" : ", ") + model + " " + format_number(v);
    o << "<tr data-hypothesis=\"" << xml_escape(h.id) << "\"><td>" << badge(h.outcome)
      << "</td><td><a href=\"#h" << i << "\">" << xml_escape(h.id) << "</a></td><td>"
      << xml_escape(h.metric + " " + h.params.dump()) << "<br><span class=\"muted\">"
      << xml_escape(h.aggregate.to_string()) << " over " << xml_escape(h.layers)
      << "</span></td><td>" << xml_escape(format_number(h.value)) << "</td><td>["
      << xml_escape(format_number(h.lo)) << ", " << xml_escape(format_number(h.hi)) << "]</td><td>"
      << xml_escape(h.threshold.to_string()) << "</td><td>" << xml_escape(paper) << "</td></tr>\n";
  }
  o << "</table></div>\n";
  FigureWriter writer;
  for (std::size_t i = 0; i < r.hypotheses.size(); ++i) {
    const auto& h = r.hypotheses[i];
    const HypothesisFigures& f = figures[i];
    o << "<section class=\"hypothesis\" id=\"h" << i << "\" data-hypothesis=\"" << xml_escape(h.id)
      << "\" data-outcome=\"" << outcome_name(h.outcome) << "\">\n<h2>" << xml_escape(h.id) << " "
      << badge(h.outcome) << "</h2>\n";
    if (!h.finding.empty()) o << "<p>" << xml_escape(h.finding) << "</p>\n";
    if (!h.reason.empty()) o << "<p class=\"muted\">" << xml_escape(h.reason) << "</p>\n";
    if (f.overall.empty() && f.layers.empty()) o << "<p class=\"muted\">no per-layer values</p>\n";
    o << "<div class=\"figs\">";
    for (const Figure& fig : f.overall) o << writer.write(fig, -1);
    o << "</div>\n";
    if (!f.layers.empty()) {
      const std::string name = "layer-h" + std::to_string(i);
      o << "<div class=\"layers\"><span class=\"muted\">Layer: </span>";
      for (std::size_t k = 0; k < f.layers.size(); ++k)
        o << "<input type=\"radio\" name=\"" << name << "\" id=\"" << name << "-" << k << "\""
          << (k == 0 ? " checked" : "") << "><label for=\"" << name << "-" << k << "\">"
          << f.layers[k].layer << "</label>";
      o << "<input type=\"radio\" class=\"all\" name=\"" << name << "\" id=\"" << name
        << "-all\"><label for=\"" << name << "-all\">all</label>\n<div class=\"panels\">";
      for (const LayerFigures& lf : f.layers) {
        o << "<div class=\"panel\" data-layer=\"" << lf.layer << "\"><h3>Layer " << lf.layer
          << "</h3><div class=\"figs\">";
        for (const Figure& fig : lf.figures) o << writer.write(fig, lf.layer);
        o << "</div></div>\n";
      }
      o << "</div></div>\n";
    }
    o << "</section>\n";
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace moeprobe
