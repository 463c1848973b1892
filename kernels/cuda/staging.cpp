#include "kernels/cuda/staging.h"

#include <algorithm>
#include <cstring>

#include "kernels/cuda/check.h"
#include "util/parallel_for.h"

namespace moeprobe::cuda {

void gather(unsigned char* dst, const std::vector<Piece>& pieces) {
  std::size_t total = 0;
  for (const Piece& p : pieces) total += p.bytes;
  constexpr std::size_t kPerThread = std::size_t{8} << 20;
  const std::size_t hw = static_cast<std::size_t>(default_threads());
  const std::size_t nthreads =
      std::min<std::size_t>({std::size_t{8}, hw, std::max<std::size_t>(1, total / kPerThread)});
  // Thread t copies bytes [t*total/nthreads, (t+1)*total/nthreads) of the concatenated pieces.
  auto copy_range = [&](std::size_t begin, std::size_t end) {
    std::size_t base = 0;
    for (const Piece& p : pieces) {
      const std::size_t lo = std::max(begin, base), hi = std::min(end, base + p.bytes);
      if (lo < hi && p.view) {
        // The elements whose first byte lies in [lo, hi): disjoint across threads.
        const int64_t e0 = static_cast<int64_t>((lo - base + 3) / 4);
        const int64_t e1 = static_cast<int64_t>((hi - base + 3) / 4);
        if (e1 > e0)
          p.view->read_float(p.first + e0, e1 - e0, reinterpret_cast<float*>(dst + p.offset) + e0);
      } else if (lo < hi) {
        std::memcpy(dst + p.offset + (lo - base), p.src + (lo - base), hi - lo);
      }
      base += p.bytes;
      if (base >= end) break;
    }
  };
  if (nthreads <= 1) {
    copy_range(0, total);
    return;
  }
  moeprobe::parallel_for(static_cast<int64_t>(nthreads), static_cast<int>(nthreads),
                         [&](int64_t t) {
                           const std::size_t k = static_cast<std::size_t>(t);
                           copy_range(k * total / nthreads, (k + 1) * total / nthreads);
                         });
}

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
  gather(host, pieces);
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
