#include "metrics/dynamic_metric.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "metrics/metric_helpers.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

std::set<std::string> dynamic_param_keys(std::set<std::string> own) {
  own.insert("exclude_bos");
  own.insert("units");
  return own;
}

bool bool_param(const nlohmann::json& p, const std::string& key, bool fallback,
                const std::string& where) {
  if (!p.is_object() || !p.contains(key)) return fallback;
  if (!p[key].is_boolean()) throw InputError(where, "params." + key, "expected true or false");
  return p[key].get<bool>();
}

double number_param(const nlohmann::json& p, const std::string& key, double fallback,
                    double min_exclusive, const std::string& where) {
  if (!p.is_object() || !p.contains(key)) return fallback;
  if (!p[key].is_number() || !(p[key].get<double>() > min_exclusive) ||
      !std::isfinite(p[key].get<double>()))
    throw InputError(where, "params." + key,
                     "expected a finite number > " + nlohmann::json(min_exclusive).dump());
  return p[key].get<double>();
}

std::string choice_param(const nlohmann::json& p, const std::string& key,
                         const std::string& fallback, const std::vector<std::string>& allowed,
                         const std::string& where) {
  std::string v = fallback;
  if (p.is_object() && p.contains(key)) {
    if (!p[key].is_string()) throw InputError(where, "params." + key, "expected a string");
    v = p[key].get<std::string>();
  }
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw InputError(where, "params." + key,
                     "expected one of " + list + "; got '" + printable(v, 80) + "'");
  }
  return v;
}

DynamicParams plain_dynamic_params(const nlohmann::json& p, const std::string& where) {
  check_param_keys(p, where, dynamic_param_keys());
  DynamicParams out;
  parse_dynamic_params(p, where, out);
  return out;
}

void parse_dynamic_params(const nlohmann::json& p, const std::string& where, DynamicParams& out) {
  out.exclude_bos = bool_param(p, "exclude_bos", false, where);
  out.units = choice_param(p, "units", "tokens", {"tokens", "sequences"}, where) == "tokens"
                  ? ResampleUnits::Tokens
                  : ResampleUnits::Sequences;
}

std::vector<int64_t> metric_tokens(const LayerStatistics& ls, const DynamicParams& p,
                                   const std::string& metric) {
  return probe_tokens(ls, p.exclude_bos, metric);
}

nlohmann::json probe_detail(const LayerStatistics& ls, const DynamicParams& p, int64_t tokens) {
  const ProbeInfo& info = probe_info(ls);
  return {{"name", info.name},
          {"source", info.source},
          {"tokens", tokens},
          {"exclude_bos", p.exclude_bos},
          {"units", p.units == ResampleUnits::Tokens ? "tokens" : "sequences"}};
}

LayerMeasurement token_measurement(const LayerStatistics& ls, const DynamicParams& p,
                                   std::vector<int64_t> tokens,
                                   std::function<double(const std::vector<int64_t>&)> statistic,
                                   nlohmann::json detail) {
  // Units: one token each, or the tokens of one sequence each.
  auto units = std::make_shared<std::vector<std::vector<int64_t>>>();
  if (p.units == ResampleUnits::Tokens) {
    for (int64_t t : tokens) units->push_back({t});
  } else {
    const std::vector<int64_t>& starts = probe_info(ls).sequence_starts;
    int64_t current = -1;
    for (int64_t t : tokens) {
      const auto seq = std::upper_bound(starts.begin(), starts.end(), t) - starts.begin();
      if (seq != current || units->empty()) units->push_back({});
      current = seq;
      units->back().push_back(t);
    }
  }
  LayerMeasurement out;
  out.layer = ls.layer;
  out.value = statistic(tokens);
  detail["probe"] = probe_detail(ls, p, static_cast<int64_t>(tokens.size()));
  out.detail = std::move(detail);
  out.resampler.n_units = static_cast<int>(units->size());
  out.resampler.statistic = [units, statistic](const std::vector<int>& idx) {
    std::vector<int64_t> t;
    for (int i : idx) {
      const auto& u = (*units)[static_cast<std::size_t>(i)];
      t.insert(t.end(), u.begin(), u.end());
    }
    return statistic(t);
  };
  return out;
}

double mean_over(const std::vector<double>& per_token, const std::vector<int64_t>& tokens) {
  double s = 0.0;
  int64_t n = 0;
  for (int64_t t : tokens) {
    const double v = per_token[static_cast<std::size_t>(t)];
    if (std::isnan(v)) continue;
    s += v;
    ++n;
  }
  return n ? s / static_cast<double>(n) : nan_value();
}

LayerMeasurement token_mean_measurement(const LayerStatistics& ls, const DynamicParams& p,
                                        std::vector<int64_t> tokens, std::vector<double> per_token,
                                        nlohmann::json detail) {
  auto values = std::make_shared<const std::vector<double>>(std::move(per_token));
  return token_measurement(
      ls, p, std::move(tokens),
      [values](const std::vector<int64_t>& t) { return mean_over(*values, t); }, std::move(detail));
}

}  // namespace moeprobe
