// The layer-streamed forward pass (LibTorch, float32): every sequence advances through decoder
// layer l before layer l+1's weights are touched, and only one layer's weights are converted at a
// time (one expert at a time inside an MoE layer). The embedding is gathered by row; the LM head
// is read, in row blocks, only when logits are asked for. Each sequence runs on its own (batch 1,
// no padding). This header is torch-free; without LibTorch the entry points throw.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/moe_model.h"
#include "model/router.h"

namespace moeprobe {

struct SequenceLogits {
  int64_t tokens = 0, vocab = 0;
  std::vector<float> values;  // [tokens, vocab] row-major
};

// Called at every MoE layer with one sequence's MoE input (after the post-attention norm),
// [tokens, hidden] row-major float32.
using MoeInputObserver = std::function<void(int layer, std::size_t sequence, const float* data,
                                            int64_t tokens, int64_t hidden)>;

struct ForwardOptions {
  bool logits = true;  // read the LM head and return logits
  MoeInputObserver on_moe_input;
  // Called when every sequence has passed decoder layer `layer` (progress).
  std::function<void(int layer)> on_layer_done;
};

// False when moeprobe was built without LibTorch; require_forward() then throws InputError.
bool forward_available();
void require_forward();

// Throws InputError: token id outside the vocabulary, empty sequence, a sequence longer than
// max_position_embeddings, or a config option whose math is not implemented (exit 2).
std::vector<SequenceLogits> run_forward(const MoeModel& model,
                                        const std::vector<std::vector<int64_t>>& sequences,
                                        const ForwardOptions& options = {});

// One MoE block on its own: x [tokens, hidden] → block output [tokens, hidden] (routed experts
// plus shared experts, as the decoder layer adds it to the residual).
std::vector<float> run_moe_block(const MoeLayer& layer, const RouterRule& rule, const float* x,
                                 int64_t tokens);

}  // namespace moeprobe
