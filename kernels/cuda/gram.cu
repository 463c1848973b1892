// Gram matrix of the rows of a float32 matrix X [n, len]: acc[a, b] += <X[a, :], X[b, :]>.
//
// n is small (experts of a layer, at most a few hundred) and len is huge (millions of element
// positions per chunk), so this is a split-K product: every thread block owns one tile of the
// output's upper triangle and one slice of the positions; it stages 32 positions of its two row
// blocks in shared memory, and each thread sums its R x R outputs over those 32 products in
// float32 before adding them to float64 accumulators (the accuracy contract in kernels/backend.h).
// Blocks write their partial tiles to scratch and a second kernel sums them in a fixed order, so
// results are reproducible run to run (no floating-point atomics).
#include "kernels/cuda/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gram.h"

namespace moeprobe::cuda {
namespace {

constexpr int kThreads = 256;  // a 16 x 16 thread grid; thread (ty, tx) owns R x R outputs
constexpr int kSlab = 32;      // positions per shared-memory stage = float32 block length

// Tile pair index p (0 .. nt(nt+1)/2 - 1) -> (ta, tb) with ta <= tb, row by row.
__device__ __forceinline__ void decode_tile_pair(int p, int nt, int& ta, int& tb) {
  int a = 0;
  while (p >= nt - a) {
    p -= nt - a;
    ++a;
  }
  ta = a;
  tb = a + p;
}

template <int R>
__global__ void __launch_bounds__(kThreads)
    gram_tile_kernel(const float* __restrict__ X, int64_t ld, int n, int64_t len, int nt,
                     int64_t kslice, double* __restrict__ partial) {
  constexpr int T = 16 * R;  // output tile edge
  // +1 column of padding: threads of a warp read 16 different rows at the same position, and an
  // odd row pitch puts them in 16 different banks.
  __shared__ float As[T][kSlab + 1];
  __shared__ float Bs[T][kSlab + 1];

  int ta, tb;
  decode_tile_pair(static_cast<int>(blockIdx.x), nt, ta, tb);
  const int tx = threadIdx.x % 16;
  const int ty = threadIdx.x / 16;
  const int64_t kbeg = static_cast<int64_t>(blockIdx.y) * kslice;
  const int64_t kend = kbeg + kslice < len ? kbeg + kslice : len;

  double acc[R][R];
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int j = 0; j < R; ++j) acc[i][j] = 0.0;

  for (int64_t k0 = kbeg; k0 < kend; k0 += kSlab) {
    // Stage T rows x 32 positions of both row blocks; a warp reads 32 consecutive floats of one
    // row (coalesced). Rows past n and positions past kend are zero, so they add nothing.
    for (int idx = threadIdx.x; idx < T * kSlab; idx += kThreads) {
      const int r = idx / kSlab;
      const int c = idx % kSlab;
      const int64_t k = k0 + c;
      const int a = ta * T + r;
      const int b = tb * T + r;
      const bool in_slice = k < kend;
      As[r][c] = (in_slice && a < n) ? X[a * ld + k] : 0.0f;
      Bs[r][c] = (in_slice && b < n) ? X[b * ld + k] : 0.0f;
    }
    __syncthreads();

    float part[R][R];
#pragma unroll
    for (int i = 0; i < R; ++i)
#pragma unroll
      for (int j = 0; j < R; ++j) part[i][j] = 0.0f;
#pragma unroll 8
    for (int c = 0; c < kSlab; ++c) {
      float av[R], bv[R];
#pragma unroll
      for (int i = 0; i < R; ++i) av[i] = As[ty + 16 * i][c];
#pragma unroll
      for (int j = 0; j < R; ++j) bv[j] = Bs[tx + 16 * j][c];
#pragma unroll
      for (int i = 0; i < R; ++i)
#pragma unroll
        for (int j = 0; j < R; ++j) part[i][j] = fmaf(av[i], bv[j], part[i][j]);
    }
#pragma unroll
    for (int i = 0; i < R; ++i)
#pragma unroll
      for (int j = 0; j < R; ++j) acc[i][j] += static_cast<double>(part[i][j]);
    __syncthreads();  // the next stage overwrites As/Bs
  }

  double* out = partial + (static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x) * (T * T);
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int j = 0; j < R; ++j) out[(ty + 16 * i) * T + (tx + 16 * j)] = acc[i][j];
}

// One thread per output element of every tile: sums the slices in slice order and adds the sum
// to acc. Each acc element has exactly one writer per launch.
template <int R>
__global__ void gram_reduce_kernel(const double* __restrict__ partial, int slices, int pairs,
                                   int nt, int n, double* __restrict__ acc) {
  constexpr int T = 16 * R;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(pairs) * T * T) return;
  const int p = static_cast<int>(idx / (T * T));
  const int e = static_cast<int>(idx % (T * T));
  int ta, tb;
  decode_tile_pair(p, nt, ta, tb);
  const int a = ta * T + e / T;
  const int b = tb * T + e % T;
  if (a >= n || b >= n) return;
  double s = 0.0;
  for (int y = 0; y < slices; ++y)
    s += partial[(static_cast<int64_t>(y) * pairs + p) * (T * T) + e];
  acc[static_cast<int64_t>(a) * n + b] += s;
}

// Micro-tile size by set size: small sets waste fewer threads on tiles past n, large sets reuse
// each staged value R times per thread.
int micro_tile(int n) {
  return n <= 16 ? 1 : (n <= 32 ? 2 : 4);
}

struct GramPlan {
  int r, tile, nt, pairs, slices;
  int64_t kslice;
};

// About 8 resident blocks per SM in total; the slice count shrinks when positions are few so
// every block runs at least 4 stages.
GramPlan plan_gram(int n, int64_t len, int num_sms) {
  GramPlan g{};
  g.r = micro_tile(n);
  g.tile = 16 * g.r;
  g.nt = (n + g.tile - 1) / g.tile;
  g.pairs = g.nt * (g.nt + 1) / 2;
  const int64_t target = 8 * static_cast<int64_t>(num_sms > 0 ? num_sms : 1);
  int64_t slices = target / g.pairs;
  if (slices < 1) slices = 1;
  const int64_t useful = (len + 4 * kSlab - 1) / (4 * kSlab);
  if (slices > useful) slices = useful;
  if (slices < 1) slices = 1;
  const int64_t per = (len + slices - 1) / slices;
  g.kslice = (per + kSlab - 1) / kSlab * kSlab;
  if (g.kslice < kSlab) g.kslice = kSlab;
  g.slices = static_cast<int>((len + g.kslice - 1) / g.kslice);
  if (g.slices < 1) g.slices = 1;
  return g;
}

template <int R>
void run_gram(const GramPlan& g, const float* X, int64_t ld, int n, int64_t len, double* partial,
              double* acc, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(g.pairs), static_cast<unsigned>(g.slices));
  gram_tile_kernel<R><<<grid, kThreads, 0, stream>>>(X, ld, n, len, g.nt, g.kslice, partial);
  MOEPROBE_CUDA_CHECK_LAUNCH();
  const int64_t outputs = static_cast<int64_t>(g.pairs) * g.tile * g.tile;
  gram_reduce_kernel<R><<<grid_for(outputs, kThreads, INT32_MAX), kThreads, 0, stream>>>(
      partial, g.slices, g.pairs, g.nt, n, acc);
  MOEPROBE_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t gram_partial_doubles(int n, int num_sms) {
  // The largest plan for this n: len large enough that `useful` does not cap the slices.
  const GramPlan g = plan_gram(n, INT64_MAX / 2, num_sms);
  return static_cast<std::size_t>(g.slices) * g.pairs * g.tile * g.tile;
}

void launch_gram_accumulate(const float* X, int64_t ld, int n, int64_t len, double* partial,
                            double* acc, int num_sms, cudaStream_t stream) {
  if (n <= 0 || len <= 0) return;
  const GramPlan g = plan_gram(n, len, num_sms);
  switch (g.r) {
    case 1:
      run_gram<1>(g, X, ld, n, len, partial, acc, stream);
      break;
    case 2:
      run_gram<2>(g, X, ld, n, len, partial, acc, stream);
      break;
    default:
      run_gram<4>(g, X, ld, n, len, partial, acc, stream);
      break;
  }
}

}  // namespace moeprobe::cuda
