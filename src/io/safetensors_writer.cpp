#include "io/safetensors_writer.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace moeprobe {

uint64_t TensorSpec::nbytes() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n * dtype_size(dtype);
}

namespace {

// The header: keys in declaration order would need an ordered JSON; nlohmann's default object is
// sorted by key, which is also deterministic, and offsets follow declaration order regardless.
std::string make_header(const std::vector<TensorSpec>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (header.contains(t.name)) throw std::invalid_argument("duplicate tensor name " + t.name);
    const uint64_t n = t.nbytes();
    header[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  return text;
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                                     std::map<std::string, std::string> metadata)
    : path_(std::move(path)), tensors_(std::move(tensors)) {
  const std::string header = make_header(tensors_, metadata);
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw InputError(path_.string(), "", "cannot create file");
  unsigned char len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xFF);
  out_.write(reinterpret_cast<const char*>(len), 8);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!finished_) {
    // Destroyed without finish() (an exception unwound us): leave no half-written file behind.
    out_.close();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

const TensorSpec& SafetensorsWriter::expect_next(const std::string& name, uint64_t nbytes) const {
  if (finished_) throw std::logic_error("SafetensorsWriter: write after finish");
  if (part_written_ != 0)
    throw std::logic_error("SafetensorsWriter: " + name + " written while a tensor is partial");
  if (next_ >= tensors_.size())
    throw std::logic_error("SafetensorsWriter: more tensors written than declared (" + name + ")");
  const TensorSpec& spec = tensors_[next_];
  if (spec.name != name)
    throw std::logic_error("SafetensorsWriter: expected tensor " + spec.name + ", got " + name);
  if (spec.nbytes() != nbytes)
    throw std::logic_error("SafetensorsWriter: tensor " + name + " declared " +
                           std::to_string(spec.nbytes()) + " bytes, got " + std::to_string(nbytes));
  return spec;
}

void SafetensorsWriter::write(const std::string& name, const void* bytes, uint64_t nbytes) {
  expect_next(name, nbytes);
  out_.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(nbytes));
  if (!out_) throw InputError(path_.string(), name, "write failed (disk full?)");
  ++next_;
}

void SafetensorsWriter::write_part(const std::string& name, const void* bytes, uint64_t nbytes) {
  if (finished_ || next_ >= tensors_.size() || tensors_[next_].name != name)
    throw std::logic_error("SafetensorsWriter: part of " + name + " out of order");
  const uint64_t total = tensors_[next_].nbytes();
  if (part_written_ + nbytes > total)
    throw std::logic_error("SafetensorsWriter: parts of " + name + " exceed its " +
                           std::to_string(total) + " bytes");
  out_.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(nbytes));
  if (!out_) throw InputError(path_.string(), name, "write failed (disk full?)");
  part_written_ += nbytes;
  if (part_written_ == total) {
    part_written_ = 0;
    ++next_;
  }
}

void SafetensorsWriter::write_floats(const std::string& name, const float* values, uint64_t count) {
  if (next_ < tensors_.size() && tensors_[next_].dtype == DType::F32)
    return write(name, values, count * 4);
  const DType t = next_ < tensors_.size() ? tensors_[next_].dtype : DType::F32;
  expect_next(name, count * dtype_size(t));
  // Encode in bounded chunks so a large tensor does not need a second full-size buffer.
  constexpr uint64_t kChunk = 1 << 20;
  std::vector<unsigned char> buf(kChunk * dtype_size(t));
  for (uint64_t i = 0; i < count; i += kChunk) {
    const uint64_t n = std::min(kChunk, count - i);
    convert_from_float(t, values + i, buf.data(), n);
    out_.write(reinterpret_cast<const char*>(buf.data()),
               static_cast<std::streamsize>(n * dtype_size(t)));
  }
  if (!out_) throw InputError(path_.string(), name, "write failed (disk full?)");
  ++next_;
}

void SafetensorsWriter::finish() {
  if (finished_) return;
  if (next_ != tensors_.size())
    throw std::logic_error("SafetensorsWriter: " + std::to_string(tensors_.size() - next_) +
                           " declared tensors were not written, next is " + tensors_[next_].name);
  out_.flush();
  out_.close();
  if (!out_) throw InputError(path_.string(), "", "write failed (disk full?)");
  finished_ = true;
}

ShardedWriter::ShardedWriter(std::filesystem::path dir, std::vector<TensorSpec> tensors,
                             uint64_t max_shard_bytes, std::map<std::string, std::string> metadata)
    : dir_(std::move(dir)), tensors_(std::move(tensors)), metadata_(std::move(metadata)) {
  std::filesystem::create_directories(dir_);
  uint64_t in_shard = 0;
  for (const auto& t : tensors_) {
    const uint64_t n = t.nbytes();
    if (shards_.empty() || (in_shard > 0 && in_shard + n > max_shard_bytes)) {
      shards_.emplace_back();
      in_shard = 0;
    }
    shards_.back().push_back(t);
    in_shard += n;
  }
  if (shards_.empty()) shards_.emplace_back();
  const std::size_t n = shards_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (n == 1) {
      shard_names_.push_back("model.safetensors");
    } else {
      std::ostringstream name;
      name << "model-" << std::setw(5) << std::setfill('0') << (i + 1) << "-of-" << std::setw(5)
           << std::setfill('0') << n << ".safetensors";
      shard_names_.push_back(name.str());
    }
  }
  open_shard(0);
}

void ShardedWriter::open_shard(std::size_t shard) {
  current_ = shard;
  written_in_current_ = 0;
  writer_ =
      std::make_unique<SafetensorsWriter>(dir_ / shard_names_[shard], shards_[shard], metadata_);
}

void ShardedWriter::advance_if_full() {
  while (written_in_current_ == shards_[current_].size()) {
    writer_->finish();
    if (current_ + 1 >= shards_.size()) throw std::logic_error("ShardedWriter: too many tensors");
    open_shard(current_ + 1);
  }
}

void ShardedWriter::write(const std::string& name, const void* bytes, uint64_t nbytes) {
  advance_if_full();
  writer_->write(name, bytes, nbytes);
  ++written_in_current_;
}

void ShardedWriter::write_floats(const std::string& name, const float* values, uint64_t count) {
  advance_if_full();
  writer_->write_floats(name, values, count);
  ++written_in_current_;
}

void ShardedWriter::finish() {
  if (finished_) return;
  if (current_ + 1 != shards_.size() || written_in_current_ != shards_[current_].size())
    throw std::logic_error("ShardedWriter: not every declared tensor was written");
  writer_->finish();
  if (shards_.size() > 1) {
    nlohmann::json index;
    uint64_t total = 0;
    nlohmann::json weight_map = nlohmann::json::object();
    for (std::size_t i = 0; i < shards_.size(); ++i)
      for (const auto& t : shards_[i]) {
        weight_map[t.name] = shard_names_[i];
        total += t.nbytes();
      }
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = weight_map;
    const auto path = dir_ / "model.safetensors.index.json";
    std::ofstream out(path, std::ios::trunc);
    out << index.dump(2) << "\n";
    if (!out) throw InputError(path.string(), "", "write failed");
  }
  finished_ = true;
}

std::vector<std::filesystem::path> ShardedWriter::shard_paths() const {
  std::vector<std::filesystem::path> out;
  for (const auto& n : shard_names_) out.push_back(dir_ / n);
  return out;
}

}  // namespace moeprobe
