#include "suite/expect.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "util/number_syntax.h"

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

// Reads a finite decimal number after blanks at `i` (see scan_decimal), advancing past it.
std::optional<double> read_number(const std::string& text, std::size_t& i) {
  skip_blanks(text, i);
  const std::size_t start = i;
  if (!scan_decimal(text, i)) return std::nullopt;
  const double v = std::strtod(text.c_str() + start, nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// Reads `c` after blanks at `i`, advancing past it.
bool read_char(const std::string& text, std::size_t& i, char c) {
  skip_blanks(text, i);
  if (i >= text.size() || text[i] != c) return false;
  ++i;
  return true;
}

// Whether only blanks are left from `i`.
bool at_end(const std::string& text, std::size_t i) {
  skip_blanks(text, i);
  return i == text.size();
}

}  // namespace

// ">= X", "<= X", "> X", "< X" or "in [LO, HI]", blanks allowed around each part.
std::optional<Threshold> parse_threshold(const std::string& text) {
  Threshold t;
  std::size_t i = 0;
  skip_blanks(text, i);
  if (text.compare(i, 2, "in") == 0) {
    i += 2;
    if (!read_char(text, i, '[')) return std::nullopt;
    const auto lo = read_number(text, i);
    if (!lo || !read_char(text, i, ',')) return std::nullopt;
    const auto hi = read_number(text, i);
    if (!hi || !read_char(text, i, ']') || !at_end(text, i) || *lo > *hi) return std::nullopt;
    t.op = Threshold::Op::In;
    t.lo = *lo;
    t.hi = *hi;
    return t;
  }
  const std::size_t op_len =
      (i + 1 < text.size() && text[i + 1] == '=' && (text[i] == '>' || text[i] == '<')) ? 2 : 1;
  const auto op = parse_comparison_op(text.substr(i, op_len));
  if (!op) return std::nullopt;
  i += op_len;
  const auto value = read_number(text, i);
  if (!value || !at_end(text, i)) return std::nullopt;
  t.op = *op;
  t.value = *value;
  return t;
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
