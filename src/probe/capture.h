// `moeprobe capture`: the input of every MoE block (the post-attention-norm hidden state the
// router sees) for a probe's sequences, written as an activations file (read by
// probe/activations.h):
//   layers.{L}.moe_input  F32 [T, H]  L = decoder layer index, for every MoE layer
//   token_ids             I64 [T]
//   sequence_starts       I64 [S]     offset of each sequence's first token
//   bos_mask              U8  [T]     1 at BOS positions
//   __metadata__          {"moeprobe_activations": "1", "model", "tokenizer", "probe"}
// The forward pass is layer-streamed (forward/forward.h) and each layer's rows are streamed into
// the file as they are produced, so memory holds one decoder layer's weights and the sequences'
// hidden states, never [layers, T, H].
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "model/moe_model.h"
#include "probe/probe_text.h"

namespace moeprobe {

struct CaptureSummary {
  int64_t tokens = 0, hidden = 0, bos_tokens = 0;
  std::size_t sequences = 0, layers = 0;
};

// Checks the sequences against the model first (InputError naming the sequence's origin: empty
// sequence, token id outside the embedding's vocabulary, more tokens than
// max_position_embeddings), then writes `out` through a temporary file in the same directory
// renamed into place: an error leaves nothing behind. `model_name` goes into the metadata.
// `progress` (util/progress.h) gets one line per decoder layer of the forward pass.
CaptureSummary capture_activations(const MoeModel& model, const std::string& model_name,
                                   const ProbeSequences& probe, const std::filesystem::path& out,
                                   const std::function<void(const std::string&)>& progress = {});

}  // namespace moeprobe
