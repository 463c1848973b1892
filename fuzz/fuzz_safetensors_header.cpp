// The safetensors header: the input is the header JSON; the file gets its 8-byte length and a
// 256-byte data section, and every tensor the header accepts is viewed (offsets, mmap).
#include "fuzz/fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string header = fuzz::as_text(data, size);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((uint64_t(size) >> (8 * i)) & 0xFF);
  bytes += header + std::string(256, '\0');
  const auto path = fuzz::scratch_dir() / "model.safetensors";
  fuzz::write_file(path, bytes);
  return fuzz::run_contract([&] {
    SafetensorsFile f(path);
    uint64_t sum = 0;
    for (const auto& e : f.entries()) {
      const TensorView v = f.view(e);
      for (uint64_t i = 0; i < v.nbytes(); ++i) sum += v.data[i];
    }
    if (sum != 0) std::abort();  // the data section is zeros
  });
}
