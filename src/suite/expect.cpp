#include "suite/expect.h"

#include <cmath>
#include <cstdio>
#include <regex>
#include <stdexcept>

namespace moeprobe {

bool Threshold::holds(double x) const {
  if (std::isnan(x)) return false;
  switch (op) {
    case Op::GE:
      return x >= value;
    case Op::LE:
      return x <= value;
    case Op::GT:
      return x > value;
    case Op::LT:
      return x < value;
    case Op::In:
      return x >= lo && x <= hi;
  }
  return false;
}

std::string Threshold::op_string() const {
  switch (op) {
    case Op::GE:
      return ">=";
    case Op::LE:
      return "<=";
    case Op::GT:
      return ">";
    case Op::LT:
      return "<";
    case Op::In:
      return "in";
  }
  return "?";
}

std::string Threshold::to_string() const {
  if (op == Op::In) return "in [" + format_number(lo) + ", " + format_number(hi) + "]";
  return op_string() + " " + format_number(value);
}

nlohmann::json Threshold::to_json() const {
  if (op == Op::In) return {{"op", "in"}, {"value", {lo, hi}}};
  return {{"op", op_string()}, {"value", value}};
}

Threshold Threshold::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("op") || !j.contains("value") || !j["op"].is_string())
    throw std::invalid_argument("expected {op, value}");
  Threshold t;
  const std::string op = j["op"].get<std::string>();
  if (op == "in") {
    const auto& v = j["value"];
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
      throw std::invalid_argument("expected value [lo, hi] for op \"in\"");
    t.op = Op::In;
    t.lo = v[0].get<double>();
    t.hi = v[1].get<double>();
    return t;
  }
  auto parsed = parse_comparison_op(op);
  if (!parsed || !j["value"].is_number())
    throw std::invalid_argument("expected op one of >=, <=, >, <, in and a numeric value");
  t.op = *parsed;
  t.value = j["value"].get<double>();
  return t;
}

std::optional<Threshold::Op> parse_comparison_op(const std::string& op) {
  if (op == ">=") return Threshold::Op::GE;
  if (op == "<=") return Threshold::Op::LE;
  if (op == ">") return Threshold::Op::GT;
  if (op == "<") return Threshold::Op::LT;
  return std::nullopt;
}

namespace {
const char* kNumber = R"(([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))";
}

std::optional<Threshold> parse_threshold(const std::string& text) {
  static const std::regex cmp(std::string(R"(^\s*(>=|<=|>|<)\s*)") + kNumber + R"(\s*$)");
  static const std::regex range(std::string(R"(^\s*in\s*\[\s*)") + kNumber + R"(\s*,\s*)" +
                                kNumber + R"(\s*\]\s*$)");
  std::smatch m;
  Threshold t;
  if (std::regex_match(text, m, cmp)) {
    t.op = *parse_comparison_op(m[1].str());
    t.value = std::stod(m[2].str());
    return t;
  }
  if (std::regex_match(text, m, range)) {
    t.op = Threshold::Op::In;
    t.lo = std::stod(m[1].str());
    t.hi = std::stod(m[2].str());
    if (t.lo > t.hi) return std::nullopt;
    return t;
  }
  return std::nullopt;
}

IntervalVerdict judge_interval(const Threshold& t, double lo, double hi) {
  if (std::isnan(lo) || std::isnan(hi)) return IntervalVerdict::Straddles;
  if (lo > hi) std::swap(lo, hi);
  if (t.holds(lo) && t.holds(hi)) return IntervalVerdict::Satisfies;  // monotone / convex sets
  bool violates = false;
  switch (t.op) {
    case Threshold::Op::GE:
      violates = hi < t.value;
      break;
    case Threshold::Op::GT:
      violates = hi <= t.value;
      break;
    case Threshold::Op::LE:
      violates = lo > t.value;
      break;
    case Threshold::Op::LT:
      violates = lo >= t.value;
      break;
    case Threshold::Op::In:
      violates = hi < t.lo || lo > t.hi;
      break;
  }
  return violates ? IntervalVerdict::Violates : IntervalVerdict::Straddles;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace moeprobe
