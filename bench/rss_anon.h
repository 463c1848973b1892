// Anonymous resident memory of this process, from /proc/self/status. A mmap'd checkpoint is
// file-backed (RssFile: the page cache, reclaimable) and does not count.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

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

}  // namespace moeprobe::bench
