// Writing safetensors files, tensor by tensor: shapes are declared first (the header needs every
// offset), then each tensor's bytes are streamed in declaration order, so memory stays at one
// tensor whatever the file size. ShardedWriter splits tensors over files of bounded size and writes
// model.safetensors.index.json, as Hugging Face does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace moeprobe {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t nbytes() const;
};

class SafetensorsWriter {
 public:
  // Writes the header at once; tensor bytes follow through write().
  SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                    std::map<std::string, std::string> metadata = {});
  ~SafetensorsWriter();
  // Bytes of the next tensor in declaration order, already encoded in its dtype.
  void write(const std::string& name, const void* bytes, uint64_t nbytes);
  // Part of the next tensor's bytes: parts are appended, in order, until the tensor is complete
  // (a tensor produced piece by piece is never held whole).
  void write_part(const std::string& name, const void* bytes, uint64_t nbytes);
  // Convenience: encodes floats into the tensor's dtype.
  void write_floats(const std::string& name, const float* values, uint64_t count);
  // Checks that every tensor was written, then flushes and closes. Called by the destructor too.
  void finish();

 private:
  const TensorSpec& expect_next(const std::string& name, uint64_t nbytes) const;

  std::filesystem::path path_;
  std::vector<TensorSpec> tensors_;
  std::size_t next_ = 0;
  uint64_t part_written_ = 0;  // bytes of tensors_[next_] already written by write_part
  std::ofstream out_;
  bool finished_ = false;
};

class ShardedWriter {
 public:
  // Tensors are assigned to shards in order, starting a new shard when the next tensor would push
  // the current one past max_shard_bytes. One shard is written as model.safetensors without an
  // index; more as model-0000i-of-0000n.safetensors plus model.safetensors.index.json.
  ShardedWriter(std::filesystem::path dir, std::vector<TensorSpec> tensors,
                uint64_t max_shard_bytes, std::map<std::string, std::string> metadata = {});
  void write(const std::string& name, const void* bytes, uint64_t nbytes);
  void write_floats(const std::string& name, const float* values, uint64_t count);
  void finish();
  std::vector<std::filesystem::path> shard_paths() const;

 private:
  void open_shard(std::size_t shard);
  void advance_if_full();
  std::filesystem::path dir_;
  std::vector<TensorSpec> tensors_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::vector<TensorSpec>> shards_;
  std::vector<std::string> shard_names_;
  std::size_t current_ = 0;
  std::size_t written_in_current_ = 0;
  std::unique_ptr<SafetensorsWriter> writer_;
  bool finished_ = false;
};

}  // namespace moeprobe
