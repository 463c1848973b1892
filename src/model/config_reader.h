// Canonical sizes read from config.json through a family's config_keys and config_defaults, with
// errors naming config.json and the key the value came from.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/family.h"
#include "util/error.h"

namespace moeprobe {

// Reads canonical sizes from config.json through the family's config_keys and config_defaults.
class ConfigReader {
 public:
  ConfigReader(const Family& family, const nlohmann::json& config, std::string path)
      : family_(family), config_(config), path_(std::move(path)) {}

  // The value at a config key; a dotted key reads nested objects (Llama-4's
  // "text_config.hidden_size"). nullptr when absent or null.
  static const nlohmann::json* at_key(const nlohmann::json& config, const std::string& key) {
    const nlohmann::json* j = &config;
    std::size_t begin = 0;
    while (true) {
      const std::size_t dot = key.find('.', begin);
      const std::string part = key.substr(begin, dot == std::string::npos ? dot : dot - begin);
      if (!j->is_object() || !j->contains(part)) return nullptr;
      j = &(*j)[part];
      if (dot == std::string::npos) break;
      begin = dot + 1;
    }
    return j->is_null() ? nullptr : j;
  }

  // The config key that holds `canon` (first present, non-null), or nullopt.
  std::optional<std::string> key_of(const std::string& canon) const {
    auto it = family_.config_keys.find(canon);
    if (it == family_.config_keys.end()) return std::nullopt;
    for (const auto& k : it->second)
      if (at_key(config_, k)) return k;
    return std::nullopt;
  }

  // The name to use in messages about `canon`: the key present, else the first key the family
  // would read, else the canonical name.
  std::string field(const std::string& canon) const {
    if (auto k = key_of(canon)) return *k;
    auto it = family_.config_keys.find(canon);
    if (it != family_.config_keys.end() && !it->second.empty()) return it->second.front();
    return canon;
  }

  // Value and the field name it came from (the config key, or "<canon> (family default)").
  std::optional<std::pair<nlohmann::json, std::string>> value(const std::string& canon) const {
    if (auto k = key_of(canon)) return std::make_pair(*at_key(config_, *k), *k);
    auto d = family_.config_defaults.find(canon);
    if (d != family_.config_defaults.end() && !d->second.is_null())
      return std::make_pair(d->second, canon + " (default of family " + family_.name + ")");
    return std::nullopt;
  }

  [[noreturn]] void missing(const std::string& canon, const std::string& what) const {
    std::string keys;
    auto it = family_.config_keys.find(canon);
    if (it != family_.config_keys.end())
      for (const auto& k : it->second) keys += (keys.empty() ? "" : " or ") + k;
    throw InputError(path_, field(canon),
                     "missing; expected " + what + " (family " + family_.name + " reads " +
                         (keys.empty() ? canon : keys) + ")");
  }

  std::optional<int64_t> opt_int(const std::string& canon, int64_t min_value) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    const nlohmann::json& j = v->first;
    if (!j.is_number_integer() &&
        !(j.is_number_float() && j.get<double>() == static_cast<int64_t>(j.get<double>())))
      throw InputError(path_, v->second, "expected an integer, got " + j.dump());
    const int64_t x =
        j.is_number_integer() ? j.get<int64_t>() : static_cast<int64_t>(j.get<double>());
    if (x < min_value)
      throw InputError(path_, v->second,
                       "got " + std::to_string(x) + ", expected >= " + std::to_string(min_value));
    return x;
  }
  int64_t req_int(const std::string& canon, int64_t min_value, const std::string& what) const {
    auto x = opt_int(canon, min_value);
    if (!x) missing(canon, what);
    return *x;
  }
  std::optional<double> opt_number(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_number())
      throw InputError(path_, v->second, "expected a number, got " + v->first.dump());
    return v->first.get<double>();
  }
  std::optional<bool> opt_bool(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_boolean())
      throw InputError(path_, v->second, "expected true or false, got " + v->first.dump());
    return v->first.get<bool>();
  }
  std::optional<std::string> opt_string(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_string())
      throw InputError(path_, v->second, "expected a string, got " + v->first.dump());
    return v->first.get<std::string>();
  }
  std::vector<int> int_list(const std::string& canon) const {
    auto v = value(canon);
    std::vector<int> out;
    if (!v) return out;
    if (!v->first.is_array())
      throw InputError(path_, v->second,
                       "expected a list of layer indices, got " + v->first.dump());
    for (const auto& x : v->first) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0)
        throw InputError(path_, v->second, "expected non-negative layer indices, got " + x.dump());
      out.push_back(x.get<int>());
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  const Family& family_;
  const nlohmann::json& config_;
  std::string path_;
};

}  // namespace moeprobe
