#include <algorithm>
#include <type_traits>

#include "kernels/cuda/context.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/mapped_views.h"

namespace moeprobe::cuda {

template <typename T>
void upload_converted(CudaContext& ctx, const TensorView& v, T* dst) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  const std::size_t esize = staged_element_size(v);
  const int code = staged_dtype_code(v);
  const int64_t numel = v.numel();
  const int64_t len = std::min(
      std::max<int64_t>(1, static_cast<int64_t>(ctx.options().chunk_bytes / esize)), numel);
  StagingPipeline& staging = ctx.staging();
  staging.ensure(round_up(static_cast<std::size_t>(len) * esize, 256));
  for (int64_t f0 = 0; f0 < numel; f0 += len) {
    const int64_t clen = std::min(len, numel - f0);
    const StagedChunk raw = staging.stage({staged_piece(v, 0, f0, clen)});
    if constexpr (std::is_same_v<T, double>)
      launch_convert_to_double(raw.data, code, clen, dst + f0, ctx.compute_stream());
    else
      launch_convert_to_float(raw.data, 0, nullptr, code, 1, clen, dst + f0, clen,
                              ctx.compute_stream());
    staging.consume(raw.slot);
  }
}

template void upload_converted<float>(CudaContext&, const TensorView&, float*);
template void upload_converted<double>(CudaContext&, const TensorView&, double*);

}  // namespace moeprobe::cuda
