#include "util/progress.h"

#include <unistd.h>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace moeprobe {

namespace {
std::atomic<ProgressMode> g_mode{ProgressMode::Lines};
}

void set_progress_mode(ProgressMode mode) {
  g_mode = mode;
}
ProgressMode progress_mode() {
  return g_mode;
}

ProgressMode progress_mode_for_stderr(bool quiet) {
  if (quiet) return ProgressMode::Silent;
  return ::isatty(STDERR_FILENO) ? ProgressMode::Live : ProgressMode::Lines;
}

std::function<void(const std::string&)> stderr_progress_sink() {
  return [](const std::string& line) { std::cerr << "moeprobe: " << line << "\n" << std::flush; };
}

std::string format_rate(double b) {
  const char* units[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, b < 10 ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0f s", std::ceil(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600,
                  static_cast<int>(s) % 3600 / 60);
  return buf;
}

ProgressReporter::ProgressReporter(std::function<void(const std::string&)> sink, std::string unit,
                                   std::size_t total, ProgressMode mode)
    : sink_(std::move(sink)),
      unit_(std::move(unit)),
      total_(total),
      mode_(sink_ ? mode : ProgressMode::Silent),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressReporter::~ProgressReporter() {
  if (line_open_) std::cerr << "\n" << std::flush;
}

void ProgressReporter::step(const std::string& label, std::uint64_t bytes,
                            const std::string& detail) {
  ++done_;
  bytes_ += bytes;
  const auto now = std::chrono::steady_clock::now();
  const double step_s = std::chrono::duration<double>(now - last_).count();
  const double total_s = std::chrono::duration<double>(now - start_).count();
  last_ = now;
  if (mode_ == ProgressMode::Silent) return;
  std::string line =
      label + " (" + std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_ + ")";
  if (!detail.empty()) line += ": " + detail;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", step_s);
  line += std::string(detail.empty() ? ": " : ", ") + secs;
  if (total_s > 0 && bytes_ > 0) line += ", " + format_rate(bytes_ / total_s);
  if (done_ < total_) line += ", ETA " + format_duration(total_s / done_ * (total_ - done_));
  if (mode_ == ProgressMode::Lines) {
    sink_(line);
    return;
  }
  std::cerr << "\r\033[Kmoeprobe: " << line << std::flush;
  line_open_ = true;
  if (done_ >= total_) {
    std::cerr << "\n" << std::flush;
    line_open_ = false;
  }
}

}  // namespace moeprobe
