// The CPU all-experts evaluation (kernels/backend.h): token blocks sized to a memory budget; per
// block, every entity's weights are converted to float32 in row chunks through
// TensorView::read_float (so quantised views dequantise here unchanged) and multiplied with
// cblas_sgemm, each thread converting and multiplying its own rows; the per-token output Grams
// are accumulated chunk by chunk over the hidden dimension (ssyrk) in float64.
#pragma once

#include "kernels/backend.h"

namespace moeprobe {

// threads <= 0: default_threads().
AllExpertsStats cpu_all_experts(const AllExpertsRequest& request, int threads);

// The token block length the CPU path uses for a request: as many tokens as the scratch
// budget (request.block_bytes, default kDefaultAllExpertsBlockBytes) holds, at least 1.
int64_t cpu_all_experts_block(const AllExpertsRequest& request, int threads);
constexpr std::size_t kDefaultAllExpertsBlockBytes = std::size_t{512} << 20;

}  // namespace moeprobe
