// The interface of the forward-pass module (lib/moeprobe/libmoeprobe_forward_torch.so), the only
// code that links LibTorch. Loading libtorch_cpu costs ~0.8 s and ~160 MB of resident pages at
// process start (its static initialisers and relocations), which every command paid even though
// only `forward`, `capture` and text probes use it; as a module it is loaded on first use. The
// module is built with the executable and resolves the core's symbols (MoeModel, TensorView,
// InputError, ...) from it (executables linking moeprobe::core export their symbols), so C++
// types and exceptions cross this boundary unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "forward/forward.h"

namespace moeprobe {

// Bumped whenever this struct or a type passed through it changes layout.
constexpr std::uint32_t kForwardModuleAbiVersion = 1;

struct ForwardModuleApi {
  std::uint32_t abi_version;
  // sizeof of the types that cross, checked on load: a module left over from another build is
  // refused instead of misreading them.
  std::size_t sizeof_model, sizeof_options, sizeof_layer;
  std::vector<SequenceLogits> (*run_forward)(const MoeModel& model,
                                             const std::vector<std::vector<int64_t>>& sequences,
                                             const ForwardOptions& options);
  std::vector<float> (*run_moe_block)(const MoeLayer& layer, const RouterRule& rule, const float* x,
                                      int64_t tokens);
};

}  // namespace moeprobe

// The module's entry point.
extern "C" const moeprobe::ForwardModuleApi* moeprobe_forward_module_api();
#define MOEPROBE_FORWARD_MODULE_API_SYMBOL "moeprobe_forward_module_api"
#define MOEPROBE_FORWARD_MODULE_FILE "libmoeprobe_forward_torch.so"
