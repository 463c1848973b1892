// tokenizer.json "model" of type BPE: merges applied by rank (lowest first, leftmost among
// equals), byte_fallback to <0xXX> pieces, unk_token (optionally fused), ignore_merges,
// continuing_subword_prefix / end_of_word_suffix. Results are cached per word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace moeprobe::tokenizer {

class BpeModel {
 public:
  BpeModel(const nlohmann::json& spec, const std::string& file, const std::string& field);

  // Appends the ids of one pre-tokenised word.
  void encode_word(std::string_view word, std::vector<int64_t>& out) const;

  // The id of a token string, or -1.
  int64_t token_id(const std::string& token) const;
  int64_t vocab_size() const { return max_id_ + 1; }

 private:
  void merge(std::string_view word, std::vector<int32_t>& ids) const;
  void merge_short(std::vector<int32_t>& ids) const;
  void merge_long(std::vector<int32_t>& ids) const;
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  }

  std::unordered_map<std::string, int32_t> vocab_;
  // (left id << 32 | right id) → (rank << 32 | merged id)
  std::unordered_map<uint64_t, uint64_t> merges_;
  int32_t byte_ids_[256];
  bool byte_fallback_ = false, ignore_merges_ = false, fuse_unk_ = false;
  int32_t unk_id_ = -1;
  std::string prefix_, suffix_;
  int64_t max_id_ = -1;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace moeprobe::tokenizer
