#include "suite/aggregate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "metrics/rank_statistics.h"
#include "suite/statistics.h"

namespace moeprobe {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string band_bound(double v, bool fraction) {
  if (fraction) {
    std::string s = format_number(v);
    if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
    return s;
  }
  return std::to_string(static_cast<long>(v));
}

// How many of the model's n MoE layers a band holds (those before the last only, when
// before_last).
int band_size(const Band& band, int n, bool before_last = false) {
  int k = 0;
  for (int p = 0; p < (before_last ? n - 1 : n); ++p) k += band.contains(p, n) ? 1 : 0;
  return k;
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
}  // namespace

bool Band::contains(int p, int n) const {
  switch (kind) {
    case Kind::LastThird: {
      // The last third of the n-1 layers before the last one.
      const int before = n - 1;
      if (before <= 0) return false;
      const int first = before - std::max(1, (before + 2) / 3);
      return p >= first && p < before;
    }
    case Kind::Positions: {
      long a = static_cast<long>(from), b = static_cast<long>(to);
      if (a < 0) a += n;
      if (b < 0) b += n;
      return p >= a && p <= b;
    }
    case Kind::Fractions: {
      // Fractions describe depth bands before the last layer, which the paper treats as an
      // outlier of its own (Mixtral [22, 30] of 0..31 is [0.69, 0.94]); capping at n - 2 keeps a
      // short model's last layer out of the band.
      const long a = std::lround(from * n);
      const long b = std::min<long>(std::lround(to * n), std::max(n - 2, 0));
      return p >= a && p <= b;
    }
  }
  return false;
}

std::string Band::to_string() const {
  if (kind == Kind::LastThird) return "last_third";
  const bool f = kind == Kind::Fractions;
  return "[" + band_bound(from, f) + ", " + band_bound(to, f) + "]";
}

nlohmann::json Band::to_json() const {
  if (kind == Kind::LastThird) return "last_third";
  if (kind == Kind::Fractions) return {from, to};
  return {static_cast<long>(from), static_cast<long>(to)};
}

std::string Aggregate::name() const {
  switch (kind) {
    case Kind::Mean:
      return "mean";
    case Kind::Median:
      return "median";
    case Kind::Min:
      return "min";
    case Kind::Max:
      return "max";
    case Kind::Fraction:
      return "fraction";
    case Kind::SpearmanVsDepth:
      return "spearman_vs_depth";
    case Kind::BandRatio:
      return "band_ratio";
    case Kind::LastMinusBand:
      return "last_minus_band";
    case Kind::BandMean:
      return "band_mean";
  }
  return "?";
}

std::string Aggregate::to_string() const {
  switch (kind) {
    case Kind::Fraction:
      return "fraction " + predicate.to_string();
    case Kind::BandRatio:
      return "band_ratio " + band.to_string() + " / " + (base_before ? "before" : "rest");
    case Kind::LastMinusBand:
      return name() + " " + band.to_string() + (band_median ? " median" : "");
    case Kind::BandMean:
      return name() + " " + band.to_string();
    default:
      return name();
  }
}

nlohmann::json Aggregate::to_json() const {
  switch (kind) {
    case Kind::Fraction:
      return {{"fraction", predicate.to_json()}};
    case Kind::BandRatio:
      return {
          {"band_ratio", {{"band", band.to_json()}, {"base", base_before ? "before" : "rest"}}}};
    case Kind::LastMinusBand:
      if (band_median) return {{name(), {{"band", band.to_json()}, {"statistic", "median"}}}};
      return {{name(), {{"band", band.to_json()}}}};
    case Kind::BandMean:
      return {{name(), {{"band", band.to_json()}}}};
    default:
      return name();
  }
}

double aggregate(const Aggregate& agg, const std::vector<LayerPoint>& all, int n, std::string* why,
                 bool* not_applicable) {
  if (not_applicable) *not_applicable = false;
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return kNaN;
  };
  // The aggregate cannot exist on this model at all, whatever the values.
  auto inapplicable = [&](const std::string& reason) {
    if (not_applicable) *not_applicable = true;
    return fail(reason + " (the model has " + std::to_string(n) + " MoE layers)");
  };
  std::vector<LayerPoint> pts;
  for (const auto& p : all)
    if (!std::isnan(p.value)) pts.push_back(p);
  if (pts.empty()) return fail("no layer has a defined value");
  std::vector<double> values;
  for (const auto& p : pts) values.push_back(p.value);

  switch (agg.kind) {
    case Aggregate::Kind::Mean:
      return mean_of(values);
    case Aggregate::Kind::Median:
      return stats::quantile(values, 0.5);
    case Aggregate::Kind::Min:
      return *std::min_element(values.begin(), values.end());
    case Aggregate::Kind::Max:
      return *std::max_element(values.begin(), values.end());
    case Aggregate::Kind::Fraction: {
      std::size_t k = 0;
      for (double v : values) k += agg.predicate.holds(v) ? 1 : 0;
      return static_cast<double>(k) / static_cast<double>(values.size());
    }
    case Aggregate::Kind::SpearmanVsDepth: {
      std::vector<double> depth;
      for (const auto& p : pts) depth.push_back(p.position);
      if (pts.size() < 3) return inapplicable("Spearman against depth needs at least 3 layers");
      const double r = spearman(depth, values);
      if (std::isnan(r)) return fail("depth or values are constant: Spearman is undefined");
      return r;
    }
    case Aggregate::Kind::BandMean: {
      std::vector<double> in;
      for (const auto& p : pts)
        if (agg.band.contains(p.position, n)) in.push_back(p.value);
      if (band_size(agg.band, n) == 0)
        return inapplicable("band " + agg.band.to_string() + " holds no MoE layer");
      if (in.empty()) return fail("no selected layer lies in band " + agg.band.to_string());
      return mean_of(in);
    }
    case Aggregate::Kind::BandRatio: {
      std::vector<double> in, base;
      int band_start = n;
      for (int p = 0; p < n; ++p)
        if (agg.band.contains(p, n)) {
          band_start = p;
          break;
        }
      for (const auto& p : pts) {
        if (agg.band.contains(p.position, n))
          in.push_back(p.value);
        else if (!agg.base_before || p.position < band_start)
          base.push_back(p.value);
      }
      const int in_band = band_size(agg.band, n);
      if (in_band == 0) return inapplicable("band " + agg.band.to_string() + " holds no MoE layer");
      if ((agg.base_before ? band_start : n - in_band) == 0)
        return inapplicable("the base of band " + agg.band.to_string() + " holds no MoE layer");
      if (in.empty()) return fail("no selected layer lies in band " + agg.band.to_string());
      if (base.empty())
        return fail("no selected layer lies in the base of band " + agg.band.to_string());
      const double b = mean_of(base);
      if (b == 0.0) return fail("the base mean is 0: the ratio is undefined");
      return mean_of(in) / b;
    }
    case Aggregate::Kind::LastMinusBand: {
      int last = -1;
      double last_value = kNaN;
      for (const auto& p : pts)
        if (p.position > last) last = p.position;
      std::vector<double> lasts, in;
      for (const auto& p : pts) {
        if (p.position == last)
          lasts.push_back(p.value);
        else if (agg.band.contains(p.position, n))
          in.push_back(p.value);
      }
      last_value = mean_of(lasts);
      if (band_size(agg.band, n, true) == 0)
        return inapplicable("band " + agg.band.to_string() + " holds no MoE layer before the last");
      if (in.empty())
        return fail("no selected layer before the last lies in band " + agg.band.to_string());
      return last_value - (agg.band_median ? stats::quantile(in, 0.5) : mean_of(in));
    }
  }
  return fail("unknown aggregate");
}

}  // namespace moeprobe
