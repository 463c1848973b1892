// The tensors of a synthetic model as jobs (which model, its spec, how to fill it in float), and
// the stream that writes them: one tensor in flight, converted to the recipe's dtype in parallel
// chunks and handed to its model's sharded writer, so memory stays at one tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "io/tensor_spec.h"

namespace moeprobe::synth {

struct Job {
  int writer;  // 0: the model, 1: its dense reference
  TensorSpec spec;
  std::function<void(float*)> fill;
};

// Writes every job in order into dirs[writer] (dirs[1] only when some job targets it) as
// safetensors shards of at most shard_bytes. Returns the tensor bytes written.
uint64_t write_tensor_jobs(const std::vector<Job>& jobs, DType dtype,
                           const std::filesystem::path dirs[2], uint64_t shard_bytes, int threads);

}  // namespace moeprobe::synth
