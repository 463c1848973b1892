#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <numeric>
#include <random>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ =
        fs::temp_directory_path() / ("moeprobe-io-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<unsigned char> random_bytes(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> out(n);
  for (auto& b : out) b = static_cast<unsigned char>(rng());
  return out;
}

void write_raw(const fs::path& p, const std::string& header, std::size_t data_bytes) {
  std::ofstream out(p, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header;
  out << std::string(data_bytes, '\0');
}

std::string error_of(const fs::path& p) {
  try {
    SafetensorsFile f(p);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  const std::vector<DType> types = {DType::F32,     DType::F16,     DType::BF16, DType::F64,
                                    DType::F8_E4M3, DType::F8_E5M2, DType::I8,   DType::U8,
                                    DType::I16,     DType::U16,     DType::I32,  DType::U32,
                                    DType::I64,     DType::U64,     DType::BOOL};
  std::vector<TensorSpec> specs;
  std::vector<std::vector<unsigned char>> payloads;
  for (std::size_t i = 0; i < types.size(); ++i) {
    TensorSpec s{
        std::string("t.") + dtype_name(types[i]), types[i], {3, static_cast<int64_t>(i + 1)}};
    specs.push_back(s);
    payloads.push_back(random_bytes(s.nbytes(), static_cast<uint32_t>(i)));
  }
  specs.push_back({"empty", DType::F32, {0, 4}});
  payloads.emplace_back();
  specs.push_back({"scalar", DType::F32, {}});
  payloads.push_back(random_bytes(4, 99));
  const fs::path path = dir.path() / "all.safetensors";
  {
    SafetensorsWriter w(path, specs, {{"format", "pt"}});
    for (std::size_t i = 0; i < specs.size(); ++i)
      w.write(specs[i].name, payloads[i].data(), payloads[i].size());
    w.finish();
  }
  SafetensorsFile f(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.entries().size(), specs.size());
  EXPECT_FALSE(f.is_mapped());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorView v = f.view(specs[i].name);
    EXPECT_EQ(v.dtype, specs[i].dtype);
    EXPECT_EQ(v.shape, specs[i].shape);
    ASSERT_EQ(v.nbytes(), payloads[i].size());
    // memcmp on the empty tensor's null pointers is undefined even for 0 bytes (UBSan).
    if (!payloads[i].empty())
      EXPECT_EQ(0, std::memcmp(v.data, payloads[i].data(), payloads[i].size())) << specs[i].name;
  }
  EXPECT_TRUE(f.is_mapped());
  EXPECT_EQ((8 + f.header_size()) % 8, 0u) << "data section is 8-byte aligned";
}

TEST(Safetensors, WriteFloatsEncodesDtype) {
  TempDir dir;
  std::vector<float> values(3000);
  std::iota(values.begin(), values.end(), -1500.0f);
  for (auto& v : values) v *= 0.01f;
  std::vector<TensorSpec> specs = {
      {"a", DType::BF16, {3000}}, {"b", DType::F16, {30, 100}}, {"c", DType::F32, {3000}}};
  {
    SafetensorsWriter w(dir.path() / "f.safetensors", specs);
    for (const auto& s : specs) w.write_floats(s.name, values.data(), values.size());
    w.finish();
  }
  SafetensorsFile f(dir.path() / "f.safetensors");
  for (const auto& s : specs) {
    std::vector<float> back(values.size());
    f.view(s.name).read_float(0, static_cast<int64_t>(back.size()), back.data());
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_NEAR(back[i], values[i], std::fabs(values[i]) * 4e-3 + 1e-6) << s.name;
  }
}

TEST(Safetensors, WriterRejectsOutOfOrderAndMissingTensors) {
  TempDir dir;
  std::vector<TensorSpec> specs = {{"a", DType::F32, {2}}, {"b", DType::F32, {2}}};
  float two[2] = {1, 2};
  {
    SafetensorsWriter w(dir.path() / "x.safetensors", specs);
    EXPECT_THROW(w.write("b", two, 8), std::logic_error);
    w.write("a", two, 8);
    EXPECT_THROW(w.write("b", two, 4), std::logic_error);
    EXPECT_THROW(w.finish(), std::logic_error);
  }
  // An unfinished writer removes its file rather than leave a corrupt one.
  EXPECT_FALSE(fs::exists(dir.path() / "x.safetensors"));
}

TEST(Safetensors, ShardedRoundTripThroughCheckpoint) {
  TempDir dir;
  std::vector<TensorSpec> specs;
  std::vector<std::vector<unsigned char>> payloads;
  for (int i = 0; i < 10; ++i) {
    specs.push_back(
        {"layer." + std::to_string(i) + ".w", i % 2 ? DType::BF16 : DType::F32, {16, 8}});
    payloads.push_back(random_bytes(specs.back().nbytes(), static_cast<uint32_t>(100 + i)));
  }
  std::ofstream(dir.path() / "config.json") << R"({"model_type": "test"})";
  ShardedWriter w(dir.path(), specs, 1200);
  for (std::size_t i = 0; i < specs.size(); ++i)
    w.write(specs[i].name, payloads[i].data(), payloads[i].size());
  w.finish();
  ASSERT_GT(w.shard_paths().size(), 1u);
  EXPECT_TRUE(fs::exists(dir.path() / "model.safetensors.index.json"));
  EXPECT_EQ(w.shard_paths()[0].filename().string().substr(0, 12), "model-00001-");

  Checkpoint ckpt(dir.path());
  EXPECT_EQ(ckpt.shards().size(), w.shard_paths().size());
  EXPECT_EQ(ckpt.tensor_names().size(), specs.size());
  EXPECT_EQ(ckpt.mapped_shards(), 0u);
  uint64_t total = 0;
  for (const auto& s : specs) total += s.nbytes();
  EXPECT_EQ(ckpt.tensor_bytes(), total);
  EXPECT_EQ(ckpt.dtype_bytes().at("BF16"), 5u * 16 * 8 * 2);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorView v = ckpt.tensor(specs[i].name);
    EXPECT_EQ(0, std::memcmp(v.data, payloads[i].data(), payloads[i].size()));
  }
  EXPECT_GE(ckpt.mapped_shards(), 1u);
  EXPECT_THROW(ckpt.tensor("nope"), InputError);
}

TEST(Safetensors, SingleShardHasNoIndex) {
  TempDir dir;
  std::vector<TensorSpec> specs = {{"a", DType::F32, {4}}};
  float v[4] = {1, 2, 3, 4};
  ShardedWriter w(dir.path(), specs, 1 << 20);
  w.write("a", v, 16);
  w.finish();
  EXPECT_TRUE(fs::exists(dir.path() / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir.path() / "model.safetensors.index.json"));
}

TEST(Safetensors, HeaderValidation) {
  TempDir dir;
  const fs::path p = dir.path() / "bad.safetensors";
  auto expect_error = [&](const std::string& header, std::size_t data, const std::string& needle) {
    write_raw(p, header, data);
    const std::string msg = error_of(p);
    EXPECT_NE(msg.find(needle), std::string::npos) << "header " << header << " gave: " << msg;
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  };
  expect_error("{", 0, "malformed JSON");
  expect_error("[]", 0, "expected a JSON object");
  expect_error(R"({"w": {"dtype": "F12", "shape": [2], "data_offsets": [0, 8]}})", 8,
               "unknown dtype 'F12'");
  expect_error(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8,
               "needs 12 bytes");
  expect_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4,
               "outside the data section");
  expect_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8,
               "before begin");
  expect_error(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8,
               "non-negative");
  expect_error(R"({"w": {"dtype": "F32", "shape": [2]}})", 8, "data_offsets");
  expect_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
               12, "overlap");
  expect_error(
      R"({"__metadata__": [1], "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4,
      "__metadata__");

  // Tolerated: non-string metadata values and empty tensors sharing an offset.
  write_raw(
      p, R"({"__metadata__": {"n": 3}, "e": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
                   "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
      4);
  EXPECT_EQ(error_of(p), "");
}

TEST(Safetensors, TruncatedAndOversizedHeaders) {
  TempDir dir;
  const fs::path p = dir.path() / "t.safetensors";
  std::ofstream(p, std::ios::binary) << "abc";
  EXPECT_NE(error_of(p).find("truncated"), std::string::npos);
  {
    std::ofstream out(p, std::ios::binary);
    uint64_t n = 1000;
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << "{}";
  }
  EXPECT_NE(error_of(p).find("beyond the file"), std::string::npos);
  {
    std::ofstream out(p, std::ios::binary);
    uint64_t n = SafetensorsFile::kMaxHeaderBytes + 1;
    out.write(reinterpret_cast<const char*>(&n), 8);
  }
  EXPECT_NE(error_of(p).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of(dir.path() / "absent.safetensors").find("cannot open"), std::string::npos);
}

TEST(Checkpoint, DirectoryErrors) {
  TempDir dir;
  auto message = [](const fs::path& p) {
    try {
      Checkpoint c(p);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(dir.path() / "nope").find("not a directory"), std::string::npos);
  EXPECT_NE(message(dir.path()).find("config.json"), std::string::npos);
  std::ofstream(dir.path() / "config.json") << "{ broken";
  EXPECT_NE(message(dir.path()).find("malformed JSON"), std::string::npos);
  std::ofstream(dir.path() / "config.json") << "{}";
  EXPECT_NE(message(dir.path()).find("no model.safetensors"), std::string::npos);
  std::ofstream(dir.path() / "model.safetensors.index.json")
      << R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})";
  EXPECT_NE(message(dir.path()).find("is missing"), std::string::npos);
  std::ofstream(dir.path() / "model.safetensors.index.json") << R"({"weight_map": {"a": "../x"}})";
  EXPECT_NE(message(dir.path()).find("inside the model directory"), std::string::npos);
  // Index naming a tensor its shard lacks.
  std::vector<TensorSpec> specs = {{"b", DType::F32, {1}}};
  float one = 1;
  {
    SafetensorsWriter w(dir.path() / "s1.safetensors", specs);
    w.write("b", &one, 4);
    w.finish();
  }
  std::ofstream(dir.path() / "model.safetensors.index.json")
      << R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})";
  EXPECT_NE(message(dir.path()).find("has no such tensor"), std::string::npos);
}

}  // namespace
}  // namespace moeprobe
