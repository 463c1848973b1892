#include "synth/tensor_jobs.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "io/safetensors_writer.h"
#include "synth/parallel.h"

namespace moeprobe::synth {

uint64_t write_tensor_jobs(const std::vector<Job>& jobs, DType dt,
                           const std::filesystem::path dirs[2], uint64_t shard_bytes,
                           int threads) {
  std::vector<TensorSpec> specs[2];
  uint64_t max_elems = 0;
  for (const auto& j : jobs) {
    specs[j.writer].push_back(j.spec);
    max_elems = std::max<uint64_t>(max_elems, j.spec.nbytes() / dtype_size(dt));
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  std::unique_ptr<ShardedWriter> writers[2];
  writers[0] = std::make_unique<ShardedWriter>(dirs[0], specs[0], shard_bytes, meta);
  if (!specs[1].empty()) {
    std::filesystem::create_directories(dirs[1]);
    writers[1] = std::make_unique<ShardedWriter>(dirs[1], specs[1], shard_bytes, meta);
  }
  std::vector<float> buf(max_elems);
  std::vector<unsigned char> bytes(max_elems * dtype_size(dt));
  uint64_t written = 0;
  for (const auto& j : jobs) {
    const uint64_t n = j.spec.nbytes() / dtype_size(dt);
    j.fill(buf.data());
    const uint64_t chunk = 1 << 20;
    const uint64_t chunks = (n + chunk - 1) / chunk;
    parallel_chunks(
        static_cast<int64_t>(chunks), chunks >= 4 ? threads : 1, [&](int64_t cb, int64_t ce) {
          for (uint64_t c = cb; c < static_cast<uint64_t>(ce); ++c) {
            const uint64_t b = c * chunk, e = std::min(n, b + chunk);
            convert_from_float(dt, buf.data() + b, bytes.data() + b * dtype_size(dt), e - b);
          }
        });
    writers[j.writer]->write(j.spec.name, bytes.data(), j.spec.nbytes());
    written += j.spec.nbytes();
  }
  for (auto& w : writers)
    if (w) w->finish();
  return written;
}

}  // namespace moeprobe::synth
