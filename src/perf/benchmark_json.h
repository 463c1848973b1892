// Reading Google Benchmark JSON files (`--benchmark_out_format=json`): the repetitions of every
// benchmark, grouped by run name, with times in nanoseconds and every counter (bytes_per_second,
// items_per_second, user counters such as x_read).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace moeprobe::perf {

// The longest benchmark name (and run_name) a file may hold.
constexpr std::size_t kMaxBenchmarkNameBytes = 1024;

struct BenchmarkSamples {
  std::string name;                  // run_name: the benchmark without an aggregate suffix
  std::vector<double> real_time_ns;  // one value per repetition
  std::vector<double> cpu_time_ns;
  std::map<std::string, std::vector<double>> counters;
  // Only aggregates (mean/median/...) were in the file: the values are the median aggregate (or
  // the mean when there is no median), one per benchmark, and no test is possible.
  bool aggregates_only = false;
  std::string error;  // non-empty when the benchmark was skipped or failed (error_message)
};

struct BenchmarkFile {
  std::string path;
  std::vector<BenchmarkSamples> benchmarks;  // in the file's order
  std::vector<std::string> warnings;
  const BenchmarkSamples* find(const std::string& name) const;
};

// Throws InputError naming the file and the field (e.g. `benchmarks[3].real_time`) when the file
// is missing, not JSON, or not in Google Benchmark's format.
BenchmarkFile load_benchmark_json(const std::filesystem::path& path);
BenchmarkFile parse_benchmark_json(const std::string& text, const std::string& label);

}  // namespace moeprobe::perf
