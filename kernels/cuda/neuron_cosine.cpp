// Backend::neuron_cosine on the device: both matrices uploaded converted to T (float64 on GPUs
// with full-rate float64, else float32), every neuron scaled to unit length, then the cosine
// matrix is one cuBLAS product, computed and copied out in blocks of rows.
#include <algorithm>
#include <type_traits>
#include <utility>

#include "kernels/backend_checks.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/neuron_cosine.h"
#include "util/error.h"

namespace moeprobe::cuda {
namespace {

template <typename T>
Matrix cosine_as(CudaContext& ctx, const TensorView& a, const TensorView& b, bool by_rows,
                 int64_t ia, int64_t ib, int64_t h, Matrix out) {
  const cudaStream_t stream = ctx.compute_stream();
  T* A = ctx.scratch("cosine.a").as<T>(static_cast<std::size_t>(ia * h));
  T* B = ctx.scratch("cosine.b").as<T>(static_cast<std::size_t>(ib * h));
  double* inv_a = ctx.scratch("cosine.inv_a").as<double>(static_cast<std::size_t>(ia));
  double* inv_b = ctx.scratch("cosine.inv_b").as<double>(static_cast<std::size_t>(ib));
  upload_converted<T>(ctx, a, A);
  upload_converted<T>(ctx, b, B);
  // Unit neurons, then one product: cos(a_i, b_j) = <a_i / |a_i|, b_j / |b_j|>.
  launch_neuron_inv_norms<T>(A, a.rows(), a.cols(), by_rows, inv_a, stream);
  launch_neuron_inv_norms<T>(B, b.rows(), b.cols(), by_rows, inv_b, stream);
  launch_scale_neurons<T>(A, a.rows(), a.cols(), by_rows, inv_a, stream);
  launch_scale_neurons<T>(B, b.rows(), b.cols(), by_rows, inv_b, stream);

  // Output in blocks of rows of the I_a x I_b result so device memory stays bounded; each block
  // is a contiguous run of the row-major result, copied straight into `out`.
  constexpr std::size_t kBlockBytes = std::size_t{512} << 20;
  const int64_t block_rows = std::max<int64_t>(
      1, std::min<int64_t>(ia, static_cast<int64_t>(kBlockBytes / (sizeof(double) * ib))));
  T* C = ctx.scratch("cosine.c").as<T>(static_cast<std::size_t>(block_rows * ib));
  double* C64 = nullptr;
  if constexpr (!std::is_same_v<T, double>)
    C64 = ctx.scratch("cosine.c64").as<double>(static_cast<std::size_t>(block_rows * ib));
  const int m = static_cast<int>(ib), k = static_cast<int>(h);
  for (int64_t i0 = 0; i0 < ia; i0 += block_rows) {
    const int nb = static_cast<int>(std::min(block_rows, ia - i0));
    // cuBLAS is column-major: the row-major block out[i0 .. i0+nb, :] is the column-major
    // I_b x nb matrix C with C[j, i] = <b_j, a_(i0+i)>.
    //  by rows: a, b row-major [I, H] = column-major H x I (ld H), whose column i is neuron i:
    //           C = B^T (I_b x H) * A_block (H x nb), A_block starting at column i0.
    //  by cols: a, b row-major [H, I] = column-major I x H (ld I), whose row i is neuron i:
    //           C = B (I_b x H) * A_block^T (H x nb), A_block starting at row i0.
    const cublasOperation_t op_b = by_rows ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = by_rows ? CUBLAS_OP_N : CUBLAS_OP_T;
    const int ldb = by_rows ? k : m;
    const int lda = by_rows ? k : static_cast<int>(ia);
    const T* a_block = by_rows ? A + i0 * h : A + i0;
    if constexpr (std::is_same_v<T, double>) {
      const double one = 1.0, zero = 0.0;
      MOEPROBE_CUBLAS_CHECK(
          cublasDgemm(ctx.cublas(), op_b, op_a, m, nb, k, &one, B, ldb, a_block, lda, &zero, C, m));
      ctx.download(out.data.data() + i0 * ib, C, static_cast<std::size_t>(nb) * ib);
    } else {
      const float one = 1.0f, zero = 0.0f;
      // float32 inputs and float32 compute type: no TF32 rounding of the inputs.
      MOEPROBE_CUBLAS_CHECK(cublasGemmEx(ctx.cublas(), op_b, op_a, m, nb, k, &one, B, CUDA_R_32F,
                                         ldb, a_block, CUDA_R_32F, lda, &zero, C, CUDA_R_32F, m,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      launch_float_to_double(C, static_cast<int64_t>(nb) * ib, C64, stream);
      ctx.download(out.data.data() + i0 * ib, C64, static_cast<std::size_t>(nb) * ib);
    }
    // C is reused by the next block: wait for the copy out.
    ctx.synchronize();
  }
  return out;
}

}  // namespace

Matrix neuron_cosine(CudaContext& ctx, const TensorView& a, const TensorView& b, NeuronAxis axis) {
  check_neuron_pair(a, b);  // one shape: the cosine matrix is I x I
  const bool by_rows = axis == NeuronAxis::Rows;
  const int64_t ia = by_rows ? a.rows() : a.cols(), ib = by_rows ? b.rows() : b.cols();
  const int64_t h = by_rows ? a.cols() : a.rows();
  Matrix out(ia, ib);
  if (ia == 0 || ib == 0) return out;
  const int64_t kIntMax = 2147483647;
  if (ia > kIntMax || ib > kIntMax || h > kIntMax)
    throw InputError(a.file, a.name, "matrix dimensions exceed the cuBLAS int range");
  using Gemm = CudaBackendOptions::CosineGemm;
  const Gemm gemm = ctx.options().cosine_gemm;
  const bool f64 = gemm == Gemm::Float64 || (gemm == Gemm::Auto && ctx.full_rate_fp64());
  return f64 ? cosine_as<double>(ctx, a, b, by_rows, ia, ib, h, std::move(out))
             : cosine_as<float>(ctx, a, b, by_rows, ia, ib, h, std::move(out));
}

}  // namespace moeprobe::cuda
