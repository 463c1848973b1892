#include "tokenizer/post_processor.h"

#include "tokenizer/json_fields.h"

namespace moeprobe::tokenizer {
namespace {

std::vector<int64_t> special_ids(const nlohmann::json& specials, const std::string& name,
                                 const std::string& file, const std::string& field) {
  if (!specials.is_object() || !specials.contains(name))
    throw InputError(file, field + ".special_tokens", "has no entry \"" + name + "\"");
  const auto& ids = require_field(specials[name], "ids", file, field + ".special_tokens." + name);
  std::vector<int64_t> out;
  if (!ids.is_array())
    throw InputError(file, field + ".special_tokens." + name + ".ids", "expected an array");
  for (const auto& id : ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      throw InputError(file, field + ".special_tokens." + name + ".ids",
                       "expected non-negative ids");
    out.push_back(id.get<int64_t>());
  }
  return out;
}

SpecialWrap template_processing(const nlohmann::json& spec, const std::string& file,
                                const std::string& field) {
  const auto& single = require_field(spec, "single", file, field);
  if (!single.is_array()) throw InputError(file, field + ".single", "expected an array");
  const auto& specials = require_field(spec, "special_tokens", file, field);
  SpecialWrap wrap;
  bool seen_a = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string where = field + ".single[" + std::to_string(i) + "]";
    const auto& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      if (string_field(item["Sequence"], "id", file, where + ".Sequence") != "A" || seen_a)
        throw InputError(file, where, "a single-sequence template must hold $A exactly once");
      seen_a = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      const auto ids = special_ids(
          specials, string_field(item["SpecialToken"], "id", file, where + ".SpecialToken"), file,
          field);
      auto& dest = seen_a ? wrap.suffix : wrap.prefix;
      dest.insert(dest.end(), ids.begin(), ids.end());
    } else {
      throw InputError(file, where, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_a) throw InputError(file, field + ".single", "has no $A");
  return wrap;
}

int64_t pair_id(const nlohmann::json& spec, const char* key, const std::string& file,
                const std::string& field) {
  const auto& p = require_field(spec, key, file, field);
  if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer())
    throw InputError(file, field + "." + key, "expected [token, id]");
  return p[1].get<int64_t>();
}

}  // namespace

SpecialWrap parse_post_processor(const nlohmann::json& spec, const std::string& file,
                                 const std::string& field) {
  if (spec.is_null()) return {};
  const std::string type = type_of(spec, file, field);
  if (type == "ByteLevel") return {};
  if (type == "TemplateProcessing") return template_processing(spec, file, field);
  if (type == "BertProcessing" || type == "RobertaProcessing")
    return {{pair_id(spec, "cls", file, field)}, {pair_id(spec, "sep", file, field)}};
  if (type == "Sequence") {
    const auto& list = require_field(spec, "processors", file, field);
    if (!list.is_array()) throw InputError(file, field + ".processors", "expected an array");
    SpecialWrap all;
    for (size_t i = 0; i < list.size(); ++i) {
      const SpecialWrap w =
          parse_post_processor(list[i], file, field + ".processors[" + std::to_string(i) + "]");
      all.prefix.insert(all.prefix.begin(), w.prefix.begin(), w.prefix.end());
      all.suffix.insert(all.suffix.end(), w.suffix.begin(), w.suffix.end());
    }
    return all;
  }
  unsupported(file, field, type);
}

}  // namespace moeprobe::tokenizer
