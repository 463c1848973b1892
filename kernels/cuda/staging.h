// The host-to-device staging pipeline every CUDA primitive streams its inputs through.
//
// Inputs are host mmap views. Their bytes go to the GPU through two pinned staging buffers: while
// the copy stream moves chunk c+1 from pinned memory to the device, the compute stream converts
// and reduces chunk c, and the host thread fills the other pinned buffer from the mmap. Events
// order the three: a pinned buffer is refilled only after its copy finished, and a device staging
// buffer is overwritten only after the kernel that read it (usually the dtype conversion) was
// marked done with consume().
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/tensor_view.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/staged_views.h"

namespace moeprobe::cuda {

// The pieces a chunk is filled from, and their multi-threaded gather: kernels/staged_views.h
// (host code, tested without a device).
using staged::Piece;

// A chunk on the device: `slot` goes back to consume(), `data` is where its bytes are.
struct StagedChunk {
  int slot;
  const unsigned char* data;
};

class StagingPipeline {
 public:
  // The streams belong to the caller and outlive the pipeline.
  StagingPipeline(cudaStream_t copy_stream, cudaStream_t compute_stream);
  StagingPipeline(const StagingPipeline&) = delete;
  StagingPipeline& operator=(const StagingPipeline&) = delete;
  ~StagingPipeline();

  // Start of a primitive call (both streams already idle): chunks start again in slot 0.
  void reset() { chunk_counter_ = 0; }
  // Both slots hold at least `bytes`; growing waits for the queued work that reads the old ones.
  void ensure(std::size_t bytes);
  // Fills the next slot from the mmap and enqueues its copy; the compute stream waits for it.
  StagedChunk stage(const std::vector<Piece>& pieces);
  // After the last compute-stream kernel that reads the chunk was enqueued.
  void consume(int slot);

 private:
  struct Slot {
    PinnedBuffer host;
    DeviceBuffer dev;
    cudaEvent_t copied = nullptr;    // its host->device copy finished: the pinned buffer is free
    cudaEvent_t consumed = nullptr;  // the kernel reading dev finished: dev may be overwritten
  };
  cudaStream_t copy_stream_;
  cudaStream_t compute_stream_;
  Slot slots_[2];
  uint64_t chunk_counter_ = 0;
};

}  // namespace moeprobe::cuda
