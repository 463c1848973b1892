// Comparison operators of a suite: the `expect` of a hypothesis (">= 0.15", "in [-0.02, 0.02]")
// and the predicate of the `fraction` aggregate ("> 0").
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace moeprobe {

struct Threshold {
  enum class Op { GE, LE, GT, LT, In };
  Op op = Op::GE;
  double value = 0.0;         // GE/LE/GT/LT
  double lo = 0.0, hi = 0.0;  // In: closed range [lo, hi]

  bool holds(double x) const;      // false for NaN
  std::string op_string() const;   // ">=", "in"
  std::string to_string() const;   // ">= 0.15", "in [-0.02, 0.02]"
  nlohmann::json to_json() const;  // {op, value} or {op: "in", value: [lo, hi]}
  static Threshold from_json(const nlohmann::json& j);  // throws std::invalid_argument
};

// Parses ">= 0.15", "<= -0.3", "> 0", "< 0", "in [-0.02, 0.02]"; nullopt when malformed.
std::optional<Threshold> parse_threshold(const std::string& text);
// The predicate alone: op in {>, >=, <, <=} and a value.
std::optional<Threshold::Op> parse_comparison_op(const std::string& op);

// How a whole confidence interval [lo, hi] relates to a threshold.
enum class IntervalVerdict { Satisfies, Violates, Straddles };
IntervalVerdict judge_interval(const Threshold& t, double lo, double hi);

std::string format_number(double v);  // shortest round-trip-ish text for reports ("0.15")

}  // namespace moeprobe
