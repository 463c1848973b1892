#include "tokenizer/bpe_model.h"

#include <cstdio>
#include <limits>
#include <queue>

#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace moeprobe::tokenizer {
namespace {

constexpr size_t kCacheLimit = 200000;  // words; cleared when full, so memory stays bounded

std::string optional_string(const nlohmann::json& spec, const char* key, const std::string& file,
                            const std::string& field) {
  if (!spec.contains(key) || spec[key].is_null()) return "";
  if (!spec[key].is_string())
    throw InputError(file, field + "." + key, "expected a string or null");
  return spec[key].get<std::string>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec, const std::string& file, const std::string& field) {
  const auto& vocab = require_field(spec, "vocab", file, field);
  if (!vocab.is_object()) throw InputError(file, field + ".vocab", "expected an object token → id");
  vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw InputError(file, field + ".vocab[\"" + it.key() + "\"]", "expected a non-negative id");
    const auto id = it.value().get<int32_t>();
    vocab_.emplace(it.key(), id);
    if (id > max_id_) max_id_ = id;
  }
  if (spec.contains("dropout") && !spec["dropout"].is_null() &&
      !(spec["dropout"].is_number() && spec["dropout"].get<double>() == 0.0))
    throw InputError(file, field + ".dropout", "BPE dropout is not supported (expected null)");
  byte_fallback_ = bool_field(spec, "byte_fallback", false, file, field);
  ignore_merges_ = bool_field(spec, "ignore_merges", false, file, field);
  fuse_unk_ = bool_field(spec, "fuse_unk", false, file, field);
  prefix_ = optional_string(spec, "continuing_subword_prefix", file, field);
  suffix_ = optional_string(spec, "end_of_word_suffix", file, field);
  const std::string unk = optional_string(spec, "unk_token", file, field);
  if (!unk.empty()) {
    const auto it = vocab_.find(unk);
    if (it == vocab_.end())
      throw InputError(file, field + ".unk_token", "\"" + unk + "\" is not in the vocab");
    unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto it = vocab_.find(name);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }

  const auto& merges = require_field(spec, "merges", file, field);
  if (!merges.is_array()) throw InputError(file, field + ".merges", "expected an array");
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    const std::string where = field + ".merges[" + std::to_string(rank) + "]";
    std::string left, right;
    if (m.is_string()) {  // "a b"
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw InputError(file, where, "expected \"left right\" with one space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      throw InputError(file, where, "expected \"left right\" or [left, right]");
    }
    const auto l = vocab_.find(left), r = vocab_.find(right), merged = vocab_.find(left + right);
    if (l == vocab_.end() || r == vocab_.end() || merged == vocab_.end())
      throw InputError(file, where, "merge of tokens not in the vocab");
    const uint64_t key = pair_key(l->second, r->second);
    merges_.insert_or_assign(key,
                             (uint64_t(rank) << 32) | uint32_t(merged->second));  // HF: last wins
  }
}

int64_t BpeModel::token_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::merge(std::string_view word, std::vector<int32_t>& ids) const {
  ids.clear();
  if (ignore_merges_ && prefix_.empty() && suffix_.empty()) {
    const auto it = vocab_.find(std::string(word));
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  // Initial symbols: one per character (with prefix/suffix), byte pieces or unk when absent.
  std::string symbol;
  bool last_was_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t begin = i;
    i += utf8_length(static_cast<unsigned char>(word[i]));
    symbol.assign(begin > 0 ? prefix_ : std::string());
    symbol.append(word.substr(begin, i - begin));
    if (i >= word.size()) symbol += suffix_;
    const auto it = vocab_.find(symbol);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      last_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (size_t k = begin; k < i; ++k)
        all = all && byte_ids_[static_cast<unsigned char>(word[k])] >= 0;
      if (all) {
        for (size_t k = begin; k < i; ++k)
          ids.push_back(byte_ids_[static_cast<unsigned char>(word[k])]);
        last_was_unk = false;
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (!(fuse_unk_ && last_was_unk)) ids.push_back(unk_id_);
      last_was_unk = true;
    }
    // No unk token: the character is dropped, as Hugging Face does.
  }
  if (ids.size() < 32)
    merge_short(ids);
  else
    merge_long(ids);
}

// Merge the lowest-ranked adjacent pair, leftmost first, until none applies: a scan per merge,
// fastest for the short words a pre-tokenizer produces.
void BpeModel::merge_short(std::vector<int32_t>& ids) const {
  while (ids.size() > 1) {
    uint64_t best = std::numeric_limits<uint64_t>::max();
    size_t at = 0;
    for (size_t k = 0; k + 1 < ids.size(); ++k) {
      const auto it = merges_.find(pair_key(ids[k], ids[k + 1]));
      if (it != merges_.end() && it->second < best) {
        best = it->second;
        at = k;
      }
    }
    if (best == std::numeric_limits<uint64_t>::max()) break;
    ids[at] = static_cast<int32_t>(best & 0xFFFFFFFFu);
    ids.erase(ids.begin() + at + 1);
  }
}

// The same order with a heap of candidate pairs over a linked list: O(n log n) for long words
// (a tokenizer without pre-tokenizer, like Mistral's, sees a whole line as one word).
void BpeModel::merge_long(std::vector<int32_t>& ids) const {
  const size_t n = ids.size();
  std::vector<int64_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int64_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
  }
  std::vector<bool> alive(n, true);
  struct Candidate {
    uint64_t rank;  // rank << 32 | merged id
    size_t left;
    int32_t left_id, right_id;
    bool operator>(const Candidate& o) const {
      return (rank >> 32) != (o.rank >> 32) ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto push = [&](int64_t l) {
    if (l < 0 || next[l] < 0) return;
    const auto it = merges_.find(pair_key(ids[l], ids[next[l]]));
    if (it != merges_.end()) heap.push({it->second, static_cast<size_t>(l), ids[l], ids[next[l]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int64_t>(i));
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int64_t r = next[c.left];
    if (!alive[c.left] || r < 0 || ids[c.left] != c.left_id || ids[r] != c.right_id) continue;
    ids[c.left] = static_cast<int32_t>(c.rank & 0xFFFFFFFFu);
    alive[r] = false;
    next[c.left] = next[r];
    if (next[r] >= 0) prev[next[r]] = static_cast<int64_t>(c.left);
    push(prev[c.left]);
    push(static_cast<int64_t>(c.left));
  }
  size_t w = 0;
  for (size_t i = 0; i < n; ++i)
    if (alive[i]) ids[w++] = ids[i];
  ids.resize(w);
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  const std::string key(word);
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    if (cache_.size() >= kCacheLimit) cache_.clear();
    std::vector<int32_t> ids;
    merge(word, ids);
    it = cache_.emplace(key, std::move(ids)).first;
  }
  out.insert(out.end(), it->second.begin(), it->second.end());
}

}  // namespace moeprobe::tokenizer
