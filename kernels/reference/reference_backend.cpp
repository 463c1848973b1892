#include "kernels/reference/reference_backend.h"

#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.h"

namespace moeprobe {

namespace {

// Elements are read in blocks of this many so the reference also handles layer-sized inputs
// without holding N whole matrices as float64.
constexpr int64_t kBlock = 1 << 16;

// Neuron i of a matrix as a float64 vector: row i (NeuronAxis::Rows) or column i (Cols).
std::vector<std::vector<double>> neurons(const TensorView& m, NeuronAxis axis) {
  const int64_t rows = m.rows(), cols = m.cols();
  std::vector<double> all(static_cast<std::size_t>(rows * cols));
  m.read_double(0, rows * cols, all.data());
  const int64_t count = axis == NeuronAxis::Rows ? rows : cols;
  const int64_t len = axis == NeuronAxis::Rows ? cols : rows;
  std::vector<std::vector<double>> out(static_cast<std::size_t>(count),
                                       std::vector<double>(static_cast<std::size_t>(len)));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const double v = all[static_cast<std::size_t>(r * cols + c)];
      if (axis == NeuronAxis::Rows)
        out[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)] = v;
      else
        out[static_cast<std::size_t>(c)][static_cast<std::size_t>(r)] = v;
    }
  return out;
}

}  // namespace

MatrixSetStats ReferenceBackend::matrix_set_stats(const std::vector<TensorView>& mats,
                                                  NeuronAxis axis,
                                                  const MatrixSetRequest& request) {
  check_matrix_set(mats, axis);
  const int64_t n = static_cast<int64_t>(mats.size());
  const int64_t numel = n ? mats[0].numel() : 0;
  const int64_t rows = n ? mats[0].rows() : 0, cols = n ? mats[0].cols() : 0;
  const int64_t hidden = axis == NeuronAxis::Rows ? cols : rows;
  const int64_t count = axis == NeuronAxis::Rows ? rows : cols;  // neurons per matrix

  MatrixSetStats out;
  if (request.gram) out.gram = Matrix(n, n);
  if (request.standardized_gram) out.standardized_gram = Matrix(n, n);
  if (request.mean_neuron)
    out.mean_neuron.assign(static_cast<std::size_t>(n),
                           std::vector<double>(static_cast<std::size_t>(hidden), 0.0));

  std::vector<std::vector<double>> x(static_cast<std::size_t>(n));
  std::vector<double> z(static_cast<std::size_t>(n));
  for (int64_t begin = 0; begin < numel; begin += kBlock) {
    const int64_t len = std::min(kBlock, numel - begin);
    for (int64_t a = 0; a < n; ++a) {
      x[a].resize(static_cast<std::size_t>(len));
      mats[a].read_double(begin, len, x[a].data());
    }
    for (int64_t k = 0; k < len; ++k) {
      if (request.gram)
        for (int64_t a = 0; a < n; ++a)
          for (int64_t b = 0; b < n; ++b) out.gram(a, b) += x[a][k] * x[b][k];
      if (request.mean_neuron) {
        const int64_t e = begin + k, r = e / cols, c = e % cols;
        const int64_t h = axis == NeuronAxis::Rows ? c : r;
        for (int64_t a = 0; a < n; ++a) out.mean_neuron[a][h] += x[a][k];
      }
      if (request.standardized_gram) {
        // A position whose N values are all equal has no spread to standardise by.
        bool constant = true;
        double mean = 0.0;
        for (int64_t a = 0; a < n; ++a) {
          mean += x[a][k];
          if (x[a][k] != x[0][k]) constant = false;
        }
        if (constant || n < 2) {
          ++out.skipped_positions;
          continue;
        }
        mean /= static_cast<double>(n);
        double var = 0.0;
        for (int64_t a = 0; a < n; ++a) var += (x[a][k] - mean) * (x[a][k] - mean);
        const double sd = std::sqrt(var / static_cast<double>(n - 1));
        for (int64_t a = 0; a < n; ++a) z[a] = (x[a][k] - mean) / sd;
        for (int64_t a = 0; a < n; ++a)
          for (int64_t b = 0; b < n; ++b) out.standardized_gram(a, b) += z[a] * z[b];
      }
    }
  }
  if (request.mean_neuron)
    for (auto& v : out.mean_neuron)
      for (double& s : v) s /= static_cast<double>(count);
  if (request.gram) check_gram_finite(out.gram, mats);
  return out;
}

Matrix ReferenceBackend::gram_rows(const TensorView& m) {
  check_matrix(m);
  const int64_t n = m.rows(), d = m.cols();
  std::vector<double> all(static_cast<std::size_t>(n * d));
  m.read_double(0, n * d, all.data());
  Matrix g(n, n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      double s = 0.0;
      for (int64_t k = 0; k < d; ++k) s += all[a * d + k] * all[b * d + k];
      g(a, b) = s;
    }
  check_rows_finite(g, m);
  return g;
}

Matrix ReferenceBackend::neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) {
  check_neuron_pair(a, b);
  const auto na = neurons(a, axis), nb = neurons(b, axis);
  Matrix c(static_cast<int64_t>(na.size()), static_cast<int64_t>(nb.size()));
  for (std::size_t i = 0; i < na.size(); ++i)
    for (std::size_t j = 0; j < nb.size(); ++j) {
      double dot = 0.0, ni = 0.0, nj = 0.0;
      for (std::size_t k = 0; k < na[i].size(); ++k) {
        dot += na[i][k] * nb[j][k];
        ni += na[i][k] * na[i][k];
        nj += nb[j][k] * nb[j][k];
      }
      c(static_cast<int64_t>(i), static_cast<int64_t>(j)) =
          dot / std::max(std::sqrt(ni) * std::sqrt(nj), 1e-8);
    }
  return c;
}

}  // namespace moeprobe
