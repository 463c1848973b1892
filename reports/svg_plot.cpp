#include "reports/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

#include "reports/junit_report.h"
#include "reports/png_image.h"

namespace moeprobe {

namespace {

using Rgb = std::array<std::uint8_t, 3>;

Rgb mix(const Rgb& a, const Rgb& b, double t) {
  Rgb out;
  for (int k = 0; k < 3; ++k)
    out[k] = static_cast<std::uint8_t>(std::lround(a[k] + (b[k] - a[k]) * t));
  return out;
}

Rgb ramp(const std::vector<Rgb>& stops, double t) {
  t = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
  const std::size_t k = std::min(static_cast<std::size_t>(t), stops.size() - 2);
  return mix(stops[k], stops[k + 1], t - k);
}

// Coordinates in the SVG text: one decimal is finer than a pixel. Written by hand: snprintf's
// float formatting dominated the time of a 256-expert report.
std::string px(double v) {
  if (!std::isfinite(v)) return "0";
  long long tenths = std::llround(v * 10);
  std::string s;
  if (tenths < 0) {
    s += '-';
    tenths = -tenths;
  }
  s += std::to_string(tenths / 10);
  if (tenths % 10) {
    s += '.';
    s += static_cast<char>('0' + tenths % 10);
  }
  return s == "-0" ? "0" : s;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start",
                 const char* extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + xml_escape(s) + "</text>";
}

// Ticks at 1, 2 or 5 times a power of ten, about `count` of them across [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 5) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

// A plot area inside a figure: data to pixels, frame, ticks and axis titles.
struct Axes {
  double left, top, width, height;  // the plot area in pixels
  double x0, x1, y0, y1;            // data range
  double X(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double Y(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }

  static void widen(double& lo, double& hi) {
    if (!(hi > lo)) {
      const double d = std::max(std::fabs(lo) * 0.1, 0.5);
      lo -= d;
      hi += d;
    } else {
      const double d = (hi - lo) * 0.05;
      lo -= d;
      hi += d;
    }
  }

  std::string frame(const std::string& x_label, const std::string& y_label,
                    bool integer_x = false) const {
    std::ostringstream o;
    o << "<rect class=\"plot\" x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\""
      << px(width) << "\" height=\"" << px(height) << "\"/>";
    auto xt = nice_ticks(x0, x1, 6);
    if (integer_x) {
      std::vector<double> ints;
      for (double t : xt)
        if (std::fabs(t - std::round(t)) < 1e-9) ints.push_back(t);
      xt = ints;
    }
    for (double t : xt) {
      o << "<line class=\"grid\" x1=\"" << px(X(t)) << "\" x2=\"" << px(X(t)) << "\" y1=\""
        << px(top) << "\" y2=\"" << px(top + height) << "\"/>";
      o << text(X(t), top + height + 13, short_number(t), "middle");
    }
    for (double t : nice_ticks(y0, y1, 5)) {
      o << "<line class=\"grid\" x1=\"" << px(left) << "\" x2=\"" << px(left + width) << "\" y1=\""
        << px(Y(t)) << "\" y2=\"" << px(Y(t)) << "\"/>";
      o << text(left - 4, Y(t) + 4, short_number(t), "end");
    }
    o << text(left + width / 2, top + height + 28, x_label, "middle", " class=\"axis\"");
    o << "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(" << px(12) << " "
      << px(top + height / 2) << ") rotate(-90)\">" << xml_escape(y_label) << "</text>";
    return o.str();
  }
};

// The stops of the two ramps, low to high; ColourScale::rgb interpolates between them linearly in
// sRGB, as an SVG gradient does by default.
const std::vector<Rgb>& ramp_stops(bool diverging) {
  static const std::vector<Rgb> div{
      {33, 102, 172}, {146, 197, 222}, {247, 247, 247}, {244, 165, 130}, {178, 24, 43}};
  static const std::vector<Rgb> seq{
      {255, 255, 217}, {161, 218, 180}, {65, 182, 196}, {34, 94, 168}, {8, 29, 88}};
  return diverging ? div : seq;
}

const char* gradient_id(bool diverging) {
  return diverging ? "moeprobe-diverging" : "moeprobe-sequential";
}

// A vertical colour bar with three labelled values, at (x, y) with height h. The bar is one
// rectangle filled with the page's gradient (colour_scale_defs): a stepped bar of 24 rectangles
// in every heat map was a fifth of a 256-expert report.
std::string colour_legend(const ColourScale& s, double x, double y, double h,
                          const std::string& label) {
  std::ostringstream o;
  o << "<rect class=\"legend\" x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"10\" height=\""
    << px(h) << "\" fill=\"url(#" << gradient_id(s.diverging) << ")\"/>";
  for (double v : {s.hi, (s.lo + s.hi) / 2, s.lo})
    o << text(x + 14, y + (s.hi - v) / (s.hi - s.lo) * h + 4, short_number(v));
  o << "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(" << px(x + 50) << " "
    << px(y + h / 2) << ") rotate(90)\">" << xml_escape(label) << "</text>";
  return o.str();
}

// A path of round dots ("M x y h0" each, zero-length segments drawn by the round line cap) in
// whole pixels (a 4-pixel dot hides the rounding), one dot per pixel, visited band by band in
// alternating directions so that each relative move is short: about 7 bytes a dot, not 14.
class DotPath {
 public:
  void add(double x, double y) { dots_.push_back({std::llround(x), std::llround(y)}); }
  bool empty() const { return dots_.empty(); }
  std::string d() const {
    auto dots = dots_;
    const auto key = [](const std::pair<long long, long long>& p) {
      const long long band = p.second / 8;
      return std::make_tuple(band, band % 2 ? -p.first : p.first, p.second);
    };
    std::sort(dots.begin(), dots.end(),
              [&](const auto& p, const auto& q) { return key(p) < key(q); });
    dots.erase(std::unique(dots.begin(), dots.end()), dots.end());
    std::string out;
    long long x = 0, y = 0;
    for (const auto& [ix, iy] : dots) {
      if (out.empty()) {
        out += "M" + std::to_string(ix) + " " + std::to_string(iy);
      } else {
        const long long dy = iy - y;
        out += "m" + std::to_string(ix - x) + (dy < 0 ? "" : " ") + std::to_string(dy);
      }
      out += "h0";
      x = ix;
      y = iy;
    }
    return out;
  }

 private:
  std::vector<std::pair<long long, long long>> dots_;
};

// Every `step`-th label, about 8 of them: 384 experts get 8 ticks, not 384 labels.
int label_step(std::size_t n, std::size_t max_labels) {
  return n <= max_labels ? 1 : static_cast<int>((n + max_labels - 1) / max_labels);
}

}  // namespace

std::string short_number(double v, int significant) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", significant, v);
  std::string s = buf;
  return s == "-0" ? "0" : s;
}

Rgb ColourScale::rgb(double v) const {
  const double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  return ramp(ramp_stops(diverging), t);
}

std::string ColourScale::css(double v) const {
  const Rgb c = rgb(v);
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

ColourScale similarity_scale() {
  return {-1, 1, true};
}
ColourScale count_scale(double max_value) {
  return {0, max_value > 0 && std::isfinite(max_value) ? max_value : 1, false};
}

std::string colour_scale_defs() {
  std::ostringstream o;
  for (bool diverging : {true, false}) {
    // Top to bottom: high to low, as the legend's labels.
    o << "<linearGradient id=\"" << gradient_id(diverging)
      << "\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">";
    const auto& stops = ramp_stops(diverging);
    for (std::size_t k = 0; k < stops.size(); ++k) {
      const Rgb& c = stops[stops.size() - 1 - k];
      char colour[8];
      std::snprintf(colour, sizeof colour, "#%02x%02x%02x", c[0], c[1], c[2]);
      o << "<stop offset=\"" << short_number(static_cast<double>(k) / (stops.size() - 1))
        << "\" stop-color=\"" << colour << "\"/>";
    }
    o << "</linearGradient>";
  }
  return o.str();
}

SvgFigure heat_map_svg(const HeatMap& m) {
  const std::size_t rows = m.values.size();
  const std::size_t cols = rows ? m.values[0].size() : 0;
  const auto& col_labels = m.column_labels.empty() ? m.labels : m.column_labels;
  const double side = 260, left = 64, top = 8;
  const double cw = cols ? side / cols : side, ch = rows ? side / rows : side;
  std::ostringstream o;
  const std::size_t n = std::max(rows, cols);
  if (n <= 48) {
    const bool tips = n <= 24;
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < m.values[i].size() && j < cols; ++j) {
        const double v = m.values[i][j];
        if (!std::isfinite(v)) continue;
        o << "<rect x=\"" << px(left + j * cw) << "\" y=\"" << px(top + i * ch) << "\" width=\""
          << px(cw + 0.3) << "\" height=\"" << px(ch + 0.3) << "\" fill=\"" << m.scale.css(v)
          << "\"";
        if (tips) {
          o << "><title>"
            << xml_escape((i < m.labels.size() ? m.labels[i] : std::to_string(i)) + " × " +
                          (j < col_labels.size() ? col_labels[j] : std::to_string(j)) + ": " +
                          short_number(v, 4))
            << "</title></rect>";
        } else {
          o << "/>";
        }
      }
  } else {
    // Square blocks of `bin` entities, averaged over their finite cells.
    const std::size_t bin = (n + 63) / 64;
    const int w = static_cast<int>((cols + bin - 1) / bin),
              h = static_cast<int>((rows + bin - 1) / bin);
    // 255 levels over the scale; the palette holds only the levels present (and a transparent
    // entry only when a block has no finite cell), in ascending order: a palette of all 256
    // entries was a quarter of each image.
    const int levels = 255, blank = levels;
    std::vector<int> level(static_cast<std::size_t>(w) * h, blank);
    for (int bi = 0; bi < h; ++bi)
      for (int bj = 0; bj < w; ++bj) {
        double sum = 0;
        int count = 0;
        for (std::size_t i = bi * bin; i < std::min(rows, (bi + 1) * bin); ++i)
          for (std::size_t j = bj * bin; j < std::min(cols, (bj + 1) * bin); ++j)
            if (j < m.values[i].size() && std::isfinite(m.values[i][j])) {
              sum += m.values[i][j];
              ++count;
            }
        if (!count) continue;
        const double t =
            std::clamp((sum / count - m.scale.lo) / (m.scale.hi - m.scale.lo), 0.0, 1.0);
        level[static_cast<std::size_t>(bi) * w + bj] =
            static_cast<int>(std::lround(t * (levels - 1)));
      }
    std::vector<int> index(levels + 1, -1);
    for (int l : level) index[l] = 0;
    PaletteImage im;
    im.width = w;
    im.height = h;
    for (int l = 0; l < levels; ++l)
      if (index[l] == 0) {
        index[l] = static_cast<int>(im.colours.size());
        im.colours.push_back(
            m.scale.rgb(m.scale.lo + (m.scale.hi - m.scale.lo) * l / (levels - 1)));
      }
    if (index[blank] == 0) {
      index[blank] = im.transparent = static_cast<int>(im.colours.size());
      im.colours.push_back({0, 0, 0});
    }
    im.pixels.reserve(level.size());
    for (int l : level) im.pixels.push_back(static_cast<std::uint8_t>(index[l]));
    o << "<image x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\"" << px(side)
      << "\" height=\"" << px(side) << "\" preserveAspectRatio=\"none\" "
      << "style=\"image-rendering:pixelated\" href=\"" << png_data_uri(im) << "\"/>";
    if (bin > 1)
      o << text(left, top + side + 42,
                "each cell: the mean of a " + std::to_string(bin) + " × " + std::to_string(bin) +
                    " block of entities");
  }
  o << "<rect class=\"frame\" x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\"" << px(side)
    << "\" height=\"" << px(side) << "\"/>";
  const int rstep = label_step(rows, n <= 24 ? 24 : 8), cstep = label_step(cols, n <= 24 ? 24 : 8);
  const bool small = n > 16 && n <= 24;
  const char* size = small ? " font-size=\"8\"" : "";
  for (std::size_t i = 0; i < rows; i += rstep)
    o << text(left - 3, top + (i + 0.5) * ch + 3.5,
              i < m.labels.size() ? m.labels[i] : std::to_string(i), "end", size);
  for (std::size_t j = 0; j < cols; j += cstep)
    o << text(left + (j + 0.5) * cw, top + side + 12,
              j < col_labels.size() ? col_labels[j] : std::to_string(j), "middle", size);
  o << text(left + side / 2, top + side + 28, m.x_label, "middle", " class=\"axis\"");
  o << "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(12 " << px(top + side / 2)
    << ") rotate(-90)\">" << xml_escape(m.y_label) << "</text>";
  o << colour_legend(m.scale, left + side + 12, top, side, m.value_label);
  return {static_cast<int>(left + side + 78), static_cast<int>(top + side + 48), o.str()};
}

std::optional<LinearFit> fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0;
  std::size_t n = 0;
  for (std::size_t k = 0; k < x.size() && k < y.size(); ++k)
    if (std::isfinite(x[k]) && std::isfinite(y[k])) {
      sx += x[k];
      sy += y[k];
      ++n;
    }
  if (n < 3) return std::nullopt;
  const double mx = sx / n, my = sy / n;
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t k = 0; k < x.size() && k < y.size(); ++k)
    if (std::isfinite(x[k]) && std::isfinite(y[k])) {
      sxx += (x[k] - mx) * (x[k] - mx);
      syy += (y[k] - my) * (y[k] - my);
      sxy += (x[k] - mx) * (y[k] - my);
    }
  if (!(sxx > 0)) return std::nullopt;
  LinearFit f;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  f.r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 0;
  f.n = n;
  return f;
}

SvgFigure scatter_svg(const Scatter& s) {
  Axes a{58, 8, 300, 220, 0, 0, 0, 0};
  bool any = false;
  for (std::size_t k = 0; k < s.x.size() && k < s.y.size(); ++k)
    if (std::isfinite(s.x[k]) && std::isfinite(s.y[k])) {
      if (!any) {
        a.x0 = a.x1 = s.x[k];
        a.y0 = a.y1 = s.y[k];
        any = true;
      }
      a.x0 = std::min(a.x0, s.x[k]);
      a.x1 = std::max(a.x1, s.x[k]);
      a.y0 = std::min(a.y0, s.y[k]);
      a.y1 = std::max(a.y1, s.y[k]);
    }
  Axes::widen(a.x0, a.x1);
  Axes::widen(a.y0, a.y1);
  std::ostringstream o;
  o << a.frame(s.x_label, s.y_label);
  const std::size_t n = std::min(s.x.size(), s.y.size());
  const std::size_t stride = n > 600 ? (n + 599) / 600 : 1;
  auto is_marked = [&](std::size_t k) { return k < s.marked.size() && s.marked[k]; };
  auto is_ringed = [&](std::size_t k) { return k < s.ringed.size() && s.ringed[k]; };
  DotPath dots, marked;
  std::size_t drawn = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
    const bool mark = is_marked(k);
    if (!mark && k % stride != 0) continue;
    (mark ? marked : dots).add(a.X(s.x[k]), a.Y(s.y[k]));
    if (!mark) ++drawn;
  }
  o << "<path class=\"dots\" d=\"" << dots.d() << "\"/>";
  if (!marked.empty()) o << "<path class=\"marked\" d=\"" << marked.d() << "\"/>";
  bool any_ringed = false;
  for (std::size_t k = 0; k < n; ++k)
    if (is_ringed(k) && std::isfinite(s.x[k]) && std::isfinite(s.y[k])) {
      o << "<circle class=\"ring\" cx=\"" << px(a.X(s.x[k])) << "\" cy=\"" << px(a.Y(s.y[k]))
        << "\" r=\"7\"/>";
      any_ringed = true;
    }
  const bool label_all = n <= 32;
  for (std::size_t k = 0; k < n && k < s.point_labels.size(); ++k)
    if ((label_all || is_marked(k) || is_ringed(k)) && std::isfinite(s.x[k]) &&
        std::isfinite(s.y[k]))
      o << text(a.X(s.x[k]) + 7, a.Y(s.y[k]) - 6, s.point_labels[k], "start",
                is_marked(k) || is_ringed(k) ? " class=\"marked-label\"" : " font-size=\"9\"");
  double legend_y = a.top + a.height + 44;
  if (s.fit_line) {
    if (const auto f = fit_line(s.x, s.y)) {
      // The line inside the plot area: x where it enters and leaves the y range.
      double xa = a.x0, xb = a.x1;
      if (f->slope != 0) {
        double xlo = (a.y0 - f->intercept) / f->slope, xhi = (a.y1 - f->intercept) / f->slope;
        if (xlo > xhi) std::swap(xlo, xhi);
        xa = std::max(xa, xlo);
        xb = std::min(xb, xhi);
      }
      if (xa < xb)
        o << "<line class=\"fit\" x1=\"" << px(a.X(xa)) << "\" y1=\""
          << px(a.Y(f->intercept + f->slope * xa)) << "\" x2=\"" << px(a.X(xb)) << "\" y2=\""
          << px(a.Y(f->intercept + f->slope * xb)) << "\"/>";
      o << text(a.left, legend_y,
                "fit: y = " + short_number(f->intercept) + " + " + short_number(f->slope) +
                    "·x, R² = " + short_number(f->r2) + " (" + std::to_string(f->n) + " points)",
                "start", " class=\"fit-label\"");
      legend_y += 14;
    }
  }
  if (!marked.empty() && !s.marked_label.empty()) {
    o << "<path class=\"marked\" d=\"M" << px(a.left + 3) << " " << px(legend_y - 4) << "h0\"/>"
      << text(a.left + 10, legend_y, s.marked_label);
    legend_y += 14;
  }
  if (any_ringed && !s.ringed_label.empty()) {
    o << "<circle class=\"ring\" cx=\"" << px(a.left + 3) << "\" cy=\"" << px(legend_y - 4)
      << "\" r=\"5\"/>" << text(a.left + 12, legend_y, s.ringed_label);
    legend_y += 14;
  }
  if (stride > 1) {
    o << text(a.left, legend_y,
              "showing " + std::to_string(drawn) + " of " + std::to_string(n) + " points (every " +
                  std::to_string(stride) + "th)");
    legend_y += 14;
  }
  return {static_cast<int>(a.left + a.width + 16), static_cast<int>(legend_y), o.str()};
}

SvgFigure trend_svg(const TrendChart& c) {
  Axes a{58, 8, 420, 180, 0, 0, 0, 0};
  bool any = false;
  auto extend = [&](double x, double y) {
    if (!any) {
      a.x0 = a.x1 = x;
      a.y0 = a.y1 = y;
      any = true;
    }
    a.x0 = std::min(a.x0, x);
    a.x1 = std::max(a.x1, x);
    a.y0 = std::min(a.y0, y);
    a.y1 = std::max(a.y1, y);
  };
  for (const auto& [x, y] : c.points)
    if (std::isfinite(y)) extend(x, y);
  if (!any && !c.points.empty()) extend(c.points.front().first, 0);
  for (const auto& l : c.lines)
    if (std::isfinite(l.value)) extend(a.x0, l.value);
  if (c.band && std::isfinite(c.band->first) && std::isfinite(c.band->second)) {
    extend(a.x0, c.band->first);
    extend(a.x0, c.band->second);
  }
  if (!(a.x1 > a.x0)) {
    a.x0 -= 0.5;
    a.x1 += 0.5;
  } else {
    a.x0 -= 0.3;
    a.x1 += 0.3;
  }
  Axes::widen(a.y0, a.y1);
  std::ostringstream o;
  o << a.frame(c.x_label, c.y_label, true);
  if (c.band && std::isfinite(c.band->first) && std::isfinite(c.band->second))
    o << "<rect class=\"band\" x=\"" << px(a.left) << "\" y=\"" << px(a.Y(c.band->second))
      << "\" width=\"" << px(a.width) << "\" height=\""
      << px(std::max(1.0, a.Y(c.band->first) - a.Y(c.band->second))) << "\"><title>"
      << xml_escape(c.band_label) << "</title></rect>";
  // Labels sit right of the plot, nudged apart when values are close.
  std::vector<std::pair<double, const TrendLine*>> placed;
  for (const auto& l : c.lines)
    if (std::isfinite(l.value)) placed.push_back({a.Y(l.value), &l});
  std::sort(placed.begin(), placed.end(),
            [](const auto& p, const auto& q) { return p.first < q.first; });
  double last = -1e9;
  for (auto& [y, l] : placed) {
    o << "<line class=\"" << (l->threshold ? "threshold" : "reference") << "\" x1=\"" << px(a.left)
      << "\" x2=\"" << px(a.left + a.width) << "\" y1=\"" << px(y) << "\" y2=\"" << px(y) << "\"/>";
    const double ty = std::max(y + 4, last + 12);
    last = ty;
    o << text(a.left + a.width + 6, ty, l->label, "start",
              l->threshold ? " class=\"threshold-label\"" : " class=\"reference-label\"");
  }
  std::string line;
  bool pen = false;
  for (const auto& [x, y] : c.points) {
    if (!std::isfinite(y)) {
      pen = false;
      continue;
    }
    line += (pen ? "L" : "M") + px(a.X(x)) + " " + px(a.Y(y));
    pen = true;
  }
  o << "<path class=\"series\" d=\"" << line << "\"/>";
  for (const auto& [x, y] : c.points)
    if (std::isfinite(y))
      o << "<circle class=\"point\" cx=\"" << px(a.X(x)) << "\" cy=\"" << px(a.Y(y))
        << "\" r=\"2.5\"><title>layer " << short_number(x, 6) << ": " << short_number(y, 4)
        << "</title></circle>";
  double legend_y = a.top + a.height + 44;
  if (c.band && !c.band_label.empty()) {
    o << "<rect class=\"band\" x=\"" << px(a.left) << "\" y=\"" << px(legend_y - 9)
      << "\" width=\"14\" height=\"10\"/>" << text(a.left + 18, legend_y, c.band_label);
    legend_y += 14;
  }
  return {static_cast<int>(a.left + a.width + 190), static_cast<int>(legend_y), o.str()};
}

SvgFigure bar_chart_svg(const BarChart& b) {
  Axes a{58, 8, 300, 160, -0.5, b.values.size() - 0.5, 0, 0};
  for (double v : b.values)
    if (std::isfinite(v)) a.y1 = std::max(a.y1, v);
  if (!(a.y1 > 0)) a.y1 = 1;
  a.y1 *= 1.05;
  std::ostringstream o;
  o << a.frame(b.x_label, b.y_label, true);
  const double w = a.width / std::max<std::size_t>(1, b.values.size());
  if (b.values.size() <= 64) {
    // One rectangle per bar, with its value as a tooltip.
    for (std::size_t k = 0; k < b.values.size(); ++k) {
      if (!std::isfinite(b.values[k])) continue;
      o << "<rect class=\"bar\" x=\"" << px(a.X(k) - w * 0.4) << "\" y=\"" << px(a.Y(b.values[k]))
        << "\" width=\"" << px(std::max(0.8, w * 0.8)) << "\" height=\""
        << px(a.Y(0) - a.Y(b.values[k])) << "\"><title>"
        << xml_escape((k < b.labels.size() ? b.labels[k] : std::to_string(k)) + ": " +
                      short_number(b.values[k], 4))
        << "</title></rect>";
    }
  } else {
    // Hundreds of bars: one path of vertical strokes as wide as a bar (a rectangle each was most
    // of a 256-expert report's DOM).
    std::string d;
    for (std::size_t k = 0; k < b.values.size(); ++k)
      if (std::isfinite(b.values[k]) && b.values[k] > 0)
        d += "M" + px(a.X(k)) + " " + px(a.Y(0)) + "V" + px(a.Y(b.values[k]));
    o << "<path class=\"bars\" stroke-width=\"" << px(std::max(0.8, w * 0.8)) << "\" d=\"" << d
      << "\"/>";
  }
  return {static_cast<int>(a.left + a.width + 16), static_cast<int>(a.top + a.height + 36),
          o.str()};
}

}  // namespace moeprobe
