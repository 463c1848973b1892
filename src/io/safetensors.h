// Reading one .safetensors file: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data
// section. Everything in the header is validated before any tensor is handed out; tensor data is
// reached through a lazily created read-only mmap, so opening a file reads only its header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/tensor_spec.h"
#include "io/tensor_view.h"

namespace moeprobe {

struct TensorEntry : TensorSpec {
  uint64_t begin = 0, end = 0;  // byte offsets inside the data section
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

  // Reads and validates the header; throws InputError naming the file and the offending tensor.
  explicit SafetensorsFile(std::filesystem::path path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t header_size() const { return header_size_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const TensorEntry* find(const std::string& name) const;

  // A view of the tensor's bytes; maps the file on first use.
  TensorView view(const std::string& name) const;
  TensorView view(const TensorEntry& entry) const;
  bool is_mapped() const { return map_ != nullptr; }

 private:
  void map() const;

  std::filesystem::path path_;
  uint64_t file_size_ = 0;
  uint64_t header_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t> index_;
  mutable void* map_ = nullptr;
};

}  // namespace moeprobe
