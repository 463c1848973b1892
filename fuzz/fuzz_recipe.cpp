// A synth recipe YAML: parsed and validated (no model is written: shapes can be huge).
#include "fuzz/fuzz_util.h"
#include "synth/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string text = fuzz::as_text(data, size);
  return fuzz::run_contract([&] {
    const synth::Recipe r = synth::parse_recipe(text, "recipe.yaml");
    const int n = r.shape.num_layers - r.shape.first_k_dense_replace;
    for (const auto* p : {&r.plant.upcycling, &r.plant.neuron_order, &r.plant.router_association})
      if (*p)
        for (int i = 0; i < n; ++i) (void)(*p)->at(i, n);
  });
}
