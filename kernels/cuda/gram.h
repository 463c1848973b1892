// The Gram kernel (gram.cu), shared by matrix_set_stats and gram_rows, and the gram_rows host
// entry (gram.cpp).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace moeprobe::cuda {

class CudaContext;

// acc[a * n + b] += sum_k X[a, k] * X[b, k] for a <= b (the upper triangle incl. the diagonal;
// the lower triangle of acc is not written). Products are summed in float32 over blocks of 32
// elements and the block sums in float64, in a fixed order (deterministic). `partial` is scratch
// of at least gram_partial_doubles(n, num_sms) doubles.
std::size_t gram_partial_doubles(int n, int num_sms);
void launch_gram_accumulate(const float* X, int64_t ld, int n, int64_t len, double* partial,
                            double* acc, int num_sms, cudaStream_t stream);

// Backend::gram_rows: the Gram matrix of the rows of m, streamed as a set of [1, D] matrices.
Matrix gram_rows(CudaContext& ctx, const TensorView& m);

}  // namespace moeprobe::cuda
