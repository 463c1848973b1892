// The one parallel-for of moeprobe (CPU kernels, synth, CUDA staging). It runs on OpenMP's thread
// team, which the runtime starts once and keeps, so a call costs a wake-up, not thread creation;
// OpenMP also honours OMP_NUM_THREADS and the process's CPU affinity without code of ours.
#pragma once

#include <cstdint>
#include <functional>

namespace moeprobe {

// Threads a parallel-for uses when the caller does not say: omp_get_max_threads() (the CPUs this
// process may run on, or OMP_NUM_THREADS).
int default_threads();

// Runs body(t) for every t in [0, tasks) on at most `threads` threads; with tasks == threads each
// thread runs exactly one task, so a caller that splits work into `threads` contiguous ranges
// gets the same split (and the same float sums) as before. Inline when tasks or threads <= 1.
// Returns when every task finished; then rethrows the first exception a task threw.
void parallel_for(int64_t tasks, int threads, const std::function<void(int64_t)>& body);

}  // namespace moeprobe
