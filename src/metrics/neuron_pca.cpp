#include "metrics/neuron_pca.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <Eigen/Core>

#include "metrics/layer_statistics.h"
#include "metrics/metric_helpers.h"
#include "metrics/symmetric_eigen.h"
#include "util/error.h"

namespace moeprobe {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<int64_t> sampled_neurons(int64_t count, long long max_neurons) {
  std::vector<int64_t> idx;
  if (max_neurons <= 0 || max_neurons >= count) {
    for (int64_t i = 0; i < count; ++i) idx.push_back(i);
    return idx;
  }
  for (long long k = 0; k < max_neurons; ++k) idx.push_back(k * count / max_neurons);
  return idx;
}

// Neurons idx[begin, end) of one matrix as the rows of out [end - begin, H], read through the
// view's float64 conversion (row blocks; a W_down column block is read row by row).
void read_neurons(const TensorView& w, NeuronAxis axis, const std::vector<int64_t>& idx,
                  std::size_t begin, std::size_t end, RowMatrix& out) {
  const auto n = static_cast<int64_t>(end - begin);
  if (axis == NeuronAxis::Rows) {
    const int64_t h = w.dim(1);
    out.resize(n, h);
    for (int64_t k = 0; k < n; ++k) w.read_double(idx[begin + k] * h, h, out.row(k).data());
    return;
  }
  const int64_t h = w.dim(0), width = w.dim(1);
  const int64_t first = idx[begin], span = idx[end - 1] - first + 1;
  out.resize(n, h);
  std::vector<double> row(static_cast<std::size_t>(span));
  for (int64_t r = 0; r < h; ++r) {
    w.read_double(r * width + first, span, row.data());
    for (int64_t k = 0; k < n; ++k)
      out(k, r) = row[static_cast<std::size_t>(idx[begin + k] - first)];
  }
}

constexpr std::size_t kBlock = 256;  // neurons per block

}  // namespace

NeuronPca compute_neuron_pca(const std::vector<ExpertWeights>& experts, MatrixKind m,
                             long long max_neurons_per_expert) {
  NeuronPca out;
  out.experts = static_cast<int>(experts.size());
  if (experts.empty()) return out;
  const NeuronAxis axis = neuron_axis(m);
  const int64_t h = experts[0].hidden();
  out.neuron_index = sampled_neurons(experts[0].intermediate(), max_neurons_per_expert);
  const std::vector<int64_t>& idx = out.neuron_index;
  const double rows = static_cast<double>(experts.size() * idx.size());
  if (rows < 2) throw std::invalid_argument("neuron PCA needs at least two neurons");

  // Pass 1: column sums and the cross-product X^T X, in float64.
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(h);
  Eigen::MatrixXd cross = Eigen::MatrixXd::Zero(h, h);
  RowMatrix block;
  for (const ExpertWeights& e : experts)
    for (std::size_t b = 0; b < idx.size(); b += kBlock) {
      read_neurons(matrix_of(e, m), axis, idx, b, std::min(idx.size(), b + kBlock), block);
      sum += block.colwise().sum().transpose();
      cross.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
    }
  cross = cross.selfadjointView<Eigen::Lower>();
  const Eigen::VectorXd mu = sum / rows;
  Eigen::MatrixXd cov = (cross - rows * mu * mu.transpose()) / (rows - 1.0);
  // A coordinate is constant when its variance is rounding noise relative to its raw second moment.
  Eigen::VectorXd inv_sd = Eigen::VectorXd::Zero(h);
  for (int64_t j = 0; j < h; ++j) {
    const double var = cov(j, j), raw = cross(j, j) / rows;
    if (var > 1e-12 * raw && var > 0.0)
      inv_sd(j) = 1.0 / std::sqrt(var);
    else
      ++out.constant_columns;
  }
  Matrix corr(h, h);
  for (int64_t a = 0; a < h; ++a)
    for (int64_t b = 0; b < h; ++b) corr(a, b) = cov(a, b) * inv_sd(a) * inv_sd(b);
  const SymmetricEigen eig = top_symmetric_eigen(corr, 2);
  const double trace = static_cast<double>(h - out.constant_columns);
  for (std::size_t k = 0; k < eig.values.size(); ++k)
    out.explained.push_back(trace > 0 ? std::max(eig.values[k], 0.0) / trace : 0.0);

  // Pass 2: the scores z_i . v_k of every neuron, z_i = (x_i - mu) / sd.
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(h, 2);
  for (int64_t j = 0; j < h; ++j)
    for (int64_t k = 0; k < eig.vectors.cols && k < 2; ++k) v(j, k) = eig.vectors(j, k) * inv_sd(j);
  const double shift0 = mu.dot(v.col(0)), shift1 = mu.dot(v.col(1));
  for (const ExpertWeights& e : experts)
    for (std::size_t b = 0; b < idx.size(); b += kBlock) {
      read_neurons(matrix_of(e, m), axis, idx, b, std::min(idx.size(), b + kBlock), block);
      const Eigen::MatrixXd s = block * v;
      for (int64_t k = 0; k < s.rows(); ++k)
        out.points.push_back({s(k, 0) - shift0, s(k, 1) - shift1});
    }
  return out;
}

// The metric ------------------------------------------------------------------------------------

namespace {

struct NeuronPcaParams : ParsedParams {
  MatrixKind matrix = MatrixKind::Down;
  long long max_neurons = 0;  // per expert; 0 = all
  double mad_factor = 3.0;
};

const NeuronPca& planned_neuron_pca(const LayerStatistics& ls, MatrixKind m, long long limit) {
  const auto& slot = ls.neuron_pca[static_cast<int>(m)];
  auto it = slot.find(limit);
  if (it == slot.end())
    throw std::logic_error(std::string("a metric read the neuron PCA of ") + matrix_kind_name(m) +
                           ", which no metric's needs() declared for this layer");
  return it->second;
}

class NeuronPcaOutlierFraction : public TypedMetric<NeuronPcaParams> {
 public:
  NeuronPcaOutlierFraction()
      : TypedMetric(
            "neuron_pca_outlier_fraction", "A6",
            "Fraction of the layer's expert neurons that are outliers of the neuron-level PCA: "
            "all neurons of all experts (rows of W_act/W_up, columns of W_down) stacked, each "
            "hidden coordinate z-scored, projected on the first two principal components; an "
            "outlier lies farther from the coordinate-wise median point than median + "
            "mad_factor MAD of the distances. Resampled over experts (each expert's outlier "
            "fraction). params: matrix = act | up | down (default down, where the paper sees "
            "the most structure), max_neurons (per expert, evenly spaced; default 0 = all), "
            "mad_factor (default 3).") {}

  NeuronPcaParams parse(const nlohmann::json& p, const std::string& where) const override {
    check_param_keys(p, where, {"matrix", "max_neurons", "mad_factor"});
    NeuronPcaParams out;
    out.matrix = *matrix_param(p, "matrix", "down", false, where);
    out.max_neurons = int_param(p, "max_neurons", 0, 0, where);
    if (p.is_object() && p.contains("mad_factor")) {
      if (!p["mad_factor"].is_number() || !(p["mad_factor"].get<double>() > 0.0))
        throw InputError(where, "params.mad_factor", "expected a number > 0");
      out.mad_factor = p["mad_factor"].get<double>();
    }
    return out;
  }
  std::vector<Need> needs_of(const NeuronPcaParams& p) const override {
    Need n{Intermediate::NeuronPca, p.matrix};
    n.max_neurons = p.max_neurons;
    return {n};
  }
  LayerMeasurement measure_with(const LayerStatistics& ls,
                                const NeuronPcaParams& p) const override {
    const NeuronPca& pca = planned_neuron_pca(ls, p.matrix, p.max_neurons);
    const std::vector<int> outliers = median_distance_outliers(pca.points, p.mad_factor);
    const int64_t per = pca.per_expert();
    std::vector<double> fraction(static_cast<std::size_t>(pca.experts), 0.0);
    for (int o : outliers)
      fraction[static_cast<std::size_t>(o / per)] += 1.0 / static_cast<double>(per);
    nlohmann::json d;
    d["matrix"] = matrix_kind_name(p.matrix);
    d["neurons_per_expert"] = per;
    d["explained_variance"] = pca.explained;
    d["constant_columns"] = pca.constant_columns;
    d["expert_outlier_fraction"] = fraction;
    d["outliers"] = static_cast<int64_t>(outliers.size());
    // At most 1024 points for the report's scatter plot, evenly spaced, with their expert.
    nlohmann::json pts = nlohmann::json::array(), owner = nlohmann::json::array();
    const std::size_t total = pca.points.size(), shown = std::min<std::size_t>(total, 1024);
    for (std::size_t k = 0; k < shown; ++k) {
      const std::size_t i = k * total / shown;
      pts.push_back({pca.points[i][0], pca.points[i][1]});
      owner.push_back(static_cast<int64_t>(i) / per);
    }
    d["pca_points"] = pts;
    d["pca_point_expert"] = owner;
    return mean_of_units(ls.layer, fraction, d);
  }
};

}  // namespace

void add_neuron_pca_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<NeuronPcaOutlierFraction>());
}

}  // namespace moeprobe
