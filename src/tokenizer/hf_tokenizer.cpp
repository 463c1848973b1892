#include "tokenizer/hf_tokenizer.h"

#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace moeprobe::tokenizer {
namespace {

// bos_token / eos_token in tokenizer_config.json: a string or {"content": ...}.
std::string config_token(const nlohmann::json& config, const char* key, const std::string& file) {
  if (!config.contains(key) || config[key].is_null()) return "";
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  throw InputError(file, key, "expected a string or {\"content\": ...}");
}

}  // namespace

HfTokenizer::HfTokenizer(const nlohmann::json& spec, const std::string& file,
                         const nlohmann::json& config, const std::string& config_file) {
  if (!spec.is_object()) throw InputError(file, "", "expected a JSON object");
  const auto& model = require_field(spec, "model", file, "");
  const std::string type = model.is_object() && model.contains("type") && model["type"].is_string()
                               ? model["type"].get<std::string>()
                               : (model.is_object() && model.contains("merges") ? "BPE" : "");
  if (type != "BPE") unsupported(file, "model", type.empty() ? "(none)" : type);
  model_ = std::make_unique<BpeModel>(model, file, "model");
  normalizer_ = make_normalizer(spec.value("normalizer", nlohmann::json()), file, "normalizer");
  pre_tokenizer_ =
      make_pre_tokenizer(spec.value("pre_tokenizer", nlohmann::json()), file, "pre_tokenizer");
  specials_ =
      parse_post_processor(spec.value("post_processor", nlohmann::json()), file, "post_processor");
  added_ = parse_added_tokens(spec.value("added_tokens", nlohmann::json()), file);
  for (const auto& a : added_)
    (a.normalized && normalizer_ ? normalized_matcher_ : raw_matcher_).add(a);

  // transformers' fast tokenizers rebuild the post-processor from a boolean add_bos_token /
  // add_eos_token in tokenizer_config.json: BOS? $A EOS?.
  if (config.is_object()) {
    const bool has_bos = config.contains("add_bos_token") && config["add_bos_token"].is_boolean();
    const bool has_eos = config.contains("add_eos_token") && config["add_eos_token"].is_boolean();
    if (has_bos || has_eos) {
      SpecialWrap wrap;
      const std::pair<const char*, const char*> keys[2] = {{"add_bos_token", "bos_token"},
                                                           {"add_eos_token", "eos_token"}};
      for (int k = 0; k < 2; ++k) {
        if (!(config.contains(keys[k].first) && config[keys[k].first].is_boolean() &&
              config[keys[k].first].get<bool>()))
          continue;
        const std::string tok = config_token(config, keys[k].second, config_file);
        const int64_t id = tok.empty() ? -1 : id_of(tok);
        if (id < 0)
          throw InputError(config_file, keys[k].second,
                           std::string(keys[k].first) +
                               " is true but the token is missing or not "
                               "in the vocabulary of " +
                               file);
        (k == 0 ? wrap.prefix : wrap.suffix).push_back(id);
      }
      specials_ = wrap;
    }
  }
}

int64_t HfTokenizer::id_of(const std::string& token) const {
  for (const auto& a : added_)
    if (a.content == token) return a.id;
  return model_->token_id(token);
}

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special,
                                         const std::string& where) const {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw InputError(where, "byte " + std::to_string(bad), "text is not valid UTF-8");
  std::vector<Segment> segments{{std::string(text), -1, true}};
  raw_matcher_.split(segments);
  if (normalizer_)
    for (auto& s : segments)
      if (s.token_id < 0) normalizer_->apply(s.text);
  normalized_matcher_.split(segments);

  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Piece> pieces;
  for (const auto& s : segments) {
    if (s.token_id >= 0) {
      ids.push_back(s.token_id);
      continue;
    }
    if (s.text.empty()) continue;
    pieces.clear();
    pieces.push_back({s.text, s.at_start});
    if (pre_tokenizer_) pre_tokenizer_->split(pieces);
    for (const auto& p : pieces) model_->encode_word(p.text, ids);
  }
  if (add_special) specials_.apply(ids);
  return ids;
}

}  // namespace moeprobe::tokenizer
