// Device and page-locked host buffers that only grow: cudaMalloc and pinning are slow, so a
// backend keeps its buffers across calls and repeated analyses do not pay for them again.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>

#include "kernels/cuda/check.h"

namespace moeprobe::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  // At least `bytes` of device memory; growing frees the old contents (the caller makes sure no
  // queued work still reads them).
  void* ensure(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      MOEPROBE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <typename T>
  T* as(std::size_t count) {
    return static_cast<T*>(ensure(std::max<std::size_t>(count, 1) * sizeof(T)));
  }
  std::size_t capacity() const { return bytes_; }
  void release() {
    if (ptr_) cudaFree(ptr_);  // no throw: also runs in destructors
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Page-locked host memory: asynchronous host-to-device copies need it.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { release(); }

  unsigned char* ensure(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      void* p = nullptr;
      MOEPROBE_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
      ptr_ = static_cast<unsigned char*>(p);
      bytes_ = bytes;
    }
    return ptr_;
  }
  void release() {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  unsigned char* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace moeprobe::cuda
