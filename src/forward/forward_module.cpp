// forward.h's entry points in builds with LibTorch: they load the forward-pass module on first
// use (see forward_module_abi.h for why it is a module) and call into it.
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "forward/forward.h"
#include "forward/forward_module_abi.h"
#include "util/error.h"
#include "util/module_path.h"

namespace moeprobe {
namespace {

struct LoadedModule {
  const ForwardModuleApi* api = nullptr;
  std::string failure;  // why it could not be loaded, when api is null
};

// Loaded once per process with RTLD_GLOBAL (LibTorch's own libraries expect to share one global
// scope with each other) and never unloaded.
const LoadedModule& loaded_module() {
  static LoadedModule module;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path;
    try {
      path = module_path(MOEPROBE_FORWARD_MODULE_FILE).string();
    } catch (const InputError& e) {
      module.failure = e.what();
      return;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
      module.failure = path + ": cannot load the forward-pass module: " + dlerror();
      return;
    }
    using Entry = const ForwardModuleApi* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, MOEPROBE_FORWARD_MODULE_API_SYMBOL));
    const ForwardModuleApi* api = entry ? entry() : nullptr;
    if (!api || api->abi_version != kForwardModuleAbiVersion ||
        api->sizeof_model != sizeof(MoeModel) || api->sizeof_options != sizeof(ForwardOptions) ||
        api->sizeof_layer != sizeof(MoeLayer)) {
      module.failure = path + ": not the forward-pass module of this moeprobe build (ABI version " +
                       std::to_string(kForwardModuleAbiVersion) + " expected)";
      return;
    }
    module.api = api;
  });
  return module;
}

const ForwardModuleApi& api() {
  require_forward();
  return *loaded_module().api;
}

}  // namespace

bool forward_available() {
  return loaded_module().api != nullptr;
}

void require_forward() {
  const LoadedModule& module = loaded_module();
  if (!module.api) throw InputError("", "forward", module.failure);
}

std::vector<SequenceLogits> run_forward(const MoeModel& model,
                                        const std::vector<std::vector<int64_t>>& sequences,
                                        const ForwardOptions& options) {
  return api().run_forward(model, sequences, options);
}

std::vector<float> run_moe_block(const MoeLayer& layer, const RouterRule& rule, const float* x,
                                 int64_t tokens) {
  return api().run_moe_block(layer, rule, x, tokens);
}

}  // namespace moeprobe
