#include "suite/layer_select.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace moeprobe {

namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A whole-string signed integer.
std::optional<long> parse_int(const std::string& raw) {
  const std::string s = trim(raw);
  if (s.empty()) return std::nullopt;
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (std::size_t k = i; k < s.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
  try {
    return std::stol(s);
  } catch (...) {
    return std::nullopt;
  }
}

const char* kExpected =
    "expected \"moe\", \"all\", a position (\"-1\"), a slice (\"0:-1\", \"2:10:2\") or a list "
    "(\"[3, 7, 11]\") of MoE layer positions";

}  // namespace

std::optional<LayerSelector> parse_layer_selector(const std::string& raw, std::string* error) {
  LayerSelector sel;
  sel.text = trim(raw);
  const std::string s = sel.text;
  auto fail = [&](const std::string& why) -> std::optional<LayerSelector> {
    if (error) *error = why.empty() ? kExpected : why + "; " + kExpected;
    return std::nullopt;
  };
  if (s == "moe" || s == "all") return sel;
  if (s.empty()) return fail("empty selector");
  if (s.front() == '[') {
    if (s.back() != ']') return fail("unterminated list");
    sel.kind = LayerSelector::Kind::List;
    const std::string body = trim(s.substr(1, s.size() - 2));
    if (body.empty()) return fail("empty list");
    std::size_t pos = 0;
    while (pos <= body.size()) {
      const std::size_t comma = body.find(',', pos);
      const std::string item =
          body.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      auto v = parse_int(item);
      if (!v) return fail("list item \"" + trim(item) + "\" is not an integer");
      sel.positions.push_back(*v);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return sel;
  }
  if (s.find(':') != std::string::npos) {
    sel.kind = LayerSelector::Kind::Slice;
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (true) {
      const std::size_t colon = s.find(':', pos);
      parts.push_back(s.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
    if (parts.size() > 3) return fail("too many ':' in slice");
    auto field = [&](const std::string& p, std::optional<long>& out) {
      if (trim(p).empty()) return true;
      out = parse_int(p);
      return out.has_value();
    };
    if (!field(parts[0], sel.start) || !field(parts[1], sel.stop))
      return fail("slice bounds must be integers");
    if (parts.size() == 3) {
      std::optional<long> step;
      if (!field(parts[2], step)) return fail("slice step must be an integer");
      if (step) sel.step = *step;
      if (sel.step == 0) return fail("slice step must not be 0");
    }
    return sel;
  }
  auto v = parse_int(s);
  if (!v) return fail("");
  sel.kind = LayerSelector::Kind::List;
  sel.positions.push_back(*v);
  return sel;
}

std::vector<int> LayerSelector::resolve(int n, std::string* error) const {
  std::vector<int> out;
  if (kind == Kind::All) {
    for (int i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  if (kind == Kind::List) {
    std::set<int> uniq;
    for (long p : positions) {
      const long q = p < 0 ? p + n : p;
      if (q < 0 || q >= n) {
        if (error)
          *error = "position " + std::to_string(p) + " is out of range for a model with " +
                   std::to_string(n) + " MoE layers";
        return {};
      }
      uniq.insert(static_cast<int>(q));
    }
    return {uniq.begin(), uniq.end()};
  }
  // Python slice semantics: negative bounds count from the end, then clamp.
  auto norm = [n](long v, long lo, long hi) {
    if (v < 0) v += n;
    return std::clamp(v, lo, hi);
  };
  // b and e lie in [-1, n], so e - i never overflows; the loops stop before i + step could.
  std::set<int> uniq;
  if (step > 0) {
    const long b = start ? norm(*start, 0, n) : 0;
    const long e = stop ? norm(*stop, 0, n) : n;
    for (long i = b; i < e; i += step) {
      uniq.insert(static_cast<int>(i));
      if (step >= e - i) break;
    }
  } else {
    const long b = start ? norm(*start, -1, n - 1) : n - 1;
    const long e = stop ? norm(*stop, -1, n - 1) : -1;
    for (long i = b; i > e; i += step) {
      uniq.insert(static_cast<int>(i));
      if (step <= e - i) break;
    }
  }
  return {uniq.begin(), uniq.end()};
}

}  // namespace moeprobe
