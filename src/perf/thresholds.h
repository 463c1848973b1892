// perf-gate thresholds (configs/perf/default.yaml): a default rule, and overrides chosen by
// benchmark-name pattern (glob or regex) that change some of its fields.
#pragma once

#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace moeprobe::perf {

enum class TimeField { Real, Cpu };

struct GateRule {
  double threshold = 0.05;   // relative change of the median that counts as FAST/SLOW
  double min_effect_ns = 0;  // smaller absolute changes of the median time are never FAST/SLOW
  double max_dispersion =
      0.10;  // robust dispersion (1.4826 MAD / median) beyond which a sample is too noisy
  std::vector<std::string> higher_is_better;  // counters gated besides the time (bytes_per_second)
  std::vector<std::string> lower_is_better;   // counters where less is better (x_read, x_gemm)
};

struct RuleOverride {
  std::string pattern;  // as written, for messages
  std::regex matcher;   // a glob is translated to an anchored regex
  // Only the fields the YAML sets.
  std::optional<double> threshold, min_effect_ns, max_dispersion;
  std::optional<std::vector<std::string>> higher_is_better, lower_is_better;
};

struct Thresholds {
  double alpha = 0.05;  // significance level of the two-sided test
  TimeField time = TimeField::Real;
  GateRule defaults;
  std::vector<RuleOverride> overrides;  // applied in order: later ones win

  GateRule rule_for(const std::string& benchmark) const;
};

// Strict: an unknown key, a wrong type or an invalid pattern is an InputError naming the file,
// the line and the key.
Thresholds load_thresholds(const std::filesystem::path& path);
Thresholds parse_thresholds(const std::string& yaml, const std::string& label);

// "BM_Foo/*" -> ^BM_Foo/.*$ ; ? matches one character, [..] a class, everything else literally.
std::string glob_to_regex(const std::string& glob);

}  // namespace moeprobe::perf
