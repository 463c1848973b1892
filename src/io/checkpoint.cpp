#include "io/checkpoint.h"

#include <algorithm>
#include <set>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

Checkpoint::Checkpoint(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec))
    throw InputError(dir_.string(), "",
                     "not a directory (expected a Hugging Face model directory)");
  config_path_ = dir_ / "config.json";
  if (!std::filesystem::exists(config_path_, ec))
    throw InputError(config_path_.string(), "", "missing: a model directory needs config.json");
  config_ = read_json_file(config_path_, "config.json");
  if (!config_.is_object()) throw InputError(config_path_.string(), "", "expected a JSON object");

  const auto index_path = dir_ / "model.safetensors.index.json";
  const auto single_path = dir_ / "model.safetensors";
  if (std::filesystem::exists(index_path, ec)) {
    const nlohmann::json index = read_json_file(index_path, "index file");
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw InputError(index_path.string(), "weight_map", "missing or not an object");
    // Open each shard once, in order of first appearance in the (sorted) weight map.
    std::map<std::string, std::size_t> shard_ids;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        throw InputError(index_path.string(), "weight_map." + it.key(),
                         "expected a shard file name");
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == ".." ||
          shard.find('\0') != std::string::npos)
        throw InputError(index_path.string(), "weight_map." + it.key(),
                         "shard '" + printable(shard) +
                             "' must be a file name inside the model directory (no '/', no NUL)");
      if (!shard_ids.count(shard)) {
        const auto shard_path = dir_ / shard;
        if (!std::filesystem::exists(shard_path, ec))
          throw InputError(index_path.string(), "weight_map." + it.key(),
                           "shard '" + shard + "' is missing from " + dir_.string());
        shard_ids[shard] = shards_.size();
        shards_.push_back(std::make_unique<SafetensorsFile>(shard_path));
      }
      const std::size_t id = shard_ids[shard];
      if (!shards_[id]->find(it.key()))
        throw InputError(index_path.string(), "weight_map." + it.key(),
                         "names shard '" + shard + "', which has no such tensor");
    }
  } else if (std::filesystem::exists(single_path, ec)) {
    shards_.push_back(std::make_unique<SafetensorsFile>(single_path));
  } else {
    throw InputError(dir_.string(), "",
                     "no model.safetensors or model.safetensors.index.json in the directory");
  }

  for (std::size_t i = 0; i < shards_.size(); ++i) {
    for (const auto& e : shards_[i]->entries()) {
      auto [it, inserted] = tensor_shard_.emplace(e.name, i);
      if (!inserted)
        throw InputError(shards_[i]->path().string(), "tensor '" + e.name + "'",
                         "also present in " + shards_[it->second]->path().string() +
                             " (a tensor must live in exactly one shard)");
    }
  }
}

bool Checkpoint::has(const std::string& name) const {
  return tensor_shard_.count(name) > 0;
}

const TensorEntry* Checkpoint::entry(const std::string& name) const {
  auto it = tensor_shard_.find(name);
  return it == tensor_shard_.end() ? nullptr : shards_[it->second]->find(name);
}

TensorView Checkpoint::tensor(const std::string& name) const {
  auto it = tensor_shard_.find(name);
  if (it == tensor_shard_.end())
    throw InputError(dir_.string(), "tensor '" + name + "'", "missing from the checkpoint");
  return shards_[it->second]->view(name);
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(tensor_shard_.size());
  for (const auto& [name, shard] : tensor_shard_) names.push_back(name);
  return names;
}

std::filesystem::path Checkpoint::shard_of(const std::string& name) const {
  auto it = tensor_shard_.find(name);
  return it == tensor_shard_.end() ? dir_ : shards_[it->second]->path();
}

uint64_t Checkpoint::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& s : shards_)
    for (const auto& e : s->entries()) total += e.end - e.begin;
  return total;
}

std::map<std::string, uint64_t> Checkpoint::dtype_bytes() const {
  std::map<std::string, uint64_t> out;
  for (const auto& s : shards_)
    for (const auto& e : s->entries()) out[dtype_name(e.dtype)] += e.end - e.begin;
  return out;
}

std::size_t Checkpoint::mapped_shards() const {
  return static_cast<std::size_t>(
      std::count_if(shards_.begin(), shards_.end(), [](const auto& s) { return s->is_mapped(); }));
}

}  // namespace moeprobe
