// Helpers shared by the model and CLI tests: temp dirs, copies of the HF fixtures, header
// surgery on safetensors files and tiny synthetic checkpoints written with the ShardedWriter.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "model/family.h"
#include "tests/cli/cli_test_util.h"

namespace moeprobe::testutil {

namespace fs = std::filesystem;

inline fs::path hf_fixture(const std::string& name) {
  return fs::path(MOEPROBE_TEST_DATA) / "hf" / name;
}

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("moeprobe-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Copies a fixture model directory (config.json, model.safetensors) into dst, writable.
inline fs::path copy_fixture(const std::string& name, const fs::path& dst) {
  const fs::path out = dst / name;
  fs::create_directories(out);
  for (const auto& f : {"config.json", "model.safetensors"}) {
    fs::copy_file(hf_fixture(name) / f, out / f, fs::copy_options::overwrite_existing);
    fs::permissions(out / f, fs::perms::owner_read | fs::perms::owner_write);
  }
  return out;
}

inline nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline void write_json(const fs::path& p, const nlohmann::json& j) {
  std::ofstream(p) << j.dump(2);
}

inline void edit_json(const fs::path& p, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = read_json(p);
  edit(j);
  write_json(p, j);
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// Rewrites a safetensors header through `edit`, keeping the data section byte for byte.
inline void edit_header(const fs::path& p, const std::function<void(nlohmann::json&)>& edit) {
  const std::string bytes = read_bytes(p);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  edit(header);
  const std::string text = header.dump();
  const uint64_t len = text.size();
  std::string out(reinterpret_cast<const char*>(&len), 8);
  out += text;
  out += bytes.substr(8 + n);
  write_bytes(p, out);
}

// A tiny checkpoint for a family, with every tensor the family's patterns name for the layers
// given (MoE layers get the first layout's tensors, the others the dense FFN). Values are a
// deterministic pattern so that views can be compared.
struct TinySpec {
  int num_layers = 2;
  std::vector<int> moe_layers = {0, 1};
  int64_t hidden = 8, expert_inter = 4, dense_inter = 12, shared_inter = 6;
  int experts = 4;
  int shared_blocks = 0;  // shared act/up/down blocks written per MoE layer
  std::size_t layout = 0;
  bool score_correction_bias = false;
  uint64_t max_shard_bytes = 1ull << 40;
};

inline void write_tiny_checkpoint(const fs::path& dir, const Family& fam, const TinySpec& s,
                                  const nlohmann::json& config) {
  fs::create_directories(dir);
  write_json(dir / "config.json", config);
  std::vector<TensorSpec> specs;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    specs.push_back({name, DType::F32, std::move(shape)});
  };
  const int64_t H = s.hidden, I = s.expert_inter;
  add(fam.dense.embed, {16, H});
  for (int l = 0; l < s.num_layers; ++l) {
    add(expand_pattern(fam.dense.input_norm, l), {H});
    const bool moe = std::find(s.moe_layers.begin(), s.moe_layers.end(), l) != s.moe_layers.end();
    if (!moe) {
      add(expand_pattern(fam.dense.dense_act, l), {s.dense_inter, H});
      add(expand_pattern(fam.dense.dense_up, l), {s.dense_inter, H});
      add(expand_pattern(fam.dense.dense_down, l), {H, s.dense_inter});
      continue;
    }
    const ExpertLayout& lay = fam.layouts.at(s.layout);
    add(expand_pattern(lay.router, l), {s.experts, H});
    if (s.score_correction_bias) add(expand_pattern(lay.score_correction_bias, l), {s.experts});
    if (lay.fused()) {
      add(expand_pattern(lay.fused_gate_up, l), {s.experts, 2 * I, H});
      add(expand_pattern(lay.fused_down, l), {s.experts, H, I});
    } else {
      for (int e = 0; e < s.experts; ++e) {
        add(expand_pattern(lay.expert_act, l, e), {I, H});
        add(expand_pattern(lay.expert_up, l, e), {I, H});
        add(expand_pattern(lay.expert_down, l, e), {H, I});
      }
    }
    for (int b = 0; b < s.shared_blocks; ++b) {
      add(expand_pattern(lay.shared_act, l, b), {s.shared_inter, H});
      add(expand_pattern(lay.shared_up, l, b), {s.shared_inter, H});
      add(expand_pattern(lay.shared_down, l, b), {H, s.shared_inter});
    }
    if (s.shared_blocks > 0 && !lay.shared_gate.empty())
      add(expand_pattern(lay.shared_gate, l), {1, H});
  }
  add(fam.dense.final_norm, {H});
  ShardedWriter w(dir, specs, s.max_shard_bytes);
  float next = 0.0f;
  for (const auto& t : specs) {
    std::vector<float> v(t.nbytes() / 4);
    for (auto& x : v) x = (next += 0.25f);
    w.write_floats(t.name, v.data(), v.size());
  }
  w.finish();
}

inline const Family& family_named(const std::vector<Family>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return f;
  throw std::runtime_error("no family " + name);
}

}  // namespace moeprobe::testutil

namespace moeprobe::testutil {

// The CLI helper shared by every test (tests/cli/cli_test_util.h).
using ::moeprobe::testing::CliResult;
using ::moeprobe::testing::run_cli;
using ::moeprobe::testing::shell_quote;

}  // namespace moeprobe::testutil
