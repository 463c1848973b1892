// One test per class of bad input, through the moeprobe binary: exit code 2, a message on stderr
// that names the file and the field, nothing on stdout. Broken inputs are made here, in a temp
// dir, from copies of the HF fixtures.
#include <filesystem>

#include <gtest/gtest.h>

#include "../model/model_test_util.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testutil::copy_fixture;
using testutil::edit_header;
using testutil::edit_json;
using testutil::run_cli;
using testutil::shell_quote;

class BadInput : public ::testing::Test {
 protected:
  testutil::ScratchDir scratch{"bad-input"};

  fs::path classic() { return copy_fixture("mixtral_classic", scratch.path()); }

  // A copy of mixtral_classic split over several shards with model.safetensors.index.json.
  fs::path sharded() {
    const fs::path src = testutil::hf_fixture("mixtral_classic");
    const fs::path dst = scratch.path() / "sharded";
    Checkpoint ckpt(src);
    std::vector<TensorSpec> specs;
    for (const auto& name : ckpt.tensor_names()) {
      const TensorEntry* e = ckpt.entry(name);
      specs.push_back({name, e->dtype, e->shape});
    }
    {
      ShardedWriter w(dst, specs, 64 * 1024);
      for (const auto& s : specs) {
        const TensorView v = ckpt.tensor(s.name);
        w.write(s.name, v.data, v.nbytes());
      }
      w.finish();
    }
    fs::copy_file(src / "config.json", dst / "config.json");
    EXPECT_TRUE(fs::exists(dst / "model.safetensors.index.json"));
    return dst;
  }

  // Runs inspect and checks exit code 2, empty stdout and every needle in stderr.
  void expect_bad(const fs::path& dir, const std::vector<std::string>& needles,
                  const std::string& extra = "") {
    const auto r = run_cli("inspect " + shell_quote(dir.string()) + " --json " + extra);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    for (const auto& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
  }
};

const char* kW1 = "model.layers.0.block_sparse_moe.experts.0.w1.weight";
const char* kW3 = "model.layers.0.block_sparse_moe.experts.0.w3.weight";

TEST_F(BadInput, TruncatedFile) {
  const fs::path dir = classic();
  const fs::path st = dir / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) / 2);
  expect_bad(dir, {st.string(), "data_offsets", "truncated"});
}

TEST_F(BadInput, TruncatedBelowHeaderLength) {
  const fs::path dir = classic();
  fs::resize_file(dir / "model.safetensors", 5);
  expect_bad(dir, {(dir / "model.safetensors").string(), "header length", "truncated"});
}

TEST_F(BadInput, HeaderLengthBeyondFile) {
  const fs::path dir = classic();
  const fs::path st = dir / "model.safetensors";
  std::string bytes = testutil::read_bytes(st);
  const uint64_t n = bytes.size() * 2;
  bytes.replace(0, 8, std::string(reinterpret_cast<const char*>(&n), 8));
  testutil::write_bytes(st, bytes);
  expect_bad(dir, {st.string(), "header length", "beyond the file"});
}

TEST_F(BadInput, MalformedHeaderJson) {
  const fs::path dir = classic();
  const fs::path st = dir / "model.safetensors";
  std::string bytes = testutil::read_bytes(st);
  bytes[8 + 1] = '\x01';  // inside the header's first key
  testutil::write_bytes(st, bytes);
  expect_bad(dir, {st.string(), "header", "malformed JSON"});
}

TEST_F(BadInput, UnknownDtype) {
  const fs::path dir = classic();
  edit_header(dir / "model.safetensors", [](nlohmann::json& h) { h[kW1]["dtype"] = "F33"; });
  expect_bad(dir, {(dir / "model.safetensors").string(), kW1, "dtype", "F33"});
}

TEST_F(BadInput, ShapeBytesMismatch) {
  const fs::path dir = classic();
  edit_header(dir / "model.safetensors", [](nlohmann::json& h) { h[kW1]["shape"] = {64, 33}; });
  expect_bad(dir, {(dir / "model.safetensors").string(), kW1, "bytes"});
}

TEST_F(BadInput, OffsetsOutOfRange) {
  const fs::path dir = classic();
  edit_header(dir / "model.safetensors", [](nlohmann::json& h) {
    h[kW1]["data_offsets"] = {1000000, 1000000 + 64 * 32 * 4};
  });
  expect_bad(dir, {(dir / "model.safetensors").string(), kW1, "data_offsets", "outside"});
}

TEST_F(BadInput, OverlappingTensors) {
  const fs::path dir = classic();
  edit_header(dir / "model.safetensors",
              [](nlohmann::json& h) { h[kW3]["data_offsets"] = h[kW1]["data_offsets"]; });
  expect_bad(dir, {(dir / "model.safetensors").string(), "overlap"});
}

TEST_F(BadInput, MissingShard) {
  const fs::path dir = sharded();
  const auto index = testutil::read_json(dir / "model.safetensors.index.json");
  const std::string last = index["weight_map"]["model.norm.weight"];
  fs::remove(dir / last);
  expect_bad(dir,
             {(dir / "model.safetensors.index.json").string(), "weight_map.", last, "missing"});
}

TEST_F(BadInput, IndexNamesMissingTensor) {
  const fs::path dir = sharded();
  edit_json(dir / "model.safetensors.index.json", [](nlohmann::json& j) {
    j["weight_map"]["model.layers.0.mlp.ghost.weight"] = j["weight_map"]["lm_head.weight"];
  });
  expect_bad(dir, {(dir / "model.safetensors.index.json").string(),
                   "weight_map.model.layers.0.mlp.ghost.weight", "no such tensor"});
}

TEST_F(BadInput, MissingExpertTensor) {
  const fs::path dir = classic();
  const char* w2 = "model.layers.1.block_sparse_moe.experts.2.w2.weight";
  edit_header(dir / "model.safetensors", [&](nlohmann::json& h) { h.erase(w2); });
  expect_bad(dir, {dir.string(), w2, "missing", "expert down projection"});
}

TEST_F(BadInput, ExpertShapeDisagreesWithConfig) {
  const fs::path dir = classic();
  edit_json(dir / "config.json", [](nlohmann::json& j) { j["intermediate_size"] = 48; });
  expect_bad(dir, {(dir / "model.safetensors").string(),
                   "model.layers.0.block_sparse_moe.experts.0.w1.weight", "[64, 32]",
                   "expected [48, 32]"});
}

TEST_F(BadInput, NonFloatExpertDtype) {
  const fs::path dir = classic();
  edit_header(dir / "model.safetensors", [](nlohmann::json& h) { h[kW1]["dtype"] = "I32"; });
  expect_bad(dir, {(dir / "model.safetensors").string(), kW1, "dtype I32", "float"});
}

TEST_F(BadInput, ConfigWithoutMoeFields) {
  const fs::path dir = classic();
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j.erase("num_local_experts");
    j.erase("num_experts_per_tok");
  });
  expect_bad(dir, {(dir / "config.json").string(), "num_local_experts", "missing"});
}

TEST_F(BadInput, MalformedConfigJson) {
  const fs::path dir = classic();
  testutil::write_bytes(dir / "config.json", "{\"model_type\": \"mixtral\",");
  expect_bad(dir, {(dir / "config.json").string(), "malformed JSON"});
}

TEST_F(BadInput, UnknownFamilyForced) {
  expect_bad(classic(), {"--family", "nope", "unknown family", "mixtral"}, "--family nope");
}

TEST_F(BadInput, UnknownModelType) {
  const fs::path dir = classic();
  edit_json(dir / "config.json", [](nlohmann::json& j) {
    j["model_type"] = "not_a_family";
    j.erase("architectures");
  });
  expect_bad(dir, {(dir / "config.json").string(), "model_type", "not_a_family", "--family"});
}

TEST_F(BadInput, ExpertCountDiffersFromConfig) {
  const fs::path dir = classic();
  edit_json(dir / "config.json", [](nlohmann::json& j) { j["num_local_experts"] = 8; });
  expect_bad(dir, {(dir / "config.json").string() + ": num_local_experts: says 8 but "
                                                    "model.layers.0 has 4 experts"});
  const fs::path fused = copy_fixture("mixtral_fused", scratch.path());
  edit_json(fused / "config.json", [](nlohmann::json& j) { j["num_local_experts"] = 3; });
  expect_bad(fused, {(fused / "config.json").string() + ": num_local_experts: says 3 but "
                                                        "model.layers.0 has 4 experts"});
}

TEST_F(BadInput, BadFamilyFile) {
  const fs::path fams = scratch.path() / "families";
  fs::create_directories(fams);
  std::ofstream(fams / "mixtral.yaml")
      << "detect:\n  model_types: [mixtral]\nconfig_keys:\n  num_layers: num_hidden_layers\n"
         "  hidden_size: hidden_size\nroutng: {}\n";
  expect_bad(classic(), {(fams / "mixtral.yaml").string(), "routng", "unknown key"},
             "--families " + shell_quote(fams.string()));
}

TEST_F(BadInput, MissingModelDirectory) {
  expect_bad(scratch.path() / "nowhere",
             {(scratch.path() / "nowhere").string(), "not a directory"});
}

}  // namespace
}  // namespace moeprobe
