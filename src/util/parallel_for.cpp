#include "util/parallel_for.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <mutex>

namespace moeprobe {

int default_threads() {
  return std::max(1, omp_get_max_threads());
}

void parallel_for(int64_t tasks, int threads, const std::function<void(int64_t)>& body) {
  if (tasks <= 0) return;
  if (tasks == 1 || threads <= 1) {
    for (int64_t t = 0; t < tasks; ++t) body(t);
    return;
  }
  // An exception must not leave an OpenMP region: keep the first, rethrow after the join.
  std::exception_ptr first;
  std::mutex first_mutex;
  const int team = static_cast<int>(std::min<int64_t>(threads, tasks));
#pragma omp parallel for schedule(static) num_threads(team)
  for (int64_t t = 0; t < tasks; ++t) {
    try {
      body(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(first_mutex);
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace moeprobe
