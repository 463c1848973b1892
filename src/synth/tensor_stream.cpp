#include "synth/tensor_stream.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "io/safetensors_writer.h"
#include "synth/parallel.h"
#include "synth/quantize.h"
#include "util/progress.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;

namespace {

// Last two dimensions of `matrices` row-major [R, C] matrices swapped.
std::vector<float> transpose_last2(const float* x, int64_t matrices, int64_t R, int64_t C) {
  std::vector<float> t(static_cast<std::size_t>(matrices * R * C));
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) t[(m * C + c) * R + r] = x[(m * R + r) * C + c];
  return t;
}

std::vector<int64_t> swapped_last2(std::vector<int64_t> shape) {
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  return shape;
}

// The progress step of each job: its decoder layer, the leading embeddings counted with the first
// layer and the trailing final norm and LM head with the last.
std::vector<int> progress_steps(const std::vector<TensorJob>& jobs) {
  std::vector<int> step(jobs.size(), -1);
  int last = -1;
  for (std::size_t i = 0; i < jobs.size(); ++i)
    step[i] = last = jobs[i].layer >= 0 ? jobs[i].layer : last;
  int next = last;
  for (std::size_t i = jobs.size(); i-- > 0;) {
    if (jobs[i].layer >= 0) next = jobs[i].layer;
    if (step[i] < 0) step[i] = next;
  }
  return step;
}

}  // namespace

uint64_t write_tensors(const SynthModel& m, const std::vector<TensorJob>& jobs,
                       const fs::path& out_dir,
                       const std::function<void(const std::string&)>& progress) {
  const Recipe& r = m.r;
  const Quantization& qz = r.quant;
  const DType dt = r.dtype;
  const bool ref = r.plant.write_reference;
  const bool twin = !qz.twin.empty();
  auto stored_shape = [](const TensorJob& j) {
    return j.transposed && j.quant != 'm' ? swapped_last2(j.spec.shape) : j.spec.shape;
  };
  auto twin_shape = [](const TensorJob& j) {
    return j.transposed ? swapped_last2(j.spec.shape) : j.spec.shape;
  };
  std::vector<TensorSpec> specs[3];
  uint64_t max_elems = 0;
  for (const auto& j : jobs) {
    const std::vector<int64_t> shape = stored_shape(j);
    const std::size_t nd = shape.size();
    const int64_t R = nd >= 2 ? shape[nd - 2] : 1, C = shape[nd - 1];
    std::vector<int64_t> lead(shape.begin(), shape.end() - std::min<std::size_t>(nd, 2));
    if (j.quant == 'f') {
      specs[j.writer].push_back({j.spec.name, DType::F8_E4M3, shape});
      std::vector<int64_t> sshape = lead;
      sshape.push_back((R + qz.block_rows - 1) / qz.block_rows);
      sshape.push_back((C + qz.block_cols - 1) / qz.block_cols);
      specs[j.writer].push_back({j.spec.name + "_scale_inv", DType::F32, sshape});
    } else if (j.quant == 'm') {
      std::vector<int64_t> scales(shape.begin(), shape.end() - 1);
      scales.push_back(C / 32);
      std::vector<int64_t> blocks = scales;
      blocks.push_back(16);
      specs[j.writer].push_back({j.spec.name + "_blocks", DType::U8, blocks});
      specs[j.writer].push_back({j.spec.name + "_scales", DType::U8, scales});
    } else {
      specs[j.writer].push_back({j.spec.name, dt, shape});
    }
    if (twin && j.writer == 0)
      specs[2].push_back({j.spec.name, j.quant ? DType::F32 : dt, twin_shape(j)});
    max_elems = std::max<uint64_t>(max_elems, j.spec.nbytes() / dtype_size(dt));
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  // load_recipe keeps reference_dir and the quantisation twin relative and inside the output (no
  // "..").
  const fs::path ref_dir = out_dir / r.plant.reference_dir;
  const fs::path twin_dir = out_dir / qz.twin;
  std::unique_ptr<ShardedWriter> writers[3];
  writers[0] = std::make_unique<ShardedWriter>(out_dir, specs[0], r.shard_bytes, meta);
  if (ref) {
    fs::create_directories(ref_dir);
    writers[1] = std::make_unique<ShardedWriter>(ref_dir, specs[1], r.shard_bytes, meta);
  }
  if (twin) {
    fs::create_directories(twin_dir);
    writers[2] = std::make_unique<ShardedWriter>(twin_dir, specs[2], r.shard_bytes, meta);
  }
  std::vector<float> buf(max_elems);
  std::vector<unsigned char> bytes(max_elems * dtype_size(dt));
  uint64_t tensor_bytes = 0;
  auto encode = [&](const float* src, uint64_t n) {
    const uint64_t chunk = 1 << 20;
    const uint64_t chunks = (n + chunk - 1) / chunk;
    parallel_chunks(static_cast<int64_t>(chunks), chunks >= 4 ? m.threads : 1,
                    [&](int64_t cb, int64_t ce) {
                      for (uint64_t c = cb; c < static_cast<uint64_t>(ce); ++c) {
                        const uint64_t b = c * chunk, e = std::min(n, b + chunk);
                        convert_from_float(dt, src + b, bytes.data() + b * dtype_size(dt), e - b);
                      }
                    });
  };
  const std::vector<int> steps = progress_steps(jobs);
  std::size_t total_steps = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) total_steps += i == 0 || steps[i] != steps[i - 1];
  ProgressReporter reporter(progress, "layers", total_steps);
  uint64_t step_bytes = 0;
  std::size_t step_tensors = 0;
  auto put = [&](int writer, const std::string& name, const void* data, uint64_t n) {
    writers[writer]->write(name, data, n);
    step_bytes += n;
  };
  auto write_job = [&](const TensorJob& j) {
    const uint64_t n = j.spec.nbytes() / dtype_size(dt);
    j.fill(buf.data());
    const std::vector<int64_t>& ls = j.spec.shape;
    const std::size_t nd = ls.size();
    const int64_t R = nd >= 2 ? ls[nd - 2] : 1, C = ls[nd - 1];
    const int64_t mats = static_cast<int64_t>(n) / std::max<int64_t>(R * C, 1);
    std::vector<float> t;
    const float* src = buf.data();
    if (j.transposed && j.quant != 'm') {
      t = transpose_last2(buf.data(), mats, R, C);
      src = t.data();
    }
    if (!j.quant) {
      encode(src, n);
      put(j.writer, j.spec.name, bytes.data(), n * dtype_size(dt));
      if (twin && j.writer == 0) put(2, j.spec.name, bytes.data(), n * dtype_size(dt));
      tensor_bytes += n * dtype_size(dt);
      return;
    }
    std::vector<float> deq;
    if (j.quant == 'f') {
      const int64_t SR = j.transposed ? C : R, SC = j.transposed ? R : C;
      std::vector<uint8_t> codes;
      std::vector<float> scales;
      quantize_fp8_blocks(src, mats, SR, SC, qz.block_rows, qz.block_cols, codes, scales, deq);
      put(0, j.spec.name, codes.data(), codes.size());
      put(0, j.spec.name + "_scale_inv", scales.data(), scales.size() * 4);
      tensor_bytes += codes.size() + scales.size() * 4;
    } else {
      std::vector<uint8_t> blocks, scales;
      quantize_mxfp4(src, mats * R, C, blocks, scales, deq);
      put(0, j.spec.name + "_blocks", blocks.data(), blocks.size());
      put(0, j.spec.name + "_scales", scales.data(), scales.size());
      tensor_bytes += blocks.size() + scales.size();
      if (j.transposed) deq = transpose_last2(deq.data(), mats, R, C);
    }
    if (twin) put(2, j.spec.name, deq.data(), deq.size() * 4);
  };
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    write_job(jobs[i]);
    ++step_tensors;
    if (i + 1 < jobs.size() && steps[i + 1] == steps[i]) continue;  // the step goes on
    reporter.step(steps[i] >= 0 ? "layer " + std::to_string(steps[i]) : "tensors", step_bytes,
                  std::to_string(step_tensors) + " tensors");
    step_bytes = 0;
    step_tensors = 0;
  }
  for (auto& w : writers)
    if (w) w->finish();
  buf = {};
  bytes = {};
  return tensor_bytes;
}

}  // namespace moeprobe::synth
