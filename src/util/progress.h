// Progress of long work (a run's layers), on stderr: on a terminal one line rewritten in place per
// stage ("layer k of n, MB/s, ETA"); when stderr is not a terminal (CI logs) one plain line per
// step; nothing with the global --quiet. The CLI sets the mode once; a library user that gives no
// sink sees nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace moeprobe {

enum class ProgressMode { Silent, Lines, Live };

// Process-wide; Lines until the CLI decides (progress_mode_for_stderr).
void set_progress_mode(ProgressMode mode);
ProgressMode progress_mode();
// Silent when quiet, Live when stderr is a terminal, else Lines.
ProgressMode progress_mode_for_stderr(bool quiet);

class ProgressReporter {
 public:
  // `sink` receives each plain line (Lines mode); Live mode rewrites one line on stderr. An empty
  // sink silences the reporter.
  ProgressReporter(std::function<void(const std::string&)> sink, std::string unit,
                   std::size_t total, ProgressMode mode = progress_mode());
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // One more `unit` done (`label`, e.g. "layer 7"), which read `bytes`; `detail` is appended.
  void step(const std::string& label, std::uint64_t bytes, const std::string& detail = "");

 private:
  std::function<void(const std::string&)> sink_;
  std::string unit_;
  std::size_t total_, done_ = 0;
  std::uint64_t bytes_ = 0;
  ProgressMode mode_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// A sink for the CLI's own progress: each line on stderr as "moeprobe: LINE".
std::function<void(const std::string&)> stderr_progress_sink();

// "12.3 MB/s", "4 s", for progress lines.
std::string format_rate(double bytes_per_second);
std::string format_duration(double seconds);

}  // namespace moeprobe
