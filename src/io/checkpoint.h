// A Hugging Face model directory: config.json plus model.safetensors, or
// model.safetensors.index.json and its shards. Opening reads config.json and shard headers only;
// a shard is memory-mapped the first time one of its tensors' bytes is needed.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace moeprobe {

class Checkpoint {
 public:
  // Throws InputError: missing directory or config.json, malformed JSON, missing shard, index
  // naming a tensor its shard lacks, and every header error of SafetensorsFile.
  explicit Checkpoint(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  const nlohmann::json& config() const { return config_; }

  bool has(const std::string& name) const;
  const TensorEntry* entry(const std::string& name) const;  // header data only; nullptr if absent
  // The tensor's view; throws InputError naming the checkpoint and tensor if it is absent.
  TensorView tensor(const std::string& name) const;
  std::vector<std::string> tensor_names() const;  // sorted
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // Shard holding a tensor (for error messages).
  std::filesystem::path shard_of(const std::string& name) const;

  uint64_t tensor_bytes() const;                        // sum of all data sections
  std::map<std::string, uint64_t> dtype_bytes() const;  // "BF16" -> bytes
  std::size_t mapped_shards() const;                    // how many shards have been mapped so far

 private:
  std::filesystem::path dir_, config_path_;
  nlohmann::json config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, std::size_t> tensor_shard_;  // name -> index into shards_
};

}  // namespace moeprobe
