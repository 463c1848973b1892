// report.html: one self-contained page (no scripts, no external assets, no network) with the
// hypothesis table and, per hypothesis, the figures its results call for (reports/report_figures.h)
// as inline SVG: a trend over layers and, per layer, heat maps, scatter plots and PCA, behind a
// CSS-only layer selector that prints every layer. Light and dark themes follow
// prefers-color-scheme. A figure body that repeats (hypotheses sharing a metric's matrices) is
// drawn once and referenced with <use>.
#pragma once

#include <string>

#include "suite/result.h"

namespace moeprobe {

std::string render_html(const RunResult& r);

}  // namespace moeprobe
