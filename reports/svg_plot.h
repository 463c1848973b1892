// The drawing primitives of report.html's figures: heat maps, scatter plots (with a fitted line),
// per-layer trend charts and bar charts, each an SVG body in its own coordinate box. Text is drawn
// in currentColor and the frame in CSS classes, so the page's light/dark/print styles apply.
// Every string that reaches the SVG is escaped here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moeprobe {

// One drawn figure: its size in CSS pixels and the SVG markup inside <svg> (no <svg> element:
// report.html wraps it, and draws a repeated body once).
struct SvgFigure {
  int width = 0, height = 0;
  std::string body;
};

struct ColourScale {
  double lo = -1, hi = 1;
  bool diverging = true;  // blue - white - red around the middle; otherwise a sequential ramp
  std::array<std::uint8_t, 3> rgb(double v) const;
  std::string css(double v) const;  // "#rrggbb"
};
ColourScale similarity_scale();             // cosine / correlation: [-1, 1], diverging
ColourScale count_scale(double max_value);  // [0, max], sequential
// The <linearGradient> definitions the heat maps' colour legends fill with (ids
// "moeprobe-diverging" and "moeprobe-sequential"): a page that shows heat maps holds them once.
std::string colour_scale_defs();

struct HeatMap {
  std::vector<std::string> labels;          // one per row (and column when square)
  std::vector<std::string> column_labels;   // empty: the same as labels
  std::vector<std::vector<double>> values;  // rows x columns; NaN cells are left blank
  ColourScale scale;
  std::string x_label, y_label, value_label;
};
// Up to 48 rows/columns one rectangle per cell (with a tooltip up to 24); beyond, the matrix is
// averaged over square blocks to at most 64 x 64 cells and drawn as one inline PNG (a palette of
// the levels present), with ticks every few entities instead of one label per entity.
SvgFigure heat_map_svg(const HeatMap& m);

struct Scatter {
  std::vector<double> x, y;
  std::vector<std::string> point_labels;  // empty or one per point (drawn when few, or marked)
  std::vector<bool> marked;               // empty or one per point: drawn and labelled apart
  std::string marked_label;               // the legend entry of the marked points
  std::vector<bool> ringed;               // empty or one per point: circled and labelled
  std::string ringed_label;               // the legend entry of the circled points
  bool fit_line = true;                   // least-squares line and R² over the finite points
  std::string x_label, y_label;
};
// At most 600 points are drawn (an even stride over the rest, said in the figure), in whole
// pixels; the fit uses all of them.
SvgFigure scatter_svg(const Scatter& s);

struct LinearFit {
  double intercept = 0, slope = 0, r2 = 0;
  std::size_t n = 0;
};
std::optional<LinearFit> fit_line(const std::vector<double>& x, const std::vector<double>& y);

struct TrendLine {
  double value = 0;
  std::string label;
  bool threshold = false;  // the hypothesis threshold (else a paper reference value)
};
struct TrendChart {
  std::vector<std::pair<double, double>> points;  // (layer, value); non-finite values are gaps
  std::vector<TrendLine> lines;
  std::optional<std::pair<double, double>> band;  // the aggregate's confidence interval
  std::string band_label;
  std::string x_label, y_label;
};
SvgFigure trend_svg(const TrendChart& c);

struct BarChart {
  std::vector<std::string> labels;
  std::vector<double> values;
  std::string x_label, y_label;
};
SvgFigure bar_chart_svg(const BarChart& b);

// Short decimal text for labels and coordinates.
std::string short_number(double v, int significant = 3);

}  // namespace moeprobe
