// Small pieces shared by the metric families: parameter parsing with InputErrors that name the
// key, expert-pair enumeration and the common resamplers.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/layer_statistics.h"
#include "metrics/metric.h"

namespace moeprobe {

// Throws InputError(where, "params.<key>", ...) for a key not in `allowed` or a params value that
// is not an object.
void check_param_keys(const nlohmann::json& params, const std::string& where,
                      const std::set<std::string>& allowed);
// A matrix parameter: "act" | "up" | "down" (and "all" when allow_all; returned as nullopt).
std::optional<MatrixKind> matrix_param(const nlohmann::json& params, const std::string& key,
                                       const std::string& fallback, bool allow_all,
                                       const std::string& where);
// A positive integer parameter; `fallback` when absent.
long long int_param(const nlohmann::json& params, const std::string& key, long long fallback,
                    long long min_value, const std::string& where);

// Expert pairs (a, b) with a > b: the strict lower triangle, row by row.
std::vector<std::pair<int, int>> expert_pairs(int n);
// The off-diagonal entries S[a][b], a > b, in expert_pairs order.
std::vector<double> lower_triangle(const Matrix& s, int n);

// Mean over resampled units of fixed per-unit values.
Resampler mean_resampler(std::vector<double> values);
// Pearson r (squared when `square`) between paired per-unit values, on the resampled units.
Resampler pearson_resampler(std::vector<double> x, std::vector<double> y, bool square);

// Mean of S[a][b] over distinct resampled experts (positions i != j of the resample with
// idx[i] != idx[j]), i.e. the off-diagonal mean of S restricted to the resample.
double offdiag_mean(const Matrix& s, const std::vector<int>& idx);

// PCA outliers (A5, A6): points farther from the coordinate-wise median point than
// median(d) + factor * MAD(d), MAD = median |d - median(d)|; when MAD is 0 the mean absolute
// deviation replaces it, and when that is 0 too there are no outliers. Indices ascending.
std::vector<int> median_distance_outliers(const std::vector<std::array<double, 2>>& points,
                                          double factor);

nlohmann::json matrix_json(const Matrix& m, int n);  // first n rows/cols as an array of rows

double nan_value();

// A layer value that is the mean of fixed per-unit values (expert pairs or experts), resampled
// over those units.
LayerMeasurement mean_of_units(int layer, std::vector<double> values, nlohmann::json detail);

// A layer value computed from a statistic over experts 0..n-1, resampled over experts (NaN for
// fewer than two experts).
LayerMeasurement expert_resampled(int layer, int n,
                                  std::function<double(const std::vector<int>&)> statistic,
                                  nlohmann::json detail);

// Entity labels for report matrices: "0".."N-1", then "F" for the reference FFN.
nlohmann::json entity_labels(int experts, bool with_reference);
// The matrix kinds a matrix parameter stands for ("all": act, up, down).
std::vector<MatrixKind> kinds_of(const std::optional<MatrixKind>& m);
std::string kinds_name(const std::optional<MatrixKind>& m);

// The name/analysis/description boilerplate of a metric (needs() stays pure: each metric states
// it).
class NamedMetric : public Metric {
 public:
  NamedMetric(std::string name, std::string analysis, std::string description,
              bool needs_reference = false)
      : name_(std::move(name)),
        analysis_(std::move(analysis)),
        description_(std::move(description)),
        needs_reference_(needs_reference) {}
  std::string name() const override { return name_; }
  std::string analysis() const override { return analysis_; }
  std::string description() const override { return description_; }
  bool needs_reference_model() const override { return needs_reference_; }

 private:
  std::string name_, analysis_, description_;
  bool needs_reference_;
};

// A metric whose parsed params are P: parse once, then needs and measure see the typed value.
template <class P>
class TypedMetric : public NamedMetric {
 public:
  using NamedMetric::NamedMetric;
  std::shared_ptr<const ParsedParams> parse_params(const nlohmann::json& params,
                                                   const std::string& where) const final {
    return std::make_shared<P>(parse(params, where));
  }
  std::vector<Need> needs(const ParsedParams& params) const final {
    std::vector<Need> n = needs_of(typed(params));
    if (needs_reference_model()) n.push_back({Intermediate::ReferenceFfn});
    return n;
  }
  LayerMeasurement measure(const LayerStatistics& stats, const ParsedParams& params) const final {
    return measure_with(stats, typed(params));
  }

 protected:
  virtual P parse(const nlohmann::json& params, const std::string& where) const = 0;
  virtual std::vector<Need> needs_of(const P& params) const = 0;
  virtual LayerMeasurement measure_with(const LayerStatistics& stats, const P& params) const = 0;

 private:
  // Params parsed by another metric are a bug (std::bad_cast, exit 3).
  static const P& typed(const ParsedParams& p) { return dynamic_cast<const P&>(p); }
};

// Typed params shared by several metrics.
struct NoParams : ParsedParams {};
struct MatrixParams : ParsedParams {  // matrix = act | up | down
  MatrixKind matrix = MatrixKind::Act;
};
struct KindsParams : ParsedParams {  // matrix = act | up | down | all
  std::optional<MatrixKind> matrix;  // nullopt: all
  std::vector<MatrixKind> kinds() const { return kinds_of(matrix); }
};
// The params {matrix} with `fallback` as the default, checked for unknown keys.
MatrixParams parse_matrix_params(const nlohmann::json& p, const std::string& where,
                                 const std::string& fallback = "act");
KindsParams parse_kinds_params(const nlohmann::json& p, const std::string& where);

// Needs of the matrix-level statistics (Gram, cosines, mean neurons) of these kinds.
std::vector<Need> matrix_needs(const std::vector<MatrixKind>& kinds);

// Metric families, each in its own file, add their metrics here (called by registry.cpp).
void add_expert_weight_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out);
void add_neuron_matching_metrics(std::vector<std::unique_ptr<Metric>>& out);
void add_neuron_mean_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out);
void add_gate_neuron_association_metrics(std::vector<std::unique_ptr<Metric>>& out);
void add_pca_outlier_metrics(std::vector<std::unique_ptr<Metric>>& out);
void add_neuron_pca_metrics(std::vector<std::unique_ptr<Metric>>& out);

}  // namespace moeprobe
