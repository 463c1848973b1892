#include <algorithm>
#include <vector>

#include "kernels/all_experts_common.h"
#include "kernels/cpu/all_experts_cpu.h"
#include "kernels/cuda/all_experts.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/staged_views.h"
#include "util/parallel_for.h"

namespace moeprobe::cuda {
namespace {

int activation_code(Activation a) {
  return a == Activation::SiLU ? 0 : a == Activation::GELU ? 1 : 2;
}

// Rows [r0, r1) of m onto the device as float32 at dev: staged as kernels/staged_views.h plans
// it (quantised views as their codes and scale rows, decoded on the device; transposed ones
// decoded on the host), gathered into `pinned`, copied to `raw`, decoded. Synchronous: both
// buffers are reused by the next call.
void upload_rows(CudaContext& ctx, PinnedBuffer& pinned, DeviceBuffer& raw, const TensorView& m,
                 int64_t r0, int64_t r1, float* dev) {
  const int64_t cols = m.cols(), f0 = r0 * cols, count = (r1 - r0) * cols;
  if (count <= 0) return;
  const std::vector<TensorView> one = {m};
  staged::ChunkLayout layout;
  layout.len = count;
  layout.header = 256;
  static_assert(sizeof(staged::ArrayDesc) <= 256, "one descriptor fits the header");
  layout.stride = staged::plan_array(m, 0, f0, count).bytes;
  std::vector<staged::ArrayDesc> descs;
  std::vector<staged::Piece> pieces;
  staged::plan_chunk(one, layout, f0, count, descs, pieces);
  const std::size_t bytes = layout.bytes(1);
  unsigned char* host = pinned.ensure(bytes);
  staged::gather(host, pieces);
  auto* chunk = static_cast<unsigned char*>(raw.ensure(bytes));
  MOEPROBE_CUDA_CHECK(
      cudaMemcpyAsync(chunk, host, bytes, cudaMemcpyHostToDevice, ctx.compute_stream()));
  launch_decode_chunk<float>(chunk, 1, count, dev, count, ctx.compute_stream());
  ctx.synchronize();
}

// Row-major C[rows_c, cols_c] = A[rows_c, k] B[cols_c, k]^T (+ beta C), in cuBLAS's column-major
// terms C^T = B A^T.
void gemm_nt(CudaContext& ctx, int64_t rows_c, int64_t cols_c, int64_t k, const float* A,
             int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const float one = 1.0f;
  MOEPROBE_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N,
                                    static_cast<int>(cols_c), static_cast<int>(rows_c),
                                    static_cast<int>(k), &one, B, static_cast<int>(ldb), A,
                                    static_cast<int>(lda), &beta, C, static_cast<int>(ldc)));
}

// For each of `batch` tokens t: G_t (+)= M_t M_t^T with M_t the n x k row-major matrix whose row
// a starts at M + t * k + a * row_stride.
void batched_gram(CudaContext& ctx, int n, int64_t k, const float* M, int64_t row_stride,
                  int64_t batch, float beta, float* G) {
  const float one = 1.0f;
  MOEPROBE_CUBLAS_CHECK(cublasSgemmStridedBatched(
      ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, n, n, static_cast<int>(k), &one, M,
      static_cast<int>(row_stride), k, M, static_cast<int>(row_stride), k, &beta, G, n,
      static_cast<long long>(n) * n, static_cast<int>(batch)));
}

}  // namespace

AllExpertsStats all_experts(CudaContext& ctx, const AllExpertsRequest& r) {
  check_all_experts_request(r);
  constexpr std::size_t kMaxThresholds = 8;  // all_experts.cu
  if (r.activation_thresholds.size() > kMaxThresholds) return cpu_all_experts(r, 0);
  // Expert biases and gpt-oss's clamped GLU are not in the device kernels: such requests run
  // on the CPU path, which computes the same statistics.
  for (const FfnEntity& e : r.entities) {
    if (e.activation.kind == Activation::ClampedSwiGLU) return cpu_all_experts(r, 0);
    for (const ExpertWeights& w : e.parts)
      if (w.act_bias || w.up_bias || w.down_bias) return cpu_all_experts(r, 0);
  }
  const int64_t T = r.tokens.dim(0), H = r.tokens.dim(1);
  const int N = static_cast<int>(r.entities.size()), E = r.num_experts;
  const int Q = static_cast<int>(r.activation_thresholds.size());
  const bool corr = r.act_correlation && E >= 2;
  std::vector<int64_t> width, offset;
  int64_t total_width = 0, max_part = 0;
  for (const auto& e : r.entities) {
    offset.push_back(total_width);
    width.push_back(e.neurons());
    total_width += e.neurons();
    for (const auto& p : e.parts) max_part = std::max(max_part, p.intermediate());
  }
  const int64_t I0 = E > 0 ? width[0] : 0;
  const int64_t hc = std::min<int64_t>(H, 4096);  // hidden rows of W_down per chunk

  // Token block: what the free device memory holds beside one part's weights.
  std::size_t free_bytes = 0, total_bytes = 0;
  MOEPROBE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const double weights = 4.0 * (2 * max_part * H + hc * max_part);
  const double per_token = 4.0 * (H + total_width + 2 * max_part + N * hc + N * N +
                                  (corr ? E * I0 + E * E : 0) + Q * N) +
                           8.0 * (corr ? E : 0);
  const double budget = r.block_bytes
                            ? static_cast<double>(r.block_bytes)
                            : std::max(0.0, 0.6 * static_cast<double>(free_bytes) - weights);
  const int64_t B = std::clamp<int64_t>(static_cast<int64_t>(budget / per_token), 1,
                                        std::min<int64_t>(std::max<int64_t>(T, 1), 65535));

  float* d_x = ctx.scratch("all_experts.x").as<float>(static_cast<std::size_t>(B * H));
  float* d_hh = ctx.scratch("all_experts.hh").as<float>(static_cast<std::size_t>(B * total_width));
  float* d_a = ctx.scratch("all_experts.pre_a").as<float>(static_cast<std::size_t>(B * max_part));
  float* d_u = ctx.scratch("all_experts.pre_u").as<float>(static_cast<std::size_t>(B * max_part));
  float* d_y = ctx.scratch("all_experts.y").as<float>(static_cast<std::size_t>(N * B * hc));
  float* d_g = ctx.scratch("all_experts.gram").as<float>(static_cast<std::size_t>(B * N * N));
  float* d_wa = ctx.scratch("all_experts.w_act").as<float>(static_cast<std::size_t>(max_part * H));
  float* d_wu = ctx.scratch("all_experts.w_up").as<float>(static_cast<std::size_t>(max_part * H));
  float* d_wd =
      ctx.scratch("all_experts.w_down").as<float>(static_cast<std::size_t>(hc * max_part));
  int* d_counts = ctx.scratch("all_experts.counts").as<int>(static_cast<std::size_t>(N * Q * B));
  float* d_thr = ctx.scratch("all_experts.thresholds").as<float>(kMaxThresholds);
  float* d_acts =
      corr ? ctx.scratch("all_experts.acts").as<float>(static_cast<std::size_t>(E * B * I0))
           : nullptr;
  double* d_sums =
      corr ? ctx.scratch("all_experts.sums").as<double>(static_cast<std::size_t>(E * B)) : nullptr;
  float* d_cross =
      corr ? ctx.scratch("all_experts.cross").as<float>(static_cast<std::size_t>(B * E * E))
           : nullptr;
  const cudaStream_t stream = ctx.compute_stream();
  std::vector<float> thr(r.activation_thresholds.begin(), r.activation_thresholds.end());
  if (Q > 0)
    MOEPROBE_CUDA_CHECK(
        cudaMemcpyAsync(d_thr, thr.data(), thr.size() * 4, cudaMemcpyHostToDevice, stream));

  PinnedBuffer pinned;
  DeviceBuffer& raw = ctx.scratch("all_experts.raw");
  AllExpertsAccumulator acc(r);
  std::vector<float> x(static_cast<std::size_t>(B * H)), g(static_cast<std::size_t>(B * N * N));
  std::vector<double> gram(g.size()), cross(corr ? static_cast<std::size_t>(B * E * E) : 0),
      sums(corr ? static_cast<std::size_t>(E * B) : 0), st(corr ? static_cast<std::size_t>(E) : 0);
  std::vector<float> crossf(cross.size());
  std::vector<int> counts(static_cast<std::size_t>(N * Q * B));

  for (int64_t t0 = 0; t0 < T; t0 += B) {
    const int64_t nb = std::min(B, T - t0);
    r.tokens.read_float(t0 * H, nb * H, x.data());
    MOEPROBE_CUDA_CHECK(cudaMemcpyAsync(d_x, x.data(), static_cast<std::size_t>(nb * H) * 4,
                                        cudaMemcpyHostToDevice, stream));
    MOEPROBE_CUDA_CHECK(cudaMemsetAsync(d_counts, 0, counts.size() * sizeof(int), stream));
    if (corr) MOEPROBE_CUDA_CHECK(cudaMemsetAsync(d_sums, 0, sums.size() * 8, stream));

    // Phase 1: hh = act(X W_act^T) * (X W_up^T), part by part.
    for (int n = 0; n < N; ++n) {
      const FfnEntity& ent = r.entities[static_cast<std::size_t>(n)];
      float* hn = d_hh + offset[static_cast<std::size_t>(n)] * nb;
      int64_t off = 0;
      for (const ExpertWeights& w : ent.parts) {
        const int64_t I = w.intermediate();
        upload_rows(ctx, pinned, raw, w.act, 0, I, d_wa);
        upload_rows(ctx, pinned, raw, w.up, 0, I, d_wu);
        gemm_nt(ctx, nb, I, H, d_x, H, d_wa, H, 0.0f, d_a, I);
        gemm_nt(ctx, nb, I, H, d_x, H, d_wu, H, 0.0f, d_u, I);
        const bool keep = corr && n < E;
        launch_act_mul(d_a, d_u, nb, I, activation_code(ent.activation.kind), hn,
                       width[static_cast<std::size_t>(n)], off, d_thr, Q,
                       d_counts + static_cast<int64_t>(n) * Q * nb,
                       keep ? d_acts + static_cast<int64_t>(n) * nb * I0 : nullptr, I0, off,
                       keep ? d_sums + static_cast<int64_t>(n) * nb : nullptr, stream);
        off += I;
      }
    }
    if (corr) batched_gram(ctx, E, I0, d_acts, nb * I0, nb, 0.0f, d_cross);

    // Phase 2: Y = hh W_down^T in hidden chunks, each token's entity Gram accumulated.
    for (int64_t h0 = 0; h0 < H; h0 += hc) {
      const int64_t rows = std::min(hc, H - h0);
      for (int n = 0; n < N; ++n) {
        const FfnEntity& ent = r.entities[static_cast<std::size_t>(n)];
        const float* hn = d_hh + offset[static_cast<std::size_t>(n)] * nb;
        float* yn = d_y + static_cast<int64_t>(n) * nb * rows;
        int64_t off = 0;
        for (std::size_t k = 0; k < ent.parts.size(); ++k) {
          const ExpertWeights& w = ent.parts[k];
          const int64_t I = w.intermediate();
          upload_rows(ctx, pinned, raw, w.down, h0, h0 + rows, d_wd);
          gemm_nt(ctx, nb, rows, I, hn + off, width[static_cast<std::size_t>(n)], d_wd, I,
                  k == 0 ? 0.0f : 1.0f, yn, rows);
          off += I;
        }
      }
      batched_gram(ctx, N, rows, d_y, nb * rows, nb, h0 == 0 ? 0.0f : 1.0f, d_g);
    }

    ctx.download(g.data(), d_g, static_cast<std::size_t>(nb * N * N));
    ctx.download(counts.data(), d_counts, static_cast<std::size_t>(N * Q * nb));
    if (corr) {
      ctx.download(crossf.data(), d_cross, static_cast<std::size_t>(nb * E * E));
      ctx.download(sums.data(), d_sums, static_cast<std::size_t>(E * nb));
    }
    ctx.synchronize();
    for (int64_t i = 0; i < nb * N * N; ++i) gram[static_cast<std::size_t>(i)] = g[i];
    apply_sigmoid_gates(r, x.data(), nb, gram.data());
    mirror_upper(gram.data(), nb, N);  // the batched GEMM filled both triangles; harmless
    for (int64_t t = 0; t < nb; ++t) {
      for (int n = 0; n < N; ++n)
        for (int q = 0; q < Q; ++q)
          acc.set_active_count(static_cast<std::size_t>(q), t0 + t, n,
                               counts[static_cast<std::size_t>((n * Q + q) * nb + t)]);
      if (corr) {
        for (int64_t i = 0; i < E * E; ++i)
          cross[static_cast<std::size_t>(t * E * E + i)] =
              crossf[static_cast<std::size_t>(t * E * E + i)];
        for (int e = 0; e < E; ++e) st[e] = sums[static_cast<std::size_t>(e * nb + t)];
        acc.set_act_correlation(t0 + t, cross.data() + t * E * E, st.data(), I0);
      }
    }
    acc.add_tokens(t0, nb, gram.data(), default_threads());
  }
  return acc.take();
}

}  // namespace moeprobe::cuda
