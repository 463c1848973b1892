// Writes the planned tensors of a synthetic model into safetensors shards, one tensor in flight:
// generated, converted to the recipe dtype in parallel chunks, quantised where the job says so
// (FP8 blocks with their _scale_inv, MXFP4 _blocks/_scales), and handed to its writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "synth/tensor_plan.h"

namespace moeprobe::synth {

// Writer 0 is out_dir (the model), 1 the dense reference (recipe reference_dir, when planted), 2
// the dequantised twin (recipe quantization twin: every tensor of writer 0, quantised ones as
// their exact F32 values). Returns the tensor bytes of the model. `progress` (util/progress.h)
// gets one line per decoder layer written, with the bytes of every writer (the embeddings count
// with the first layer, the final norm and LM head with the last).
uint64_t write_tensors(const SynthModel& m, const std::vector<TensorJob>& jobs,
                       const std::filesystem::path& out_dir,
                       const std::function<void(const std::string&)>& progress = {});

}  // namespace moeprobe::synth
