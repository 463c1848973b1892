// A5: PCA of the expert matrices (paper App. C.1, Fig. 6) and its link with "dark crosses"
// (experts dissimilar to all others in the A1 similarity maps).
//
// PCA: the standardised Gram (each element position z-scored across the entities, experts plus F
// when given) is the Gram of the standardised data, whose eigenvectors U and eigenvalues lambda
// give the principal-component scores U sqrt(lambda) without ever forming the I*H-wide data.
// PCA outliers (experts only): distance d_e of the 2-D score from the coordinate-wise median
// point exceeding median(d) + 3 MAD(d), MAD = median |d - median(d)|; when MAD is 0 the mean
// absolute deviation replaces it, and when that is 0 too there are no outliers.
// Dark-cross experts: row mean r_e of the matrix-level cosines to the other experts more than
// 2 sigma (population standard deviation of the r_e) below the mean of the r_e.
#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "metrics/metric_helpers.h"
#include "metrics/rank_statistics.h"
#include "metrics/symmetric_eigen.h"

namespace moeprobe {

namespace {

struct PcaResult {
  std::vector<std::array<double, 2>> points;  // every entity
  std::vector<int> outliers;                  // experts
  std::vector<int> dark_cross;                // experts
  std::vector<double> row_means;              // experts
  std::vector<double> explained;              // first two eigenvalue fractions
};

PcaResult analyse(const LayerStatistics& ctx, MatrixKind m) {
  const MatrixStatistics& s = matrix_statistics(ctx, m);
  const int n = ctx.num_experts;
  const Matrix& g = s.stats.standardized_gram;
  if (g.rows != s.stats.gram.rows)  // the plan left it out of the layer's pass
    throw std::logic_error(std::string("no standardized Gram for ") + matrix_kind_name(m) +
                           ": no metric's needs() declared it for this layer");
  const int64_t total = g.rows;
  PcaResult r;
  // Double-centre the Gram (already centred up to rounding: each position's mean is removed).
  Matrix c = g;
  std::vector<double> rm(total, 0.0);
  double all = 0.0;
  for (int64_t a = 0; a < total; ++a)
    for (int64_t b = 0; b < total; ++b) {
      rm[a] += g(a, b) / total;
      all += g(a, b) / (total * total);
    }
  for (int64_t a = 0; a < total; ++a)
    for (int64_t b = 0; b < total; ++b) c(a, b) = g(a, b) - rm[a] - rm[b] + all;
  const SymmetricEigen eig = symmetric_eigen(c);
  double trace = 0.0;
  for (double l : eig.values) trace += std::max(l, 0.0);
  for (int64_t a = 0; a < total; ++a) {
    std::array<double, 2> p{0.0, 0.0};
    for (int k = 0; k < 2 && k < total; ++k)
      p[k] = eig.vectors(a, k) * std::sqrt(std::max(eig.values[k], 0.0));
    r.points.push_back(p);
  }
  for (int k = 0; k < 2 && k < total; ++k)
    r.explained.push_back(trace > 0 ? std::max(eig.values[k], 0.0) / trace : 0.0);

  if (n >= 2) {
    r.outliers = median_distance_outliers(
        std::vector<std::array<double, 2>>(r.points.begin(), r.points.begin() + n), 3.0);

    for (int e = 0; e < n; ++e) {
      double sum = 0.0;
      for (int b = 0; b < n; ++b)
        if (b != e) sum += s.cosine(e, b);
      r.row_means.push_back(sum / (n - 1));
    }
    const double mu = mean(r.row_means);
    double var = 0.0;
    for (double x : r.row_means) var += (x - mu) * (x - mu);
    const double sd = std::sqrt(var / n);
    if (sd > 0.0)
      for (int e = 0; e < n; ++e)
        if (r.row_means[e] < mu - 2.0 * sd) r.dark_cross.push_back(e);
  }
  return r;
}

nlohmann::json pca_detail(const PcaResult& r, const LayerStatistics& ctx, MatrixKind m) {
  const LayerStatistics& ls = ctx;
  nlohmann::json d;
  d["matrix"] = matrix_kind_name(m);
  d["entities"] = entity_labels(ls.num_experts, ls.has_reference);
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : r.points) pts.push_back({p[0], p[1]});
  d["pca_points"] = pts;
  d["explained_variance"] = r.explained;
  d["pca_outliers"] = r.outliers;
  d["dark_cross"] = r.dark_cross;
  d["row_mean_similarity"] = r.row_means;
  d["skipped_positions"] = matrix_statistics(ctx, m).stats.skipped_positions;
  return d;
}

class PcaMetric : public TypedMetric<MatrixParams> {
 public:
  PcaMetric(std::string name, std::string what, bool count)
      : TypedMetric(std::move(name), "A5",
                    what + " params: matrix = act | up | down (default act)"),
        count_(count) {}
  MatrixParams parse(const nlohmann::json& p, const std::string& where) const override {
    return parse_matrix_params(p, where);
  }
  std::vector<Need> needs_of(const MatrixParams& p) const override {
    return {{Intermediate::StandardizedGram, p.matrix}};
  }
  LayerMeasurement measure_with(const LayerStatistics& ctx, const MatrixParams& p) const override {
    const MatrixKind m = p.matrix;
    const PcaResult r = analyse(ctx, m);
    LayerMeasurement out;
    out.layer = ctx.layer;
    if (count_)
      out.value = static_cast<double>(r.dark_cross.size());
    else if (r.dark_cross.empty())
      out.value = nan_value();
    else
      out.value = r.outliers == r.dark_cross ? 1.0 : 0.0;
    out.detail = pca_detail(r, ctx, m);
    return out;
  }

 private:
  bool count_;
};

}  // namespace

void add_pca_outlier_metrics(std::vector<std::unique_ptr<Metric>>& out) {
  out.push_back(std::make_unique<PcaMetric>(
      "pca_dark_cross_match",
      "1 when the experts that are PCA outliers (2-D distance from the median point > median + 3 "
      "MAD) are exactly the dark-cross experts (row-mean similarity > 2 sigma below the layer "
      "mean), 0 when not, NaN when the layer has no dark cross.",
      false));
  out.push_back(std::make_unique<PcaMetric>(
      "dark_cross_count",
      "Number of dark-cross experts: row-mean matrix-level similarity to the other experts more "
      "than 2 sigma below the layer mean.",
      true));
}

}  // namespace moeprobe
