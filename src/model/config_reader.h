// Canonical sizes read from config.json through a family's config_keys and config_defaults, with
// errors naming config.json and the key the value came from.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/family.h"
#include "util/error.h"
#include "util/input_file.h"

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

  // The one checked accessor for sizes and counts: an integer (or an integral float) in
  // [min_value, max_value], so that no later int conversion, division or allocation sized by it
  // can overflow. max_value defaults to the documented plausibility cap of `canon`
  // (docs/RELIABILITY.md): counts (layers, experts, groups) at most kMaxConfigCount, every other
  // size at most kMaxConfigDimension; tensor shapes are checked against them afterwards.
  std::optional<int64_t> opt_int(const std::string& canon, int64_t min_value,
                                 int64_t max_value = -1) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (max_value < 0) max_value = default_max(canon);
    const nlohmann::json& j = v->first;
    const auto out_of_range = [&](const std::string& got) {
      return InputError(path_, v->second,
                        "got " + got + ", expected an integer in [" + std::to_string(min_value) +
                            ", " + std::to_string(max_value) + "]");
    };
    int64_t x = 0;
    if (j.is_number_unsigned()) {
      if (j.get<uint64_t>() > static_cast<uint64_t>(max_value))
        throw out_of_range(std::to_string(j.get<uint64_t>()));
      x = static_cast<int64_t>(j.get<uint64_t>());
    } else if (j.is_number_integer()) {
      x = j.get<int64_t>();
    } else if (j.is_number_float() && std::isfinite(j.get<double>()) &&
               std::floor(j.get<double>()) == j.get<double>()) {
      const double d = j.get<double>();
      if (d < static_cast<double>(min_value) || d > static_cast<double>(max_value))
        throw out_of_range(json_excerpt(j));
      x = static_cast<int64_t>(d);
    } else {
      throw InputError(path_, v->second, "expected an integer, got " + json_excerpt(j));
    }
    if (x < min_value || x > max_value) throw out_of_range(std::to_string(x));
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
      throw InputError(path_, v->second, "expected a number, got " + json_excerpt(v->first));
    return v->first.get<double>();
  }
  std::optional<bool> opt_bool(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_boolean())
      throw InputError(path_, v->second, "expected true or false, got " + json_excerpt(v->first));
    return v->first.get<bool>();
  }
  std::optional<std::string> opt_string(const std::string& canon) const {
    auto v = value(canon);
    if (!v) return std::nullopt;
    if (!v->first.is_string())
      throw InputError(path_, v->second, "expected a string, got " + json_excerpt(v->first));
    return v->first.get<std::string>();
  }
  std::vector<int> int_list(const std::string& canon) const {
    auto v = value(canon);
    std::vector<int> out;
    if (!v) return out;
    if (!v->first.is_array())
      throw InputError(path_, v->second,
                       "expected a list of layer indices, got " + json_excerpt(v->first));
    for (const auto& x : v->first) {
      if (!x.is_number_integer() || (!x.is_number_unsigned() && x.get<int64_t>() < 0) ||
          (x.is_number_unsigned() && x.get<uint64_t>() > uint64_t(kMaxConfigCount)))
        throw InputError(path_, v->second,
                         "expected layer indices in [0, " + std::to_string(kMaxConfigCount) +
                             "], got " + json_excerpt(x));
      out.push_back(static_cast<int>(std::min<int64_t>(x.get<int64_t>(), kMaxConfigCount)));
    }
    return out;
  }

  const std::string& path() const { return path_; }

  static constexpr int64_t kMaxConfigCount = 1 << 16;
  static constexpr int64_t kMaxConfigDimension = (int64_t(1) << 31) - 1;

 private:
  static int64_t default_max(const std::string& canon) {
    static const char* const counts[] = {"num_layers", "num_experts", "top_k",
                                         "n_group",    "topk_group",  "num_shared_experts"};
    for (const char* c : counts)
      if (canon == c) return kMaxConfigCount;
    return kMaxConfigDimension;
  }

  const Family& family_;
  const nlohmann::json& config_;
  std::string path_;
};

}  // namespace moeprobe
