#include "kernels/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/backend_checks.h"
#include "kernels/cpu/set_kernels.h"
#include "util/parallel_for.h"

// Hot loops are compiled twice, for AVX2 and for baseline x86-64, and the loader picks the clone
// the CPU supports (GNU ifunc): generic x86-64 binaries stay runnable everywhere.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define MOEPROBE_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MOEPROBE_MULTIVERSION
#endif

namespace moeprobe {

namespace {

// Lanes of the float accumulators: each lane is its own running sum, so the compiler can
// vectorise the dot products without -ffast-math (no reassociation is needed).
constexpr int kLanes = 8;

// out[i][j] = sum over k < len of a[i][k] * b[j][k] for a 2x2 tile of rows (len a multiple of
// kLanes). Float products and sums: see matrix_set_stats for why this is accurate enough.
inline void dot_tile(const float* a0, const float* a1, const float* b0, const float* b1,
                     int64_t len, float out[4]) {
  float s00[kLanes] = {}, s01[kLanes] = {}, s10[kLanes] = {}, s11[kLanes] = {};
  for (int64_t k = 0; k < len; k += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      s00[l] += a0[k + l] * b0[k + l];
      s01[l] += a0[k + l] * b1[k + l];
      s10[l] += a1[k + l] * b0[k + l];
      s11[l] += a1[k + l] * b1[k + l];
    }
  float r[4] = {0, 0, 0, 0};
  for (int l = 0; l < kLanes; ++l) {
    r[0] += s00[l];
    r[1] += s01[l];
    r[2] += s10[l];
    r[3] += s11[l];
  }
  std::memcpy(out, r, sizeof r);
}

struct SetAccumulator {
  std::vector<double> gram, sgram, mean;  // n*n, n*n, n*hidden
  int64_t skipped = 0;
};

struct SetJob {
  std::vector<const unsigned char*> data;  // plain views' bytes; null for a mapped view
  std::vector<const TensorView*> views;    // mapped views (quantised, strided) read through these
  std::vector<DType> dtypes;               // per matrix (a dense FFN may be stored differently)
  int64_t numel = 0, cols = 0;  // elements per matrix; columns of the [rows, cols] matrix
  int64_t hidden = 0;           // mean-neuron length
  NeuronAxis axis = NeuronAxis::Rows;
  MatrixSetRequest request;
};

// Column sums of whole rows (mean neurons along NeuronAxis::Rows) are kept in float32 and moved
// into the float64 accumulator after at most this many rows, so each float sum has few terms.
constexpr int64_t kMeanFlushRows = 64;

// Software prefetch distance in blocks (see run_range).
constexpr int64_t kAhead = 1;

// Adds each row segment's sum (8 float lanes, then float64) of row a's block (elements
// [off, off + len) of the matrix, floats in src) to its row's entry: mean neurons along
// NeuronAxis::Cols.
MOEPROBE_MULTIVERSION
void add_row_sums(int64_t cols, const float* src, int64_t off, int64_t len, double* rowsum) {
  for (int64_t k = 0; k < len;) {
    const int64_t e = off + k, r = e / cols, c = e % cols;
    const int64_t seg = std::min(len - k, cols - c);
    const float* s = src + k;
    float lane[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= seg; j += kLanes)
      for (int l = 0; l < kLanes; ++l) lane[l] += s[j + l];
    double t = 0.0;
    for (; j < seg; ++j) t += s[j];
    for (float v : lane) t += v;
    rowsum[r] += t;
    k += seg;
  }
}

// sum[i] += x[i] for i < n (the column sums of a mapped view's dequantised block).
MOEPROBE_MULTIVERSION
void add_floats(const float* x, int64_t n, float* sum) {
  for (int64_t i = 0; i < n; ++i) sum[i] += x[i];
}

// Processes elements [begin, end) of every matrix block by block into acc: convert the N rows'
// block into a float scratch (cache-resident), add the mean neurons, the Gram, then standardise
// the scratch in place and add its Gram.
void run_range(const SetJob& job, int64_t begin, int64_t end, int64_t block, SetAccumulator& acc) {
  const cpu::SetKernels& kern = cpu::set_kernels();
  const int64_t n = static_cast<int64_t>(job.data.size());
  std::vector<float> x(static_cast<std::size_t>(n * block), 0.f);
  const bool rows_mean = job.request.mean_neuron && job.axis == NeuronAxis::Rows;
  std::vector<float> colsum(rows_mean ? static_cast<std::size_t>(n * job.hidden) : 0, 0.f);
  int64_t since_flush = 0;  // elements added into colsum since it was last flushed
  auto flush = [&] {
    for (std::size_t i = 0; i < colsum.size(); ++i) {
      acc.mean[i] += colsum[i];
      colsum[i] = 0.f;
    }
    since_flush = 0;
  };
  for (int64_t off = begin; off < end; off += block) {
    const int64_t len = std::min(block, end - off);
    const int64_t padded = (len + kLanes - 1) / kLanes * kLanes;
    // Ask for the bytes kAhead blocks on now, so they arrive while this block is computed (with
    // the hardware prefetcher alone the loads stall at every block start).
    const int64_t ahead = off + kAhead * block;
    if (ahead < end)
      for (int64_t a = 0; a < n; ++a) {
        if (!job.data[a]) continue;
        const std::size_t esz = dtype_size(job.dtypes[a]);
        const unsigned char* p = job.data[a] + static_cast<std::size_t>(ahead) * esz;
        const std::size_t bytes = static_cast<std::size_t>(std::min(block, end - ahead)) * esz;
        for (std::size_t q = 0; q < bytes; q += 64) __builtin_prefetch(p + q, 0, 2);
      }
    for (int64_t a = 0; a < n; ++a) {
      float* r = x.data() + a * block;
      if (!job.data[a]) {
        // A mapped view dequantises its block; the column sums are added from the floats.
        job.views[a]->read_float(off, len, r);
        if (rows_mean)
          for (int64_t k = 0; k < len;) {
            const int64_t c = (off + k) % job.cols, seg = std::min(len - k, job.cols - c);
            add_floats(r + k, seg, colsum.data() + a * job.hidden + c);
            k += seg;
          }
      } else if (rows_mean) {
        // Row segment by row segment, each added into the float column sums as it is loaded.
        for (int64_t k = 0; k < len;) {
          const int64_t c = (off + k) % job.cols, seg = std::min(len - k, job.cols - c);
          kern.load(job.dtypes[a], job.data[a], off + k, seg, r + k,
                    colsum.data() + a * job.hidden + c);
          k += seg;
        }
      } else {
        kern.load(job.dtypes[a], job.data[a], off, len, r, nullptr);
      }
      std::fill(r + len, r + padded, 0.f);  // padding contributes zero products
      if (job.request.mean_neuron && !rows_mean)
        add_row_sums(job.cols, r, off, len, acc.mean.data() + a * job.hidden);
    }
    if (rows_mean && (since_flush += len) >= kMeanFlushRows * job.cols) flush();
    if (job.request.gram) kern.gram(x.data(), n, block, padded, acc.gram.data());
    if (job.request.standardized_gram && n >= 2) {
      acc.skipped += kern.standardize(x.data(), n, block, padded, len);
      kern.gram(x.data(), n, block, padded, acc.sgram.data());
    }
  }
  if (rows_mean) flush();
}

// The shared engine of matrix_set_stats and gram_rows.
MatrixSetStats run_set(const SetJob& job, int max_threads) {
  const int64_t n = static_cast<int64_t>(job.data.size());
  // Block length: the N float rows of the scratch stay within ~24 KiB (L1) while every pair of
  // rows is multiplied, but at least 256 elements so the per-block float64 flush stays cheap.
  int64_t block = std::clamp<int64_t>(6144 / std::max<int64_t>(n, 1), 256, 4096);
  block = block / 16 * 16;
  const int64_t nblocks = (job.numel + block - 1) / block;
  // Threads get contiguous runs of whole blocks; no thread for less than ~64 K elements.
  const int threads =
      static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(max_threads, job.numel * n / 65536)));
  std::vector<SetAccumulator> accs(static_cast<std::size_t>(threads));
  for (auto& acc : accs) {
    if (job.request.gram) acc.gram.assign(static_cast<std::size_t>(n * n), 0.0);
    if (job.request.standardized_gram) acc.sgram.assign(static_cast<std::size_t>(n * n), 0.0);
    if (job.request.mean_neuron) acc.mean.assign(static_cast<std::size_t>(n * job.hidden), 0.0);
  }
  parallel_for(threads, threads, [&](int64_t t) {
    const int64_t b0 = nblocks * t / threads, b1 = nblocks * (t + 1) / threads;
    run_range(job, b0 * block, std::min(job.numel, b1 * block), block,
              accs[static_cast<std::size_t>(t)]);
  });

  MatrixSetStats out;
  auto merge_sym = [&](Matrix& m, std::vector<double> SetAccumulator::*field) {
    m = Matrix(n, n);
    for (const auto& acc : accs)
      for (int64_t a = 0; a < n; ++a)
        for (int64_t b = a; b < n; ++b) m(a, b) += (acc.*field)[a * n + b];
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < a; ++b) m(a, b) = m(b, a);
  };
  if (job.request.gram) merge_sym(out.gram, &SetAccumulator::gram);
  if (job.request.standardized_gram) {
    merge_sym(out.standardized_gram, &SetAccumulator::sgram);
    if (n < 2) out.skipped_positions = job.numel;
    for (const auto& acc : accs) out.skipped_positions += acc.skipped;
  }
  if (job.request.mean_neuron) {
    const int64_t count = job.numel / std::max<int64_t>(job.hidden, 1);  // neurons per matrix
    out.mean_neuron.assign(static_cast<std::size_t>(n),
                           std::vector<double>(static_cast<std::size_t>(job.hidden), 0.0));
    for (const auto& acc : accs)
      for (int64_t a = 0; a < n; ++a)
        for (int64_t h = 0; h < job.hidden; ++h)
          out.mean_neuron[a][h] += acc.mean[a * job.hidden + h];
    for (auto& v : out.mean_neuron)
      for (double& s : v) s /= static_cast<double>(count);
  }
  return out;
}

// Neurons of a matrix as contiguous float rows [count][len] (columns are transposed).
std::vector<float> neuron_rows(const TensorView& m, NeuronAxis axis) {
  const int64_t rows = m.rows(), cols = m.cols();
  std::vector<float> flat(static_cast<std::size_t>(rows * cols));
  if (m.plain())
    cpu::set_kernels().load(m.dtype, m.data, 0, rows * cols, flat.data(), nullptr);
  else
    m.read_float(0, rows * cols, flat.data());
  if (axis == NeuronAxis::Rows) return flat;
  std::vector<float> t(flat.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = flat[r * cols + c];
  return t;
}

// C[i][j] += dot(A_i, B_j) over len elements for i in [i0, i1), j in [j0, j1); rows padded to
// `stride` (multiple of kLanes) with zeros. Float sums over chunks of 512, added in float64.
MOEPROBE_MULTIVERSION
void cross_dots(const float* A, const float* B, int64_t stride, int64_t ni, int64_t nj, int64_t i0,
                int64_t i1, int64_t j0, int64_t j1, const float* zeros, double* C) {
  constexpr int64_t kChunk = 512;
  for (int64_t i = i0; i < i1; i += 2)
    for (int64_t j = j0; j < j1; j += 2) {
      const float* a0 = A + i * stride;
      const float* a1 = i + 1 < ni ? A + (i + 1) * stride : zeros;
      const float* b0 = B + j * stride;
      const float* b1 = j + 1 < nj ? B + (j + 1) * stride : zeros;
      double s[4] = {0, 0, 0, 0};
      for (int64_t k = 0; k < stride; k += kChunk) {
        const int64_t len = std::min(kChunk, stride - k);
        float t[4];
        dot_tile(a0 + k, a1 + k, b0 + k, b1 + k, len, t);
        for (int q = 0; q < 4; ++q) s[q] += t[q];
      }
      C[i * nj + j] = s[0];
      if (j + 1 < nj) C[i * nj + j + 1] = s[1];
      if (i + 1 < ni) C[(i + 1) * nj + j] = s[2];
      if (i + 1 < ni && j + 1 < nj) C[(i + 1) * nj + j + 1] = s[3];
    }
}

}  // namespace

CpuBackend::CpuBackend(int threads) : threads_(threads > 0 ? threads : default_threads()) {}

std::string CpuBackend::device() const {
  return std::to_string(threads_) + " CPU thread" + (threads_ == 1 ? "" : "s");
}

// Accuracy: every product is formed in float32 and summed in float32 only within a block of a
// few thousand elements (8 independent lanes, so each running sum has a few hundred terms); each
// block's partial sum is then added into a float64 accumulator. For BF16/F16 inputs the products
// are exact in float32 (8- and 11-bit significands), so the only error is the short float32 sums,
// whose relative error (~1e-6 of the block's |products|) is independent across blocks and averages
// out in the float64 total: a cosine over 20M elements matches the float64 reference to ~1e-8
// (tests/kernels check 1e-6). A single float32 sum over the whole vector would lose ~1e-3.
MatrixSetStats CpuBackend::matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                            const MatrixSetRequest& request) {
  check_matrix_set(mats, axis);
  SetJob job;
  for (const auto& m : mats) {
    job.data.push_back(m.plain() ? m.data : nullptr);
    job.views.push_back(&m);
    job.dtypes.push_back(m.dtype);
  }
  job.numel = mats[0].numel();
  job.cols = mats[0].cols();
  job.axis = axis;
  job.hidden = axis == NeuronAxis::Rows ? mats[0].cols() : mats[0].rows();
  job.request = request;
  MatrixSetStats out = run_set(job, threads_);
  if (request.gram) check_gram_finite(out.gram, mats);
  return out;
}

Matrix CpuBackend::gram_rows(const TensorView& m) {
  check_matrix(m);
  SetJob job;
  // One [cols] vector per row; a mapped matrix's rows are mapped sub-views.
  std::vector<TensorView> rows;
  if (!m.plain()) {
    rows.reserve(static_cast<std::size_t>(m.rows()));
    for (int64_t r = 0; r < m.rows(); ++r) rows.push_back(m.index0(r));
  }
  const std::size_t row_bytes = static_cast<std::size_t>(m.cols()) * dtype_size(m.dtype);
  for (int64_t r = 0; r < m.rows(); ++r) {
    job.data.push_back(m.plain() ? m.data + r * row_bytes : nullptr);
    job.views.push_back(m.plain() ? &m : &rows[static_cast<std::size_t>(r)]);
    job.dtypes.push_back(m.dtype);
  }
  job.numel = m.cols();
  job.cols = m.cols();
  job.hidden = m.cols();
  job.request = MatrixSetRequest{true, false, false};
  Matrix g = run_set(job, threads_).gram;
  check_rows_finite(g, m);
  return g;
}

namespace {
// Euclidean norms, accumulated in float64, of `count` rows of length `len` laid out `stride` apart.
std::vector<double> row_norms(const std::vector<float>& rows, int64_t count, int64_t len,
                              int64_t stride) {
  std::vector<double> out(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    double s = 0.0;
    for (int64_t k = 0; k < len; ++k)
      s += static_cast<double>(rows[i * stride + k]) * rows[i * stride + k];
    out[i] = std::sqrt(s);
  }
  return out;
}
}  // namespace

std::vector<double> CpuBackend::neuron_norms(const TensorView& m, NeuronAxis axis) {
  check_matrix(m);
  const int64_t count = axis == NeuronAxis::Rows ? m.rows() : m.cols();
  const int64_t len = axis == NeuronAxis::Rows ? m.cols() : m.rows();
  return row_norms(neuron_rows(m, axis), count, len, len);
}

Matrix CpuBackend::neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) {
  check_neuron_pair(a, b);
  const int64_t count = axis == NeuronAxis::Rows ? a.rows() : a.cols();
  const int64_t len = axis == NeuronAxis::Rows ? a.cols() : a.rows();
  const int64_t stride = (len + kLanes - 1) / kLanes * kLanes;
  // Neuron-major float copies, rows padded with zeros to a multiple of the lane count.
  auto padded_rows = [&](const TensorView& m) {
    const std::vector<float> r = neuron_rows(m, axis);
    std::vector<float> p(static_cast<std::size_t>(count * stride), 0.f);
    for (int64_t i = 0; i < count; ++i) std::copy_n(r.data() + i * len, len, p.data() + i * stride);
    return p;
  };
  const std::vector<float> A = padded_rows(a), B = padded_rows(b), zeros(stride, 0.f);
  const std::vector<double> na = row_norms(A, count, len, stride),
                            nb = row_norms(B, count, len, stride);
  Matrix c(count, count);
  // Blocks of B rows sized to stay in L2 (~512 KiB) while every A row passes over them; threads
  // take interleaved A row pairs.
  const int64_t jblock = std::max<int64_t>(2, (131072 / stride) / 2 * 2);
  const int threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads_, count * count * len / 1000000)));
  parallel_for(threads, threads, [&](int64_t t) {
    const int64_t pairs = (count + 1) / 2;
    const int64_t p0 = pairs * t / threads, p1 = pairs * (t + 1) / threads;
    for (int64_t j0 = 0; j0 < count; j0 += jblock)
      cross_dots(A.data(), B.data(), stride, count, count, 2 * p0, std::min(count, 2 * p1), j0,
                 std::min(count, j0 + jblock), zeros.data(), c.data.data());
  });
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < count; ++j) c(i, j) /= std::max(na[i] * nb[j], 1e-8);
  return c;
}

}  // namespace moeprobe
