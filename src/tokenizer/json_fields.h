// Typed reads of tokenizer.json / tokenizer_config.json fields with errors naming file and field.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace moeprobe::tokenizer {

inline const nlohmann::json& require_field(const nlohmann::json& obj, const char* key,
                                           const std::string& file, const std::string& field) {
  if (!obj.is_object() || !obj.contains(key)) throw InputError(file, field + "." + key, "missing");
  return obj.at(key);
}

inline std::string string_field(const nlohmann::json& obj, const char* key, const std::string& file,
                                const std::string& field) {
  const auto& v = require_field(obj, key, file, field);
  if (!v.is_string()) throw InputError(file, field + "." + key, "expected a string");
  return v.get<std::string>();
}

inline bool bool_field(const nlohmann::json& obj, const char* key, bool fallback,
                       const std::string& file, const std::string& field) {
  if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null()) return fallback;
  if (!obj.at(key).is_boolean())
    throw InputError(file, field + "." + key, "expected true or false");
  return obj.at(key).get<bool>();
}

inline std::string type_of(const nlohmann::json& spec, const std::string& file,
                           const std::string& field) {
  if (!spec.is_object()) throw InputError(file, field, "expected an object with a \"type\"");
  return string_field(spec, "type", file, field);
}

[[noreturn]] inline void unsupported(const std::string& file, const std::string& field,
                                     const std::string& type) {
  throw InputError(file, field + ".type",
                   "unsupported component type \"" + type +
                       "\" (moeprobe would tokenise differently; supported types are listed in "
                       "the README)");
}

}  // namespace moeprobe::tokenizer
