#include "util/yaml_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "util/error.h"
#include "util/input_file.h"
#include "util/number_syntax.h"

namespace moeprobe {

namespace {

std::string list_of(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Walks the parser's events before any node is built and measures what a walk of the node graph
// would visit: nesting depth and node count with every alias expanded (an alias counts the size of
// its anchored node). Sizes saturate at the limit, so exponential bombs cannot overflow them.
class YamlBoundsCheck : public YAML::EventHandler {
 public:
  explicit YamlBoundsCheck(const std::string& file) : file_(file) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override { anchors_.clear(); }
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { leaf(m, a); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                const std::string&) override {
    leaf(m, a);
  }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    const auto it = anchors_.find(a);
    if (it == anchors_.end())
      fail(m, "an alias refers to a node that encloses it (a cyclic alias)");
    if (static_cast<int>(open_.size()) + it->second.height > kMaxYamlDepth)
      fail(m, "the alias nests deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    add(m, it->second.nodes, it->second.height);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override {
    start(m, a);
  }
  void OnSequenceEnd() override { end(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override {
    start(m, a);
  }
  void OnMapEnd() override { end(); }

 private:
  struct Size {
    uint64_t nodes = 1;
    int height = 1;
  };
  struct Open {
    YAML::anchor_t anchor;
    YAML::Mark mark;
    Size size;
  };

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& why) const {
    throw InputError(file_, "line " + std::to_string(m.line + 1), why);
  }
  void add(const YAML::Mark& m, uint64_t nodes, int height = 1) {
    total_ = std::min(kMaxYamlNodes + 1, total_ + nodes);
    if (total_ > kMaxYamlNodes)
      fail(m, "the document expands to more than " + std::to_string(kMaxYamlNodes) +
                  " nodes (aliases included)");
    if (!open_.empty()) {
      Size& parent = open_.back().size;
      parent.nodes = std::min(kMaxYamlNodes + 1, parent.nodes + nodes);
      parent.height = std::max(parent.height, height + 1);
    }
  }
  void leaf(const YAML::Mark& m, YAML::anchor_t a) {
    if (a) anchors_[a] = Size{};
    add(m, 1);
  }
  void start(const YAML::Mark& m, YAML::anchor_t a) {
    if (static_cast<int>(open_.size()) >= kMaxYamlDepth)
      fail(m, "nesting deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    if (a) anchors_.erase(a);  // a redefined anchor: aliases inside still see the old node
    open_.push_back({a, m, Size{}});
    total_ = std::min(kMaxYamlNodes + 1, total_ + 1);
  }
  void end() {
    const Open o = open_.back();
    open_.pop_back();
    if (o.anchor) anchors_[o.anchor] = o.size;
    // The node itself was counted at its start; its contents were counted as they came.
    if (!open_.empty()) {
      Size& parent = open_.back().size;
      parent.nodes = std::min(kMaxYamlNodes + 1, parent.nodes + o.size.nodes);
      parent.height = std::max(parent.height, o.size.height + 1);
    }
  }

  const std::string& file_;
  std::map<YAML::anchor_t, Size> anchors_;
  std::vector<Open> open_;
  uint64_t total_ = 0;
};

}  // namespace

YAML::Node YamlReader::parse(const std::string& text) const {
  check_utf8(text, file_);
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    YamlBoundsCheck bounds(file_);
    while (parser.HandleNextDocument(bounds)) {
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(file_, "line " + std::to_string(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
}

YAML::Node YamlReader::load_file(const std::string& what) const {
  return parse(read_text_file(file_, what));
}

void YamlReader::fail(const YAML::Node& at, const std::string& path,
                      const std::string& problem) const {
  const int line = line_of(at);
  throw InputError(file_, path,
                   line > 0 ? "line " + std::to_string(line) + ": " + problem : problem);
}

void YamlReader::require_map(const YAML::Node& n, const std::string& path) const {
  if (!n.IsMap()) fail(n, path, "expected a mapping");
}

std::vector<std::string> YamlReader::keys(const YAML::Node& n, const std::string& path) const {
  require_map(n, path);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) fail(kv.first, path, "expected a plain key");
    const std::string k = kv.first.Scalar();
    if (!seen.insert(k).second) fail(kv.first, join(path, k), "duplicate key");
    out.push_back(k);
  }
  return out;
}

void YamlReader::check_keys(const YAML::Node& n, const std::string& path,
                            const std::set<std::string>& allowed) const {
  require_map(n, path);
  std::set<std::string> seen;
  for (const auto& kv : n) {
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (!allowed.count(k))
      fail(kv.first, join(path, k), "unknown key; expected one of: " + list_of(allowed));
    if (!seen.insert(k).second) fail(kv.first, join(path, k), "duplicate key");
  }
}

YamlScalar YamlReader::scalar(const YAML::Node& n, const std::string& path) const {
  YamlScalar s;
  if (!n.IsDefined() || n.IsNull()) return s;
  if (!n.IsScalar()) fail(n, path, "expected a scalar");
  s.text = n.Scalar();
  const std::string& tag = n.Tag();
  // Quoted ("!") and !!str scalars are strings; any other explicit tag is not supported.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") {
    s.type = YamlScalar::Type::String;
    return s;
  }
  if (tag != "?" && !tag.empty()) fail(n, path, "unsupported YAML tag '" + tag + "'");
  const std::string& t = s.text;
  if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE") {
    s.type = YamlScalar::Type::Bool;
    s.boolean = t[0] == 't' || t[0] == 'T';
    return s;
  }
  const bool dec = is_decimal_integer(t);
  if (dec || is_prefixed_integer(t, "0o", 8) || is_prefixed_integer(t, "0x", 16)) {
    errno = 0;
    const char* digits = dec ? t.c_str() : t.c_str() + 2;
    const long long v = std::strtoll(digits, nullptr, dec ? 10 : (t[1] == 'o' ? 8 : 16));
    if (errno == ERANGE) fail(n, path, "integer " + printable(t, 80) + " does not fit in 64 bits");
    s.type = YamlScalar::Type::Int;
    s.integer = v;
    s.number = static_cast<double>(v);
    return s;
  }
  if (is_decimal_number(t)) {
    const double v = std::strtod(t.c_str(), nullptr);
    if (std::isinf(v))
      fail(n, path, "number " + printable(t, 80) + " is out of the range of a double");
    s.type = YamlScalar::Type::Float;
    s.number = v;
    return s;
  }
  const std::size_t sign = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
  const auto unsigned_is = [&](const char* word) {
    return t.compare(sign, std::string::npos, word) == 0;
  };
  if (unsigned_is(".inf") || unsigned_is(".Inf") || unsigned_is(".INF")) {
    s.type = YamlScalar::Type::Float;
    s.number = t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    return s;
  }
  if (t == ".nan" || t == ".NaN" || t == ".NAN") {
    s.type = YamlScalar::Type::Float;
    s.number = std::nan("");
    return s;
  }
  s.type = YamlScalar::Type::String;
  return s;
}

std::string YamlReader::string(const YAML::Node& n, const std::string& path,
                               const std::string& expected) const {
  if (!n.IsScalar()) fail(n, path, "expected " + expected);
  scalar(n, path);  // rejects unsupported tags
  return n.Scalar();
}

bool YamlReader::boolean(const YAML::Node& n, const std::string& path) const {
  const YamlScalar s = scalar(n, path);
  if (s.type != YamlScalar::Type::Bool)
    fail(
        n, path,
        "expected true or false" + (s.text.empty() ? "" : ", got '" + printable(s.text, 80) + "'"));
  return s.boolean;
}

int64_t YamlReader::integer(const YAML::Node& n, const std::string& path, int64_t lo,
                            int64_t hi) const {
  const YamlScalar s = scalar(n, path);
  if (s.type != YamlScalar::Type::Int)
    fail(n, path,
         "expected an integer" + (s.text.empty() ? "" : ", got '" + printable(s.text, 80) + "'"));
  if (s.integer < lo || s.integer > hi)
    fail(n, path,
         "value " + std::to_string(s.integer) + " out of range [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]");
  return s.integer;
}

double YamlReader::number(const YAML::Node& n, const std::string& path) const {
  const YamlScalar s = scalar(n, path);
  if (s.type != YamlScalar::Type::Int && s.type != YamlScalar::Type::Float)
    fail(n, path,
         "expected a number" + (s.text.empty() ? "" : ", got '" + printable(s.text, 80) + "'"));
  return s.number;
}

double YamlReader::number(const YAML::Node& n, const std::string& path, double lo,
                          double hi) const {
  const double v = number(n, path);
  if (!(v >= lo && v <= hi))
    fail(n, path,
         "value " + format_number(v) + " out of range [" + format_number(lo) + ", " +
             format_number(hi) + "]");
  return v;
}

std::vector<std::string> YamlReader::strings(const YAML::Node& n, const std::string& path) const {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(string(n, path));
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) out.push_back(string(n[i], index(path, i)));
  } else {
    fail(n, path, "expected a string or a list of strings");
  }
  return out;
}

nlohmann::json YamlReader::to_json(const YAML::Node& n, const std::string& path) const {
  if (!n.IsDefined() || n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (std::size_t i = 0; i < n.size(); ++i) a.push_back(to_json(n[i], index(path, i)));
    return a;
  }
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& k : keys(n, path)) o[k] = to_json(n[k], join(path, k));
    return o;
  }
  const YamlScalar s = scalar(n, path);
  switch (s.type) {
    case YamlScalar::Type::Null:
      return nullptr;
    case YamlScalar::Type::Bool:
      return s.boolean;
    case YamlScalar::Type::Int:
      return s.integer;
    case YamlScalar::Type::Float:
      if (!std::isfinite(s.number)) fail(n, path, "'" + s.text + "' cannot be stored in JSON");
      return s.number;
    case YamlScalar::Type::String:
      return s.text;
  }
  return nullptr;
}

}  // namespace moeprobe
