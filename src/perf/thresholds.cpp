#include "perf/thresholds.h"

#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe::perf {

namespace {

struct Reader {
  std::string file;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& what) const {
    std::string field;
    if (at.IsDefined() && at.Mark().line >= 0) field = "line " + std::to_string(at.Mark().line + 1);
    if (!key.empty()) field += (field.empty() ? "" : ": ") + key;
    throw InputError(file, field, what);
  }

  void keys(const YAML::Node& n, const std::string& path,
            const std::set<std::string>& allowed) const {
    if (!n.IsMap()) fail(n, path, "expected a mapping");
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      if (allowed.count(k)) continue;
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(kv.first, path.empty() ? k : path + "." + k, "unknown key; expected one of: " + list);
    }
  }

  double number(const YAML::Node& n, const std::string& key, double low) const {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) {
        if (!(v >= low)) fail(n, key, "expected a number >= " + std::to_string(low));
        return v;
      }
    }
    fail(n, key, "expected a number");
  }

  std::vector<std::string> names(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence()) fail(n, key, "expected a list of counter names");
    std::vector<std::string> out;
    for (const auto& item : n) {
      if (!item.IsScalar() || item.Scalar().empty()) fail(item, key, "expected a counter name");
      out.push_back(item.Scalar());
    }
    return out;
  }
};

const std::set<std::string> kRuleKeys = {"threshold", "min_effect_ns", "max_dispersion",
                                         "higher_is_better", "lower_is_better"};

template <class Set>
void read_rule(const Reader& r, const YAML::Node& n, const std::string& path, Set&& set) {
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar(), key = path + "." + k;
    if (k == "threshold") set.threshold = r.number(kv.second, key, 0);
    if (k == "min_effect_ns") set.min_effect_ns = r.number(kv.second, key, 0);
    if (k == "max_dispersion") set.max_dispersion = r.number(kv.second, key, 0);
    if (k == "higher_is_better") set.higher_is_better = r.names(kv.second, key);
    if (k == "lower_is_better") set.lower_is_better = r.names(kv.second, key);
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
  const Reader r{label};
  const YAML::Node root = YamlReader(label).parse(yaml);  // the bounded YAML parse
  Thresholds t;
  r.keys(root, "", {"alpha", "time", "default", "overrides"});
  if (root["alpha"]) {
    t.alpha = r.number(root["alpha"], "alpha", 0);
    if (t.alpha <= 0 || t.alpha >= 1) r.fail(root["alpha"], "alpha", "expected a level in (0, 1)");
  }
  if (const auto time = root["time"]) {
    if (!time.IsScalar() || (time.Scalar() != "real_time" && time.Scalar() != "cpu_time"))
      r.fail(time, "time", "expected real_time or cpu_time");
    t.time = time.Scalar() == "cpu_time" ? TimeField::Cpu : TimeField::Real;
  }
  if (const auto d = root["default"]) {
    r.keys(d, "default", kRuleKeys);
    read_rule(r, d, "default", t.defaults);
  }
  if (const auto list = root["overrides"]) {
    if (!list.IsSequence()) r.fail(list, "overrides", "expected a list of {glob|regex, ...}");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node o = list[i];
      const std::string path = "overrides[" + std::to_string(i) + "]";
      std::set<std::string> allowed = kRuleKeys;
      allowed.insert({"glob", "regex"});
      r.keys(o, path, allowed);
      if (static_cast<bool>(o["glob"]) == static_cast<bool>(o["regex"]))
        r.fail(o, path, "expected exactly one of glob: or regex:");
      const bool glob = static_cast<bool>(o["glob"]);
      const YAML::Node p = glob ? o["glob"] : o["regex"];
      const std::string key = path + (glob ? ".glob" : ".regex");
      if (!p.IsScalar() || p.Scalar().empty()) r.fail(p, key, "expected a pattern");
      RuleOverride ro;
      ro.pattern = p.Scalar();
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
