// model.safetensors.index.json and shard resolution: the input is the index; the directory
// holds config.json and two valid shards (a.safetensors: w0, w1; b.safetensors: w2).
#include "fuzz/fuzz_util.h"
#include "io/checkpoint.h"

namespace {

std::string shard(const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + std::string(data_bytes, '\0');
}

const std::filesystem::path& model_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = moeprobe::fuzz::scratch_dir() / "model";
    std::filesystem::create_directories(d);
    moeprobe::fuzz::write_file(d / "config.json", "{\"model_type\": \"mixtral\"}");
    moeprobe::fuzz::write_file(
        d / "a.safetensors",
        shard("{\"w0\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"w1\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}",
              16));
    moeprobe::fuzz::write_file(
        d / "b.safetensors",
        shard("{\"w2\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8));
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const auto& dir = model_dir();
  fuzz::write_file(dir / "model.safetensors.index.json", fuzz::as_text(data, size));
  return fuzz::run_contract([&] {
    Checkpoint c(dir);
    for (const auto& name : c.tensor_names()) {
      const TensorView v = c.tensor(name);
      if (v.nbytes() > 0 && v.data == nullptr) std::abort();
      (void)c.shard_of(name);
    }
    (void)c.tensor_bytes();
  });
}
