#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {
namespace {

// Reads exactly n bytes at offset; false on a short read.
bool read_at(int fd, void* buf, std::size_t n, off_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += got;
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

uint64_t as_offset(const nlohmann::json& v, const std::string& file, const std::string& field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw InputError(file, field, "expected a non-negative integer, got " + json_excerpt(v));
  return v.get<uint64_t>();
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::filesystem::path path) : path_(std::move(path)) {
  const std::string file = path_.string();
  Fd fd;
  fd.fd = open_regular_file(path_, "safetensors file");  // a FIFO or directory fails here
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) throw InputError(file, "", "cannot stat the safetensors file");
  file_size_ = static_cast<uint64_t>(st.st_size);

  if (file_size_ < 8)
    throw InputError(file, "header length",
                     "truncated file: " + std::to_string(file_size_) +
                         " bytes, expected at least the 8-byte header length");
  unsigned char len_bytes[8];
  if (!read_at(fd.fd, len_bytes, 8, 0)) throw InputError(file, "header length", "read failed");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];  // little-endian
  if (n > kMaxHeaderBytes)
    throw InputError(file, "header length",
                     std::to_string(n) + " bytes exceeds the limit of " +
                         std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > file_size_ - 8)
    throw InputError(file, "header length",
                     "header of " + std::to_string(n) + " bytes extends beyond the file (" +
                         std::to_string(file_size_) + " bytes): truncated or corrupt");
  header_size_ = n;

  std::string text(n, '\0');
  if (!read_at(fd.fd, text.data(), n, 8)) throw InputError(file, "header", "read failed");
  nlohmann::json header;
  try {
    // Tensors sit at depth 2 and their shapes at 3; __metadata__ is a flat string map.
    header = parse_json(text, file, 8);
  } catch (const InputError& e) {
    throw InputError(file, "header", e.problem());
  }
  text = std::string();
  if (!header.is_object()) throw InputError(file, "header", "expected a JSON object");

  const uint64_t data_size = file_size_ - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(file, "__metadata__", "expected an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        metadata_[m.key()] =
            m.value().is_string() ? m.value().get<std::string>() : json_excerpt(m.value(), 4096);
      continue;
    }
    const std::string field = "tensor '" + name + "'";
    if (!v.is_object())
      throw InputError(file, field, "expected an object with dtype, shape, data_offsets");
    if (!v.contains("dtype") || !v["dtype"].is_string())
      throw InputError(file, field + ".dtype", "missing or not a string");
    const std::string dtype_str = v["dtype"].get<std::string>();
    const auto dtype = parse_dtype(dtype_str);
    if (!dtype)
      throw InputError(
          file, field + ".dtype",
          "unknown dtype '" + printable(dtype_str, 40) +
              "', expected one of F32, F16, BF16, F64, F8_E4M3, F8_E5M2, I8..U64, BOOL");
    if (!v.contains("shape") || !v["shape"].is_array())
      throw InputError(file, field + ".shape", "missing or not an array");
    TensorEntry entry;
    entry.name = name;
    entry.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      const uint64_t dim = as_offset(d, file, field + ".shape");
      if (dim > 0 && numel > std::numeric_limits<uint64_t>::max() / dim)
        throw InputError(file, field + ".shape", "element count overflows");
      numel *= dim;
      entry.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      throw InputError(file, field + ".data_offsets", "expected [begin, end]");
    entry.begin = as_offset(v["data_offsets"][0], file, field + ".data_offsets[0]");
    entry.end = as_offset(v["data_offsets"][1], file, field + ".data_offsets[1]");
    if (entry.end < entry.begin)
      throw InputError(
          file, field + ".data_offsets",
          "end " + std::to_string(entry.end) + " is before begin " + std::to_string(entry.begin));
    if (entry.end > data_size)
      throw InputError(file, field + ".data_offsets",
                       "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                           ") lies outside the data section of " + std::to_string(data_size) +
                           " bytes (file truncated or offsets corrupt)");
    const uint64_t expected = numel * dtype_size(*dtype);
    if (entry.end - entry.begin != expected)
      throw InputError(file, field,
                       "shape " + json_excerpt(v["shape"]) + " x " + dtype_str + " needs " +
                           std::to_string(expected) + " bytes but data_offsets span " +
                           std::to_string(entry.end - entry.begin));
    entries_.push_back(std::move(entry));
  }

  std::sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (std::size_t i = 1; i < entries_.size(); ++i) {
    const auto& prev = entries_[i - 1];
    const auto& cur = entries_[i];
    // Empty tensors occupy no bytes and cannot overlap anything.
    if (cur.begin < prev.end && cur.end > cur.begin && prev.end > prev.begin)
      throw InputError(file, "tensor '" + cur.name + "'",
                       "data_offsets [" + std::to_string(cur.begin) + ", " +
                           std::to_string(cur.end) + ") overlap tensor '" + prev.name + "' [" +
                           std::to_string(prev.begin) + ", " + std::to_string(prev.end) + ")");
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, file_size_);
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void SafetensorsFile::map() const {
  if (map_) return;
  Fd fd;
  fd.fd = open_regular_file(path_, "safetensors file");
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != file_size_)
    throw InputError(path_.string(), "", "file changed size since its header was read");
  void* p = ::mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (p == MAP_FAILED)
    throw InputError(path_.string(), "", std::string("mmap failed: ") + std::strerror(errno));
  ::madvise(p, file_size_, MADV_SEQUENTIAL);
  map_ = p;
}

TensorView SafetensorsFile::view(const TensorEntry& entry) const {
  map();
  TensorView v;
  v.name = entry.name;
  v.file = path_.string();
  v.dtype = entry.dtype;
  v.shape = entry.shape;
  v.data = static_cast<const unsigned char*>(map_) + 8 + header_size_ + entry.begin;
  return v;
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const TensorEntry* e = find(name);
  if (!e) throw InputError(path_.string(), "tensor '" + name + "'", "not present in this file");
  return view(*e);
}

}  // namespace moeprobe
