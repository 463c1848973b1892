#include "kernels/cuda/staging.h"

#include <algorithm>

#include "kernels/cuda/check.h"

namespace moeprobe::cuda {

StagingPipeline::StagingPipeline(cudaStream_t copy_stream, cudaStream_t compute_stream)
    : copy_stream_(copy_stream), compute_stream_(compute_stream) {
  for (Slot& s : slots_) {
    MOEPROBE_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    MOEPROBE_CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming));
    // Recorded once up front, so the first waits on them are satisfied at once.
    MOEPROBE_CUDA_CHECK(cudaEventRecord(s.copied, copy_stream_));
    MOEPROBE_CUDA_CHECK(cudaEventRecord(s.consumed, compute_stream_));
  }
}

StagingPipeline::~StagingPipeline() {
  for (Slot& s : slots_) {
    if (s.copied) cudaEventDestroy(s.copied);
    if (s.consumed) cudaEventDestroy(s.consumed);
  }
}

void StagingPipeline::ensure(std::size_t bytes) {
  // Growing frees the old buffers: nothing queued may still read them.
  if (slots_[0].dev.capacity() < bytes || slots_[1].dev.capacity() < bytes) {
    MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
    MOEPROBE_CUDA_CHECK(cudaStreamSynchronize(compute_stream_));
  }
  for (Slot& s : slots_) {
    s.host.ensure(bytes);
    s.dev.ensure(bytes);
  }
}

StagedChunk StagingPipeline::stage(const std::vector<Piece>& pieces) {
  const int s = static_cast<int>(chunk_counter_++ % 2);
  Slot& slot = slots_[s];
  std::size_t span = 0;
  for (const Piece& p : pieces) span = std::max(span, p.offset + p.bytes);
  unsigned char* host = slot.host.ensure(span);
  auto* dev = static_cast<unsigned char*>(slot.dev.ensure(span));
  MOEPROBE_CUDA_CHECK(cudaEventSynchronize(slot.copied));
  staged::gather(host, pieces);
  MOEPROBE_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, slot.consumed, 0));
  MOEPROBE_CUDA_CHECK(cudaMemcpyAsync(dev, host, span, cudaMemcpyHostToDevice, copy_stream_));
  MOEPROBE_CUDA_CHECK(cudaEventRecord(slot.copied, copy_stream_));
  MOEPROBE_CUDA_CHECK(cudaStreamWaitEvent(compute_stream_, slot.copied, 0));
  return {s, dev};
}

void StagingPipeline::consume(int slot) {
  MOEPROBE_CUDA_CHECK(cudaEventRecord(slots_[slot].consumed, compute_stream_));
}

}  // namespace moeprobe::cuda
