#include "metrics/metric_helpers.h"

#include <cmath>
#include <limits>

#include "metrics/rank_statistics.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

double nan_value() {
  return std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json entity_labels(int experts, bool with_reference) {
  nlohmann::json l = nlohmann::json::array();
  for (int e = 0; e < experts; ++e) l.push_back(std::to_string(e));
  if (with_reference) l.push_back("F");
  return l;
}

std::vector<MatrixKind> kinds_of(const std::optional<MatrixKind>& m) {
  if (m) return {*m};
  return {MatrixKind::Act, MatrixKind::Up, MatrixKind::Down};
}

std::string kinds_name(const std::optional<MatrixKind>& m) {
  return m ? matrix_kind_name(*m) : "all";
}

void check_param_keys(const nlohmann::json& params, const std::string& where,
                      const std::set<std::string>& allowed) {
  if (params.is_null()) return;
  if (!params.is_object()) throw InputError(where, "params", "expected a mapping of parameters");
  for (auto it = params.begin(); it != params.end(); ++it)
    if (!allowed.count(it.key())) {
      std::string list;
      for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + k;
      throw InputError(
          where, "params." + it.key(),
          "unknown parameter (expected " + (list.empty() ? std::string("none") : list) + ")");
    }
}

std::optional<MatrixKind> matrix_param(const nlohmann::json& params, const std::string& key,
                                       const std::string& fallback, bool allow_all,
                                       const std::string& where) {
  std::string v = fallback;
  if (params.is_object() && params.contains(key)) {
    if (!params[key].is_string()) throw InputError(where, "params." + key, "expected a string");
    v = params[key].get<std::string>();
  }
  if (v == "act") return MatrixKind::Act;
  if (v == "up") return MatrixKind::Up;
  if (v == "down") return MatrixKind::Down;
  if (v == "all" && allow_all) return std::nullopt;
  throw InputError(where, "params." + key,
                   std::string("expected one of act, up, down") + (allow_all ? ", all" : "") +
                       "; got '" + printable(v, 80) + "'");
}

long long int_param(const nlohmann::json& params, const std::string& key, long long fallback,
                    long long min_value, const std::string& where) {
  if (!params.is_object() || !params.contains(key)) return fallback;
  const auto& v = params[key];
  if (!v.is_number_integer() || v.get<long long>() < min_value)
    throw InputError(where, "params." + key, "expected an integer >= " + std::to_string(min_value));
  return v.get<long long>();
}

MatrixParams parse_matrix_params(const nlohmann::json& p, const std::string& where,
                                 const std::string& fallback) {
  check_param_keys(p, where, {"matrix"});
  MatrixParams out;
  out.matrix = *matrix_param(p, "matrix", fallback, false, where);
  return out;
}

KindsParams parse_kinds_params(const nlohmann::json& p, const std::string& where) {
  check_param_keys(p, where, {"matrix"});
  KindsParams out;
  out.matrix = matrix_param(p, "matrix", "all", true, where);
  return out;
}

std::vector<Need> matrix_needs(const std::vector<MatrixKind>& kinds) {
  std::vector<Need> n;
  for (MatrixKind m : kinds) n.push_back({Intermediate::MatrixStats, m});
  return n;
}

std::vector<std::pair<int, int>> expert_pairs(int n) {
  std::vector<std::pair<int, int>> p;
  for (int a = 1; a < n; ++a)
    for (int b = 0; b < a; ++b) p.emplace_back(a, b);
  return p;
}

std::vector<double> lower_triangle(const Matrix& s, int n) {
  std::vector<double> v;
  for (const auto& [a, b] : expert_pairs(n)) v.push_back(s(a, b));
  return v;
}

LayerMeasurement mean_of_units(int layer, std::vector<double> values, nlohmann::json detail) {
  LayerMeasurement out;
  out.layer = layer;
  out.value = mean(values);
  out.resampler = mean_resampler(std::move(values));
  out.detail = std::move(detail);
  return out;
}

LayerMeasurement expert_resampled(int layer, int n,
                                  std::function<double(const std::vector<int>&)> statistic,
                                  nlohmann::json detail) {
  std::vector<int> all(static_cast<std::size_t>(n));
  for (int e = 0; e < n; ++e) all[static_cast<std::size_t>(e)] = e;
  LayerMeasurement out;
  out.layer = layer;
  out.value = n >= 2 ? statistic(all) : nan_value();
  out.resampler.n_units = n;
  out.resampler.statistic = std::move(statistic);
  out.detail = std::move(detail);
  return out;
}

Resampler mean_resampler(std::vector<double> values) {
  Resampler r;
  r.n_units = static_cast<int>(values.size());
  auto shared = std::make_shared<const std::vector<double>>(std::move(values));
  r.statistic = [shared](const std::vector<int>& idx) {
    if (idx.empty()) return nan_value();
    double s = 0.0;
    for (int i : idx) s += (*shared)[static_cast<std::size_t>(i)];
    return s / static_cast<double>(idx.size());
  };
  return r;
}

Resampler pearson_resampler(std::vector<double> x, std::vector<double> y, bool square) {
  Resampler r;
  r.n_units = static_cast<int>(x.size());
  auto sx = std::make_shared<const std::vector<double>>(std::move(x));
  auto sy = std::make_shared<const std::vector<double>>(std::move(y));
  r.statistic = [sx, sy, square](const std::vector<int>& idx) {
    std::vector<double> a, b;
    for (int i : idx) {
      a.push_back((*sx)[static_cast<std::size_t>(i)]);
      b.push_back((*sy)[static_cast<std::size_t>(i)]);
    }
    const double rr = pearson(a, b);
    return square ? rr * rr : rr;
  };
  return r;
}

double offdiag_mean(const Matrix& s, const std::vector<int>& idx) {
  double sum = 0.0;
  long long count = 0;
  for (std::size_t i = 0; i < idx.size(); ++i)
    for (std::size_t j = 0; j < idx.size(); ++j)
      if (idx[i] != idx[j]) {
        sum += s(idx[i], idx[j]);
        ++count;
      }
  return count ? sum / static_cast<double>(count) : nan_value();
}

std::vector<int> median_distance_outliers(const std::vector<std::array<double, 2>>& points,
                                          double factor) {
  std::vector<int> out;
  if (points.size() < 2) return out;
  std::vector<double> xs, ys, d;
  for (const auto& p : points) {
    xs.push_back(p[0]);
    ys.push_back(p[1]);
  }
  const double mx = median(xs), my = median(ys);
  for (const auto& p : points) d.push_back(std::hypot(p[0] - mx, p[1] - my));
  const double md = median(d);
  std::vector<double> dev;
  for (double x : d) dev.push_back(std::fabs(x - md));
  double spread = median(dev);
  if (!(spread > 0.0)) spread = mean(dev);
  if (spread > 0.0)
    for (std::size_t i = 0; i < d.size(); ++i)
      if (d[i] > md + factor * spread) out.push_back(static_cast<int>(i));
  return out;
}

nlohmann::json matrix_json(const Matrix& m, int n) {
  nlohmann::json rows = nlohmann::json::array();
  for (int a = 0; a < n; ++a) {
    nlohmann::json row = nlohmann::json::array();
    for (int b = 0; b < n; ++b) row.push_back(m(a, b));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace moeprobe
