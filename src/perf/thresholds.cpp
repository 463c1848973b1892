#include "perf/thresholds.h"

#include <limits>
#include <set>

#include <yaml-cpp/yaml.h>

#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe::perf {

namespace {

const std::set<std::string> kRuleKeys = {"threshold", "min_effect_ns", "max_dispersion",
                                         "higher_is_better", "lower_is_better"};

constexpr double kUnbounded = std::numeric_limits<double>::infinity();
// Patterns are compiled with std::regex, whose size and stack use grow with the pattern.
constexpr std::size_t kMaxPatternBytes = 256;

std::vector<std::string> counter_names(const YamlReader& r, const YAML::Node& n,
                                       const std::string& key) {
  if (!n.IsSequence()) r.fail(n, key, "expected a list of counter names");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    out.push_back(r.string(n[i], YamlReader::index(key, i), "a counter name"));
    if (out.back().empty()) r.fail(n[i], YamlReader::index(key, i), "expected a counter name");
  }
  return out;
}

template <class Set>
void read_rule(const YamlReader& r, const YAML::Node& n, const std::string& path, Set&& set) {
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar(), key = YamlReader::join(path, k);
    if (k == "threshold") set.threshold = r.number(kv.second, key, 0, kUnbounded);
    if (k == "min_effect_ns") set.min_effect_ns = r.number(kv.second, key, 0, kUnbounded);
    if (k == "max_dispersion") set.max_dispersion = r.number(kv.second, key, 0, kUnbounded);
    if (k == "higher_is_better") set.higher_is_better = counter_names(r, kv.second, key);
    if (k == "lower_is_better") set.lower_is_better = counter_names(r, kv.second, key);
  }
}

}  // namespace

std::string glob_to_regex(const std::string& glob) {
  std::string out = "^";
  bool in_class = false;
  for (char c : glob) {
    if (in_class) {
      out += c;
      if (c == ']') in_class = false;
    } else if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if (c == '[') {
      out += c;
      in_class = true;
    } else {
      if (std::string("\\^$.|+(){}").find(c) != std::string::npos) out += '\\';
      out += c;
    }
  }
  return out + "$";
}

GateRule Thresholds::rule_for(const std::string& benchmark) const {
  GateRule rule = defaults;
  for (const auto& o : overrides) {
    if (!std::regex_search(benchmark, o.matcher)) continue;
    if (o.threshold) rule.threshold = *o.threshold;
    if (o.min_effect_ns) rule.min_effect_ns = *o.min_effect_ns;
    if (o.max_dispersion) rule.max_dispersion = *o.max_dispersion;
    if (o.higher_is_better) rule.higher_is_better = *o.higher_is_better;
    if (o.lower_is_better) rule.lower_is_better = *o.lower_is_better;
  }
  return rule;
}

Thresholds parse_thresholds(const std::string& yaml, const std::string& label) {
  const YamlReader r(label);
  const YAML::Node root = r.parse(yaml);
  Thresholds t;
  r.check_keys(root, "", {"alpha", "time", "default", "overrides"});
  if (root["alpha"]) {
    t.alpha = r.number(root["alpha"], "alpha", 0, 1);
    if (t.alpha <= 0 || t.alpha >= 1) r.fail(root["alpha"], "alpha", "expected a level in (0, 1)");
  }
  if (const auto time = root["time"]) {
    const std::string field = r.string(time, "time", "real_time or cpu_time");
    if (field != "real_time" && field != "cpu_time")
      r.fail(time, "time", "expected real_time or cpu_time");
    t.time = field == "cpu_time" ? TimeField::Cpu : TimeField::Real;
  }
  if (const auto d = root["default"]) {
    r.check_keys(d, "default", kRuleKeys);
    read_rule(r, d, "default", t.defaults);
  }
  if (const auto list = root["overrides"]) {
    if (!list.IsSequence()) r.fail(list, "overrides", "expected a list of {glob|regex, ...}");
    std::set<std::string> allowed = kRuleKeys;
    allowed.insert({"glob", "regex"});
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node o = list[i];
      const std::string path = YamlReader::index("overrides", i);
      r.check_keys(o, path, allowed);
      if (static_cast<bool>(o["glob"]) == static_cast<bool>(o["regex"]))
        r.fail(o, path, "expected exactly one of glob: or regex:");
      const bool glob = static_cast<bool>(o["glob"]);
      const YAML::Node p = glob ? o["glob"] : o["regex"];
      const std::string key = path + (glob ? ".glob" : ".regex");
      RuleOverride ro;
      ro.pattern = r.string(p, key, "a pattern");
      if (ro.pattern.empty()) r.fail(p, key, "expected a pattern");
      if (ro.pattern.size() > kMaxPatternBytes)
        r.fail(p, key,
               "expected a pattern of at most " + std::to_string(kMaxPatternBytes) + " bytes");
      try {
        ro.matcher = std::regex(glob ? glob_to_regex(ro.pattern) : ro.pattern);
      } catch (const std::regex_error& e) {
        r.fail(p, key, std::string("invalid pattern: ") + e.what());
      }
      read_rule(r, o, path, ro);
      t.overrides.push_back(std::move(ro));
    }
  }
  return t;
}

Thresholds load_thresholds(const std::filesystem::path& path) {
  return parse_thresholds(read_text_file(path, "thresholds file"), path.string());
}

}  // namespace moeprobe::perf
