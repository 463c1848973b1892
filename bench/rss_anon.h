// Anonymous resident memory of this process, and its peak while a piece of work runs (sampled
// every 5 ms). A checkpoint mapped with mmap is file-backed page cache and does not count.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace moeprobe::bench {

inline int64_t rss_anon_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "RssAnon:") {
      int64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    std::getline(in, key);
  }
  return -1;
}

// Samples from construction until stop() (or destruction).
class PeakRssAnon {
 public:
  PeakRssAnon()
      : peak_(rss_anon_bytes()), sampler_([this] {
          while (!done_) {
            const int64_t now = rss_anon_bytes();
            if (now > peak_) peak_ = now;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~PeakRssAnon() { stop(); }
  int64_t stop() {
    done_ = true;
    if (sampler_.joinable()) sampler_.join();
    return peak_;
  }

 private:
  std::atomic<bool> done_{false};
  std::atomic<int64_t> peak_;
  std::thread sampler_;
};

}  // namespace moeprobe::bench
