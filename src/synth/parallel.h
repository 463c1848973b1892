// The synthesizer's loops over rows and chunks. Results never depend on the split: every row has
// its own random stream.
#pragma once

#include <cstdint>

#include "util/parallel_for.h"

namespace moeprobe::synth {

// f(begin, end) on contiguous slices of [0, n), one per thread.
template <class F>
void parallel_chunks(int64_t n, int threads, F f) {
  if (threads <= 1 || n < 64) {
    f(int64_t(0), n);
    return;
  }
  // Qualified: unqualified, argument-dependent lookup would pick synth::parallel_for below, which
  // calls back into parallel_chunks (unbounded template recursion in the compiler).
  moeprobe::parallel_for(threads, threads,
                         [&](int64_t t) { f(n * t / threads, n * (t + 1) / threads); });
}

template <class F>
void parallel_for(int64_t n, int threads, F f) {
  parallel_chunks(n, threads, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

}  // namespace moeprobe::synth
