// Capture conformance and behaviour: the activations file of a synthetic model equals the float64
// Python reference's MoE-block inputs (tests/data/forward/*/moe_inputs.json) at every MoE layer;
// the file's format; probe text reading and line selection; bad input (exit 2, nothing written).
#include <gtest/gtest.h>

#include <cstring>

#include "../forward/moe_block_fixture.h"
#include "../model/model_test_util.h"
#include "forward/forward.h"
#include "io/safetensors.h"
#include "probe/capture.h"
#include "probe/probe_text.h"
#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

#define REQUIRE_TORCH() \
  if (!forward_available()) GTEST_SKIP() << "built without LibTorch"

fs::path forward_fixture(const std::string& name) {
  return fs::path(MOEPROBE_TEST_DATA) / "forward" / name;
}

std::vector<int64_t> read_i64(const SafetensorsFile& f, const std::string& name) {
  const TensorView v = f.view(name);
  EXPECT_EQ(v.dtype, DType::I64) << name;
  std::vector<int64_t> out(static_cast<std::size_t>(v.numel()));
  std::memcpy(out.data(), v.data, out.size() * sizeof(int64_t));
  return out;
}

std::vector<double> read_layer(const SafetensorsFile& f, const std::string& name) {
  const TensorView v = f.view(name);
  std::vector<float> x(static_cast<std::size_t>(v.numel()));
  v.read_float(0, v.numel(), x.data());
  return {x.begin(), x.end()};
}

void write_file(const fs::path& p, const std::string& text) {
  testutil::write_bytes(p, text);
}

class CaptureReference : public ::testing::TestWithParam<std::string> {};

TEST_P(CaptureReference, MoeInputsMatchFloat64Reference) {
  REQUIRE_TORCH();
  const fs::path dir = forward_fixture(GetParam());
  const nlohmann::json ref = testutil::read_json(dir / "moe_inputs.json");
  testutil::ScratchDir tmp("capture");
  std::string ids_text;
  for (const auto& seq : ref.at("sequences")) {
    for (const auto& id : seq) ids_text += std::to_string(id.get<int64_t>()) + " ";
    ids_text += "\n";
  }
  write_file(tmp.path() / "ids.txt", ids_text);
  const auto model = MoeModel::open(dir);
  const ProbeSequences probe = token_ids_probe(dir, tmp.path() / "ids.txt");
  const fs::path out = tmp.path() / "acts.safetensors";
  const CaptureSummary s = capture_activations(*model, GetParam(), probe, out);
  EXPECT_EQ(s.sequences, ref.at("sequences").size());
  const SafetensorsFile f(out);
  // Exactly the MoE layers, nothing else per layer.
  std::size_t layer_tensors = 0;
  for (const TensorEntry& e : f.entries())
    if (e.name.rfind("layers.", 0) == 0) ++layer_tensors;
  EXPECT_EQ(layer_tensors, ref.at("moe_inputs").size());
  for (const auto& [layer, values] : ref.at("moe_inputs").items()) {
    const std::string name = "layers." + layer + ".moe_input";
    ASSERT_NE(f.find(name), nullptr) << name;
    const TensorView v = f.view(name);
    EXPECT_EQ(v.dtype, DType::F32);
    EXPECT_EQ(v.shape, (std::vector<int64_t>{s.tokens, ref.at("hidden_size").get<int64_t>()}));
    const double err =
        testutil::relative_max_error(read_layer(f, name), values.get<std::vector<double>>());
    std::printf("%s layer %s: max-abs error / max |x| = %.3g\n", GetParam().c_str(), layer.c_str(),
                err);
    EXPECT_LT(err, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, CaptureReference,
                         ::testing::Values("mixtral_synth", "qwen3_moe_synth", "olmoe_synth",
                                           "deepseek_synth", "deepseek_v3_tiny", "grok1_synth",
                                           "gpt_oss_synth", "glm4_moe_synth"));

TEST(Capture, FileFormatFromText) {
  REQUIRE_TORCH();
  const fs::path dir = forward_fixture("mixtral_synth");
  testutil::ScratchDir tmp("capture");
  write_file(tmp.path() / "probe.txt", "= Heading =\n\n  As an\nopen source  \n");
  const ProbeSequences probe = text_probe(dir, tmp.path() / "probe.txt", "");
  ASSERT_EQ(probe.ids.size(), 2u);
  const fs::path out = tmp.path() / "sub" / "acts.safetensors";
  const auto model = MoeModel::open(dir);
  capture_activations(*model, "mixtral_synth", probe, out);
  const SafetensorsFile f(out);
  const auto ids = read_i64(f, "token_ids");
  std::vector<int64_t> expected = probe.ids[0];
  expected.insert(expected.end(), probe.ids[1].begin(), probe.ids[1].end());
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(ids[0], 1);  // BOS as the tokenizer adds it
  EXPECT_EQ(read_i64(f, "sequence_starts"),
            (std::vector<int64_t>{0, static_cast<int64_t>(probe.ids[0].size())}));
  const TensorView bos = f.view("bos_mask");
  EXPECT_EQ(bos.dtype, DType::U8);
  std::vector<uint8_t> mask(bos.data, bos.data + bos.numel());
  std::vector<uint8_t> want(ids.size(), 0);
  want[0] = want[probe.ids[0].size()] = 1;
  EXPECT_EQ(mask, want);
  EXPECT_EQ(f.metadata().at("moeprobe_activations"), "1");
  EXPECT_EQ(f.metadata().at("model"), "mixtral_synth");
  EXPECT_EQ(f.metadata().at("probe"), "probe.txt (all 2 lines)");
  EXPECT_NE(f.metadata().at("tokenizer").find("tokenizer.json"), std::string::npos);
  // Only the file itself in its directory: the temporary was renamed into place.
  EXPECT_EQ(std::distance(fs::directory_iterator(out.parent_path()), fs::directory_iterator()), 1);
}

TEST(Capture, BadInputWritesNothing) {
  REQUIRE_TORCH();
  const fs::path dir = forward_fixture("mixtral_synth");
  const auto model = MoeModel::open(dir);
  testutil::ScratchDir tmp("capture");
  const fs::path out = tmp.path() / "acts.safetensors";
  write_file(tmp.path() / "ids.txt", "1 2 3\n1 999 3\n");
  try {
    capture_activations(*model, "m", token_ids_probe(dir, tmp.path() / "ids.txt"), out);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ids.txt: line 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("999"), std::string::npos) << e.what();
  }
  ProbeSequences too_long;
  too_long.ids = {std::vector<int64_t>(4097, 5)};
  too_long.origins = {"long.txt: line 1"};
  try {
    capture_activations(*model, "m", too_long, out);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "max_position_embeddings");
  }
  write_file(tmp.path() / "bad.txt", "1 x 3\n");
  EXPECT_THROW(token_ids_probe(dir, tmp.path() / "bad.txt"), InputError);
  write_file(tmp.path() / "empty.txt", "\n  \n= only a heading =\n");
  EXPECT_THROW(text_probe(dir, tmp.path() / "empty.txt", ""), InputError);
  EXPECT_THROW(token_ids_probe(dir, tmp.path() / "empty_ids.txt"), InputError);  // missing
  write_file(tmp.path() / "blank_ids.txt", "\n\n");
  EXPECT_THROW(token_ids_probe(dir, tmp.path() / "blank_ids.txt"), InputError);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos) << e.path();
}

TEST(ProbeText, PaperLongInputFromTheCorpusCsv) {
  const fs::path corpus = fs::path(MOEPROBE_SOURCE_DIR) / kPaperLongInputFile;
  const std::vector<ProbeLine> lines = read_probe_lines(corpus);
  ASSERT_GE(lines.size(), 10u);
  // The CSV's quotes are syntax: the first usable line is the first article's first paragraph.
  EXPECT_EQ(lines[0].text.rfind("B of the Bang was a sculpture by Thomas Heatherwick", 0), 0u);
  EXPECT_NE(lines[0].text.find("\" bang \""), std::string::npos);  // "" unescaped
  EXPECT_EQ(lines[0].origin, corpus.string() + ": line 4");
  for (const ProbeLine& l : lines) {
    EXPECT_FALSE(l.text.empty());
    EXPECT_NE(l.text[0], '=');
    EXPECT_NE(l.text.back(), ' ');
  }
  const auto sel = select_lines(kPaperLongInputLines, lines.size(), "--lines");
  EXPECT_EQ(sel, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(ProbeText, LineSelection) {
  EXPECT_EQ(select_lines("2, 4-5,7-", 8, "x"), (std::vector<std::size_t>{1, 3, 4, 6, 7}));
  EXPECT_EQ(select_lines("", 3, "x"), (std::vector<std::size_t>{0, 1, 2}));
  for (const char* bad : {"0", "a", "3-1", "9", "1-9", "-2", "1,,2"})
    EXPECT_THROW(select_lines(bad, 8, "--lines"), InputError) << bad;
}

}  // namespace
}  // namespace moeprobe
