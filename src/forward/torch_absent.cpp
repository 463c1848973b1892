// Stands in for forward_torch.cpp in builds without LibTorch: `forward` exits 2 saying so.
#include "forward/forward.h"
#include "util/error.h"

namespace moeprobe {
void require_forward() {
  throw InputError("", "forward",
                   "this moeprobe was built without the LibTorch forward pass (configure with "
                   "-DMOEPROBE_TORCH=ON, libtorch-dev installed)");
}

bool forward_available() {
  return false;
}

std::vector<SequenceLogits> run_forward(const MoeModel&, const std::vector<std::vector<int64_t>>&,
                                        const ForwardOptions&) {
  require_forward();
  return {};
}

std::vector<float> run_moe_block(const MoeLayer&, const RouterRule&, const float*, int64_t) {
  require_forward();
  return {};
}

}  // namespace moeprobe
