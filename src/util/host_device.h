// Functions that host C++ and CUDA device code share (the number-format decoders, the staged-chunk
// decoding) are marked MOEPROBE_HOST_DEVICE: __host__ __device__ under nvcc, nothing otherwise, so
// one definition serves the CPU readers and the GPU kernels.
#pragma once

#if defined(__CUDACC__)
#define MOEPROBE_HOST_DEVICE __host__ __device__
#else
#define MOEPROBE_HOST_DEVICE
#endif
