// Backend::matrix_set_stats on the device. Chunk = `len` consecutive elements of every matrix,
// staged side by side, converted to float32 once and fed to every requested reduction; all
// accumulators are float64 and stay on the device until the end of the call.
#include <algorithm>
#include <string>

#include "kernels/backend_checks.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/gram.h"
#include "kernels/cuda/matrix_set_stats.h"
#include "kernels/staged_views.h"
#include "util/error.h"

namespace moeprobe::cuda {
namespace {

// The kernels fill the upper triangle; mirror it so the result is exactly symmetric.
void mirror_upper(const std::vector<double>& acc, int n, Matrix& m) {
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      m(a, b) = acc[static_cast<std::size_t>(std::min(a, b)) * n + std::max(a, b)];
}

}  // namespace

MatrixSetStats matrix_set_stats(CudaContext& ctx, const std::vector<TensorView>& mats,
                                NeuronAxis axis, const MatrixSetRequest& request) {
  MatrixSetStats out;
  check_matrix_set(mats, axis);
  const int64_t n_mats = static_cast<int64_t>(mats.size());
  if (n_mats > 65535)
    throw InputError(
        mats[0].file, mats[0].name,
        "the CUDA backend takes at most 65535 matrices per set, got " + std::to_string(n_mats));
  const int n = static_cast<int>(n_mats);
  const int64_t rows = mats[0].rows(), cols = mats[0].cols(), numel = rows * cols;
  const int64_t h = axis == NeuronAxis::Rows ? cols : rows;        // neuron length
  const int64_t neurons = axis == NeuronAxis::Rows ? rows : cols;  // averaged over

  if (request.gram) out.gram = Matrix(n, n);
  if (request.standardized_gram) out.standardized_gram = Matrix(n, n);
  if (request.mean_neuron)
    out.mean_neuron.assign(static_cast<std::size_t>(n),
                           std::vector<double>(static_cast<std::size_t>(h), 0.0));
  if (numel == 0 || (!request.gram && !request.standardized_gram && !request.mean_neuron))
    return out;

  // The mean neurons need whole rows in a chunk (column c of a chunk is column c of the matrix);
  // the Grams take any split. Quantised views travel as codes and scales (kernels/staged_views.h).
  const staged::ChunkLayout layout =
      staged::chunk_layout(mats, ctx.options().chunk_bytes, request.mean_neuron ? cols : 1);
  const int64_t len = layout.len;

  StagingPipeline& staging = ctx.staging();
  const cudaStream_t stream = ctx.compute_stream();
  staging.ensure(layout.bytes(n));
  float* X = ctx.scratch("set.x").as<float>(static_cast<std::size_t>(n) * len);
  float* Z = request.standardized_gram
                 ? ctx.scratch("set.z").as<float>(static_cast<std::size_t>(n) * len)
                 : nullptr;
  double* partial = ctx.scratch("set.partial").as<double>(gram_partial_doubles(n, ctx.num_sms()));
  const std::size_t nn = static_cast<std::size_t>(n) * n;
  double* acc_gram = ctx.scratch("set.gram").as<double>(nn);
  double* acc_std = ctx.scratch("set.std_gram").as<double>(nn);
  double* sums = ctx.scratch("set.sums").as<double>(static_cast<std::size_t>(n) * h);
  auto* skipped = ctx.scratch("set.skipped").as<unsigned long long>(1);
  MOEPROBE_CUDA_CHECK(cudaMemsetAsync(acc_gram, 0, nn * sizeof(double), stream));
  MOEPROBE_CUDA_CHECK(cudaMemsetAsync(acc_std, 0, nn * sizeof(double), stream));
  MOEPROBE_CUDA_CHECK(
      cudaMemsetAsync(sums, 0, static_cast<std::size_t>(n) * h * sizeof(double), stream));
  MOEPROBE_CUDA_CHECK(cudaMemsetAsync(skipped, 0, sizeof(unsigned long long), stream));

  std::vector<staged::ArrayDesc> descs;
  std::vector<Piece> pieces;
  for (int64_t f0 = 0; f0 < numel; f0 += len) {
    const int64_t clen = std::min(len, numel - f0);
    staged::plan_chunk(mats, layout, f0, clen, descs, pieces);
    const StagedChunk raw = staging.stage(pieces);
    launch_decode_chunk<float>(raw.data, n, clen, X, len, stream);
    staging.consume(raw.slot);  // X holds the chunk now; the raw slot can take the chunk after next
    if (request.gram)
      launch_gram_accumulate(X, len, n, clen, partial, acc_gram, ctx.num_sms(), stream);
    if (request.standardized_gram) {
      launch_standardize(X, len, n, clen, Z, skipped, stream);
      launch_gram_accumulate(Z, len, n, clen, partial, acc_std, ctx.num_sms(), stream);
    }
    if (request.mean_neuron) {
      const int64_t chunk_rows = clen / cols, row0 = f0 / cols;
      if (axis == NeuronAxis::Rows)
        launch_column_sums(X, len, n, chunk_rows, cols, sums, stream);
      else
        launch_row_sums(X, len, n, chunk_rows, cols, sums + row0, h, stream);
    }
  }

  std::vector<double> host_gram(request.gram ? nn : 0),
      host_std(request.standardized_gram ? nn : 0);
  std::vector<double> host_sums(request.mean_neuron ? static_cast<std::size_t>(n) * h : 0);
  unsigned long long host_skipped = 0;
  ctx.download(host_gram.data(), acc_gram, host_gram.size());
  ctx.download(host_std.data(), acc_std, host_std.size());
  ctx.download(host_sums.data(), sums, host_sums.size());
  if (request.standardized_gram) ctx.download(&host_skipped, skipped, 1);
  ctx.synchronize();

  if (request.gram) {
    mirror_upper(host_gram, n, out.gram);
    check_gram_finite(out.gram, mats);
  }
  if (request.standardized_gram) {
    mirror_upper(host_std, n, out.standardized_gram);
    out.skipped_positions = static_cast<int64_t>(host_skipped);
  }
  if (request.mean_neuron)
    for (int r = 0; r < n; ++r)
      for (int64_t j = 0; j < h; ++j)
        out.mean_neuron[r][j] = host_sums[static_cast<std::size_t>(r) * h + j] / neurons;
  return out;
}

}  // namespace moeprobe::cuda
