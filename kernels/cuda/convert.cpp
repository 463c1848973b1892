#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cuda/context.h"
#include "kernels/cuda/convert.h"
#include "kernels/staged_views.h"

namespace moeprobe::cuda {

template <typename T>
void upload_converted(CudaContext& ctx, const TensorView& v, T* dst) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  const int64_t numel = v.numel();
  if (numel == 0) return;
  const std::vector<TensorView> one = {v};
  const staged::ChunkLayout layout = staged::chunk_layout(one, ctx.options().chunk_bytes, 1);
  StagingPipeline& staging = ctx.staging();
  staging.ensure(layout.bytes(1));
  std::vector<staged::ArrayDesc> descs;
  std::vector<Piece> pieces;
  for (int64_t f0 = 0; f0 < numel; f0 += layout.len) {
    const int64_t clen = std::min(layout.len, numel - f0);
    staged::plan_chunk(one, layout, f0, clen, descs, pieces);
    const StagedChunk raw = staging.stage(pieces);
    launch_decode_chunk<T>(raw.data, 1, clen, dst + f0, clen, ctx.compute_stream());
    staging.consume(raw.slot);
  }
}

template void upload_converted<float>(CudaContext&, const TensorView&, float*);
template void upload_converted<double>(CudaContext&, const TensorView&, double*);

}  // namespace moeprobe::cuda
