// Hostile inputs through the moeprobe binary (issue classes of docs/RELIABILITY.md): each ends in
// exit 2 naming the file and the field, within a time limit, with nothing written outside --out
// and no earlier output lost. Every input is generated here, in a temp dir.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "../model/model_test_util.h"
#include "reports/json_report.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;
using testutil::copy_fixture;
using testutil::edit_json;
using testutil::read_bytes;
using testutil::shell_quote;
using testutil::write_bytes;

const std::string kSource = MOEPROBE_SOURCE_DIR;

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

// Every command runs under a time limit: a hang is exit 124, not a stuck test.
testutil::CliResult timed(const std::string& args) {
  testutil::ScratchDir io("hostile-io");
  const fs::path out = io.path() / "stdout", err = io.path() / "stderr";
  const std::string cmd = "timeout -k 5 20 " + shell_quote(MOEPROBE_CLI) + " " + args +
                          " </dev/null >" + q(out) + " 2>" + q(err);
  const int status = std::system(cmd.c_str());
  testutil::CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  return r;
}

void expect_bad(const testutil::CliResult& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  for (const auto& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
}

std::string nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// A safetensors file with the given header text and no tensor data.
void write_safetensors(const fs::path& p, const std::string& header) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  write_bytes(p, bytes + header);
}

class HostileInput : public ::testing::Test {
 protected:
  testutil::ScratchDir scratch{"hostile"};
  fs::path classic() { return copy_fixture("mixtral_classic", scratch.path()); }
  fs::path deepseek() { return copy_fixture("deepseek_v2_tiny", scratch.path()); }
  fs::path results_json(const std::string& name = "results.json") {
    const fs::path p = scratch.path() / name;
    write_text(p, render_results_json(testing::sample_run()));
    return p;
  }
  std::string smoke() { return q(kSource + "/suites/smoke.yaml"); }
  fs::path recipe(const std::string& text, const std::string& name = "recipe.yaml") {
    const fs::path p = scratch.path() / name;
    write_text(p, text);
    return p;
  }
};

const char* kSmallRecipe = R"(family: mixtral
model: {num_layers: 2, hidden_size: 32, intermediate_size: 64, num_experts: 4, top_k: 2, num_attention_heads: 4}
plant:
  upcycling: {strength: 0.4, write_reference: true}
)";

// ---- 1. Deep nesting --------------------------------------------------------------------------

TEST_F(HostileInput, DeepNestingIsRefusedWhileParsing) {
  const fs::path m = classic();
  edit_json(m / "config.json", [](nlohmann::json& j) { j["x"] = nullptr; });
  std::string cfg = read_bytes(m / "config.json");
  cfg.replace(cfg.find("null"), 4, nested(200000));
  write_text(m / "config.json", cfg);
  expect_bad(timed("inspect " + q(m)), {"config.json", "nesting deeper than"});

  const fs::path h = scratch.path() / "header";
  fs::create_directories(h);
  fs::copy_file(m / "config.json", h / "config.json");
  edit_json(h / "config.json", [](nlohmann::json& j) { j.erase("x"); });
  write_safetensors(h / "model.safetensors", "{\"__metadata__\": {\"a\": " + nested(200000) + "}}");
  expect_bad(timed("inspect " + q(h)), {"model.safetensors", "header", "nesting deeper than"});
  write_safetensors(h / "model.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": " +
                                                 nested(100000) + ", \"data_offsets\": [0, 0]}}");
  expect_bad(timed("inspect " + q(h)), {"model.safetensors", "nesting deeper than"});

  const fs::path res = results_json();
  std::string text = read_bytes(res);
  const std::size_t at = text.find("\"per_layer\"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "\"deep\": " + nested(300000) + ", ");
  write_text(res, text);
  expect_bad(timed("report " + q(res) + " --out " + q(scratch.path() / "rep")),
             {"results.json", "nesting deeper than"});
  expect_bad(timed("compare " + q(res) + " " + q(res)), {"results.json", "nesting deeper than"});
  EXPECT_FALSE(fs::exists(scratch.path() / "rep" / "report.html"));
}

// ---- 2. Config integers out of range ------------------------------------------------------------

TEST_F(HostileInput, ConfigSizesAreCheckedBeforeUse) {
  const fs::path d = deepseek();
  const std::string fixture = read_bytes(testutil::hf_fixture("deepseek_v2_tiny") / "config.json");
  const auto with = [&](const std::string& key, const nlohmann::json& value) {
    write_text(d / "config.json", fixture);
    edit_json(d / "config.json", [&](nlohmann::json& j) { j[key] = value; });
    return timed("inspect " + q(d) + " --json");
  };
  expect_bad(with("n_group", uint64_t(4294967296)),
             {"config.json", "n_group", "expected an integer in"});
  expect_bad(with("topk_group", int64_t(2147483648)), {"config.json", "topk_group"});
  expect_bad(with("n_routed_experts", uint64_t(4294967300)), {"config.json", "n_routed_experts"});
  expect_bad(with("hidden_size", uint64_t(9223372036854775813ull)), {"config.json", "hidden_size"});
  expect_bad(with("num_hidden_layers", 2000000000), {"config.json", "num_hidden_layers"});
  expect_bad(with("num_hidden_layers", 1e300), {"config.json", "num_hidden_layers"});
  // The Mixtral names too (num_local_experts read as 4 before).
  const fs::path m = classic();
  edit_json(m / "config.json",
            [](nlohmann::json& j) { j["num_local_experts"] = uint64_t(4294967300); });
  expect_bad(timed("inspect " + q(m)), {"config.json", "num_local_experts"});
}

// ---- 3. Unrepresentable numbers, invalid UTF-8 --------------------------------------------------

TEST_F(HostileInput, NumbersNoTypeHoldsAndInvalidUtf8AreBadInput) {
  const fs::path m = classic();
  const std::string good = read_bytes(m / "config.json");
  for (const std::string& raw : {"1e999", "-1e999"}) {
    std::string cfg = good;
    cfg.insert(1, "\"rope_theta_extra\": " + raw + ",");
    write_text(m / "config.json", cfg);
    expect_bad(timed("inspect " + q(m)), {"config.json"});
  }
  // An integer beyond 64 bits is a JSON number (real tokenizer_config.json files have them): an
  // unread key holding one is fine, a size holding one is bad input naming the key.
  {
    std::string cfg = good;
    cfg.insert(1, "\"model_max_length\": 1000000000000000019884624838656,");
    write_text(m / "config.json", cfg);
    EXPECT_EQ(timed("inspect " + q(m)).code, 0);
    nlohmann::json j = nlohmann::json::parse(good);
    j["num_local_experts"] = 1e30;
    write_text(m / "config.json", j.dump());
    expect_bad(timed("inspect " + q(m)), {"config.json", "num_local_experts"});
  }
  write_text(m / "config.json", good);

  const fs::path res = results_json();
  std::string text = read_bytes(res);
  text.insert(1, "\"big\": 1e999, ");
  write_text(res, text);
  expect_bad(timed("compare " + q(res) + " " + q(res)), {"results.json", "number overflow"});
  // Found by fuzz_results_json: a layer number beyond 64 bits is a float, and converting it to an
  // int was undefined behaviour (UBSan); an integer beyond int was cut to its low bits.
  for (const char* layer : {"184467440737095516160", "4294967297"}) {
    nlohmann::json j = nlohmann::json::parse(render_results_json(testing::sample_run()));
    write_text(res, j.dump());
    text = read_bytes(res);
    const std::string key = "\"moe_layers\":[";
    text.insert(text.find(key) + key.size(), std::string(layer) + ",");
    write_text(res, text);
    expect_bad(timed("compare " + q(res) + " " + q(res)), {"results.json", "model.moe_layers[0]"});
  }

  std::string suite = read_bytes(kSource + "/suites/smoke.yaml");
  suite.replace(suite.find("name: smoke"), 11, "name: sm\xC3\x28ke");
  const fs::path s = recipe(suite, "bad_utf8.yaml");
  expect_bad(timed("run " + q(s) + " --model " + q(m) + " --out " + q(scratch.path() / "o")),
             {"bad_utf8.yaml", "line ", "not valid UTF-8"});
  const fs::path r = recipe(std::string(kSmallRecipe) + "name: \"x\xFF\"\n", "utf8_recipe.yaml");
  expect_bad(timed("synth " + q(r) + " --out " + q(scratch.path() / "model")),
             {"utf8_recipe.yaml", "not valid UTF-8"});
  EXPECT_FALSE(fs::exists(scratch.path() / "model"));
  const fs::path big = recipe(std::string(kSmallRecipe) + "seed: 99999999999999999999999\n");
  expect_bad(timed("synth " + q(big) + " --out " + q(scratch.path() / "model")),
             {"recipe.yaml", "seed", "64 bits"});
}

// ---- 4. Non-regular files and the text size limit -----------------------------------------------

TEST_F(HostileInput, NonRegularFilesAndHugeTextInputs) {
  const fs::path m = classic();
  // A FIFO in place of config.json, the suite, a recipe, results.json: no open() may block.
  const fs::path fifo_model = scratch.path() / "fifo_model";
  fs::create_directories(fifo_model);
  fs::copy_file(m / "model.safetensors", fifo_model / "model.safetensors");
  ASSERT_EQ(::mkfifo((fifo_model / "config.json").c_str(), 0600), 0);
  expect_bad(timed("inspect " + q(fifo_model)), {"config.json", "FIFO"});
  const fs::path fifo = scratch.path() / "fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_bad(timed("run " + q(fifo) + " --model " + q(m)), {"fifo.yaml", "FIFO"});
  expect_bad(timed("synth " + q(fifo) + " --out " + q(scratch.path() / "x")), {"fifo.yaml"});
  expect_bad(timed("compare " + q(fifo) + " " + q(fifo)), {"fifo.yaml", "FIFO"});
  const fs::path fifo_st = scratch.path() / "fifo_st";
  fs::create_directories(fifo_st);
  fs::copy_file(m / "config.json", fifo_st / "config.json");
  ASSERT_EQ(::mkfifo((fifo_st / "model.safetensors").c_str(), 0600), 0);
  expect_bad(timed("inspect " + q(fifo_st)), {"model.safetensors", "FIFO"});

  // Devices: /dev/zero would be read forever.
  expect_bad(timed("run /dev/zero --model " + q(m)), {"/dev/zero", "character device"});
  expect_bad(timed("synth /dev/urandom --out " + q(scratch.path() / "x")), {"/dev/urandom"});

  // Directories in place of files.
  const fs::path dir_cfg = scratch.path() / "dir_cfg";
  fs::create_directories(dir_cfg / "config.json");
  fs::copy_file(m / "model.safetensors", dir_cfg / "model.safetensors");
  expect_bad(timed("inspect " + q(dir_cfg)), {"config.json", "a directory"});
  const fs::path dir_index = scratch.path() / "dir_index";
  fs::create_directories(dir_index / "model.safetensors.index.json");
  fs::copy_file(m / "config.json", dir_index / "config.json");
  expect_bad(timed("inspect " + q(dir_index)), {"model.safetensors.index.json", "a directory"});
  expect_bad(timed("report " + q(scratch.path()) + " --out " + q(scratch.path() / "r")),
             {"a directory"});
  expect_bad(timed("synth " + q(scratch.path()) + " --out " + q(scratch.path() / "x")),
             {"a directory"});

  // A sparse file above the 64 MiB text limit is refused by its size, before it is read.
  const fs::path huge = scratch.path() / "huge.yaml";
  write_text(huge, "schema: moeprobe/suite/v1\n");
  fs::resize_file(huge, (64ull << 20) + 1);
  expect_bad(timed("run " + q(huge) + " --model " + q(m)),
             {"huge.yaml", "above the limit of 64 MiB"});
}

// ---- 5. YAML alias bombs ----------------------------------------------------------------------

TEST_F(HostileInput, YamlAliasBombIsRefused) {
  // Nine levels of ten aliases each: 10^9 nodes when expanded, from a few hundred bytes.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  std::string suite = read_bytes(kSource + "/suites/smoke.yaml");
  const fs::path s = recipe(
      suite + "probe:\n  " +
          [&] {
            std::string indented;
            for (char c : bomb) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
            return indented;
          }() +
          "\n",
      "bomb.yaml");
  expect_bad(timed("run " + q(s) + " --model " + q(classic())),
             {"bomb.yaml", "line ", "expands to more than"});
  // The same bomb inside a hypothesis's params.
  const fs::path r = recipe(std::string(kSmallRecipe) + bomb, "bomb_recipe.yaml");
  expect_bad(timed("synth " + q(r) + " --out " + q(scratch.path() / "model")),
             {"bomb_recipe.yaml", "expands to more than"});
  // Found by fuzz_recipe: yaml-cpp 0.7 turns these 24 bytes into an endless stream of nodes.
  const fs::path endless = recipe("&e_size,,\nmmte_size,,\nm\n", "endless.yaml");
  expect_bad(timed("synth " + q(endless) + " --out " + q(scratch.path() / "model")),
             {"endless.yaml", "more than 100000 nodes"});
  // A cyclic alias.
  const fs::path c = recipe(suite + "probe: &p [*p]\n", "cycle.yaml");
  expect_bad(timed("run " + q(c) + " --model " + q(classic())), {"cycle.yaml"});
}

// ---- 6. Layer selectors that overflow -----------------------------------------------------------

TEST_F(HostileInput, SliceStepsNearTheLimitSelectOnlyTheStart) {
  const fs::path m = classic();  // two MoE layers: 0, 1
  const fs::path out = scratch.path() / "sel";
  const auto r = timed("run " + smoke() + " --model " + q(m) + " --device cpu --out " + q(out) +
                       " --layers 1:2:9223372036854775807");
  ASSERT_LE(r.code, 1) << r.err;
  const auto res = testutil::read_json(out / "results.json");
  for (const auto& h : res["hypotheses"])
    for (const auto& l : h["per_layer"]) EXPECT_EQ(l["layer"], 1) << h["id"];
  const auto neg = timed("run " + smoke() + " --model " + q(m) + " --device cpu --out " + q(out) +
                         " --layers ::-9223372036854775807");
  ASSERT_LE(neg.code, 1) << neg.err;
  // Held in a local: a range-for over a member of a temporary reads freed memory (ASan).
  const auto neg_res = testutil::read_json(out / "results.json");
  for (const auto& h : neg_res["hypotheses"])
    for (const auto& l : h["per_layer"]) EXPECT_EQ(l["layer"], 1) << h["id"];
  expect_bad(timed("run " + smoke() + " --model " + q(m) + " --layers 0:99999999999999999999"),
             {"--layers"});
}

// ---- 7. synth output size -----------------------------------------------------------------------

TEST_F(HostileInput, SynthEstimatesItsOutputAndRefusesAboveTheCap) {
  const fs::path r = recipe(kSmallRecipe);
  const fs::path out = scratch.path() / "model";
  expect_bad(timed("synth " + q(r) + " --out " + q(out) + " --layers 2147483647"),
             {"--layers", "4096"});
  // Every field inside its documented range, about 10^17 bytes in all.
  const fs::path huge = recipe(
      "family: mixtral\nmodel: {num_layers: 4096, hidden_size: 65536, intermediate_size: 262144, "
      "num_experts: 4096, top_k: 2, num_attention_heads: 1024}\n",
      "huge.yaml");
  const auto big = timed("synth " + q(huge) + " --out " + q(out));
  expect_bad(big, {"huge.yaml", "estimate", "GB", "--max-output-gb"});
  EXPECT_FALSE(fs::exists(out));
  // The flag lowers (or raises) the cap.
  expect_bad(timed("synth " + q(r) + " --out " + q(out) + " --max-output-gb 0.00001"),
             {"estimate", "above the limit"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(timed("synth " + q(r) + " --out " + q(out) + " --quiet --max-output-gb 1").code, 0);
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
}

// ---- 8. Outputs stay inside --out, failures keep earlier outputs ------------------------------

TEST_F(HostileInput, RecipePathsStayInsideOut) {
  const fs::path out = scratch.path() / "inner" / "model";
  const std::string abs = (scratch.path() / "abs").string();
  for (const std::string dir :
       {std::string("../escaped"), abs, std::string("a/../../escaped"), std::string(".")}) {
    const fs::path r =
        recipe(std::string(kSmallRecipe)
                   .replace(std::string(kSmallRecipe).find("write_reference: true"), 21,
                            "write_reference: true, reference_dir: \"" + dir + "\""));
    expect_bad(timed("synth " + q(r) + " --out " + q(out)),
               {"recipe.yaml", "plant.upcycling.reference_dir", "inside --out"});
  }
  EXPECT_FALSE(fs::exists(scratch.path() / "inner" / "escaped"));
  EXPECT_FALSE(fs::exists(scratch.path() / "escaped"));
  EXPECT_FALSE(fs::exists(abs));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(HostileInput, FailedSynthLeavesTheTargetAsItWas) {
  const fs::path r = recipe(kSmallRecipe);
  const fs::path out = scratch.path() / "model";
  ASSERT_EQ(timed("synth " + q(r) + " --out " + q(out) + " --quiet").code, 0);
  const std::string before = read_bytes(out / "model.safetensors");
  // A recipe that fails in the generator (after parsing): unknown family.
  const fs::path bad = recipe(std::string(kSmallRecipe).replace(8, 7, "nosuchfamily"), "bad.yaml");
  expect_bad(timed("synth " + q(bad) + " --out " + q(out)), {"bad.yaml", "family"});
  EXPECT_EQ(read_bytes(out / "model.safetensors"), before);
  for (const auto& e : fs::directory_iterator(scratch.path()))
    EXPECT_EQ(e.path().filename().string().find(".model.synth-"), std::string::npos) << e.path();
  // --out naming an existing file, or a directory synth did not write.
  write_text(scratch.path() / "afile", "keep");
  expect_bad(timed("synth " + q(r) + " --out " + q(scratch.path() / "afile")),
             {"afile", "--out", "not a directory"});
  EXPECT_EQ(read_bytes(scratch.path() / "afile"), "keep");
  fs::create_directories(scratch.path() / "docs");
  write_text(scratch.path() / "docs" / "notes.txt", "keep");
  expect_bad(timed("synth " + q(r) + " --out " + q(scratch.path() / "docs")),
             {"docs", "--out", "synth.json"});
  EXPECT_EQ(read_bytes(scratch.path() / "docs" / "notes.txt"), "keep");
  // Re-synthesizing over an earlier model replaces it.
  EXPECT_EQ(timed("synth " + q(r) + " --out " + q(out) + " --quiet --seed 5").code, 0);
  EXPECT_NE(read_bytes(out / "model.safetensors"), before);
}

TEST_F(HostileInput, FailedRunKeepsEarlierReportsAndOutputsNeverReplaceInputs) {
  const fs::path m = classic();
  const fs::path out = scratch.path() / "reports";
  ASSERT_LE(timed("run " + smoke() + " --model " + q(m) + " --device cpu --out " + q(out)).code, 1);
  const std::string good = read_bytes(out / "results.json");
  ASSERT_FALSE(good.empty());
  // A model that fails at open, then one that cannot be written (summary.md is a directory).
  expect_bad(
      timed("run " + smoke() + " --model " + q(scratch.path() / "nowhere") + " --out " + q(out)),
      {"nowhere"});
  EXPECT_EQ(read_bytes(out / "results.json"), good);
  fs::remove(out / "summary.md");
  fs::create_directories(out / "summary.md");
  expect_bad(
      timed("run " + smoke() + " --model " + q(m) + " --device cpu --seed 9 --out " + q(out)),
      {"summary.md", "not a regular file"});
  EXPECT_EQ(read_bytes(out / "results.json"), good);
  EXPECT_TRUE(fs::exists(out / "junit.xml"));

  // compare --out / report --out naming an input.
  const fs::path a = results_json("a.json"), b = results_json("b.json");
  const std::string a_before = read_bytes(a);
  expect_bad(timed("compare " + q(a) + " " + q(b) + " --out " + q(a)), {"a.json", "is the input"});
  EXPECT_EQ(read_bytes(a), a_before);
  const fs::path res = out / "results.json";
  expect_bad(timed("report " + q(res) + " --out " + q(out) + " --format json"), {"is the input"});
  EXPECT_EQ(read_bytes(res), good);
}

// ---- 9. Messages name file and key ------------------------------------------------------------

TEST_F(HostileInput, MessagesSurviveNulBytesAndComplexKeys) {
  const fs::path m = classic();
  const fs::path sharded = scratch.path() / "sharded";
  fs::create_directories(sharded);
  fs::copy_file(m / "config.json", sharded / "config.json");
  fs::copy_file(m / "model.safetensors", sharded / "model-1.safetensors");
  const std::string index =
      "{\"weight_map\": {\"model.embed_tokens.weight\": \"model-1.safetensors\\u0000/../x after "
      "the NUL\"}}";
  write_text(sharded / "model.safetensors.index.json", index);
  expect_bad(timed("inspect " + q(sharded)),
             {"model.safetensors.index.json", "weight_map.model.embed_tokens.weight", "\\x00",
              "after the NUL"});

  const fs::path r =
      recipe(std::string(kSmallRecipe)
                 .replace(std::string(kSmallRecipe).find("write_reference: true"), 21,
                          "write_reference: true, reference_dir: \"ref\\0tail\""));
  expect_bad(timed("synth " + q(r) + " --out " + q(scratch.path() / "model")),
             {"recipe.yaml", "plant.upcycling.reference_dir", "ref\\x00tail"});

  std::string suite = read_bytes(kSource + "/suites/smoke.yaml");
  suite.replace(suite.find("aggregate: max"), 14, "aggregate: {? [a, b] : 1}");
  const fs::path s = recipe(suite, "complex_key.yaml");
  expect_bad(timed("run " + q(s) + " --model " + q(m)),
             {"complex_key.yaml", "hypotheses[0].aggregate", "line ", "plain key"});
}

// Found by fuzz_results_json (docs/RELIABILITY.md, pass 4): a version-1 results.json (details
// inline) with {"$table": ...} in a detail was accepted, and what `report --format json` wrote of
// it (version 3) referred to a table it did not hold.
TEST_F(HostileInput, TableReferencesInAVersionOneResultsAreRefused) {
  RunResult r = testing::sample_run();
  r.hypotheses[0].per_layer[0].detail = {{"big", {{"$table", "big@0"}}}};
  nlohmann::json j = nlohmann::json::parse(render_results_json(r));
  j["schema_version"] = 1;
  j.erase("tables");
  j.erase("tables_file");
  j["hypotheses"][0]["per_layer"][0]["detail"] = {{"note", "inline"},
                                                  {"nested", {{"big", {{"$table", "big@0"}}}}}};
  const fs::path res = scratch.path() / "v1.json";
  write_text(res, j.dump(1));
  expect_bad(timed("report " + q(res) + " --out " + q(scratch.path() / "out") + " --format json"),
             {"v1.json", "hypotheses[0].per_layer[0].detail.nested.big", "\"$table\"",
              "schema_version 1"});
  EXPECT_FALSE(fs::exists(scratch.path() / "out"));
  // Without the reference the same file is read and written again.
  j["hypotheses"][0]["per_layer"][0]["detail"]["nested"]["big"] = {{"table", "big@0"}};
  write_text(res, j.dump(1));
  const auto ok =
      timed("report " + q(res) + " --out " + q(scratch.path() / "out") + " --format json");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(timed("report " + q(scratch.path() / "out" / "results.json") + " --out " +
                  q(scratch.path() / "out2") + " --format json")
                .code,
            0);
}

// ---- Long scalars (fuzz_recipe, pass 5) ------------------------------------------------------
// A YAML scalar of 19 kB of digits overflowed the stack: std::regex recursed once per character.
// Scalars and thresholds are now scanned in constant stack, and the names the perf gate matches
// against its patterns are bounded.

TEST_F(HostileInput, LongScalarsAreScannedInConstantStack) {
  const std::string digits(300000, '4');
  std::string text = kSmallRecipe;
  text.replace(text.find("family: mixtral"), 15, "family: " + digits);
  expect_bad(timed("synth " + q(recipe(text)) + " --out " + q(scratch.path() / "model")),
             {"recipe.yaml", "family", "64 bits"});
  expect_bad(timed("synth " + q(recipe(std::string(kSmallRecipe) + "seed: 0." + digits + "\n")) +
                   " --out " + q(scratch.path() / "model")),
             {"recipe.yaml", "seed"});
  EXPECT_FALSE(fs::exists(scratch.path() / "model"));

  // A long but valid threshold is read as the number it is; a long invalid id is refused.
  const fs::path m = classic();
  const std::string smoke_text = read_bytes(kSource + "/suites/smoke.yaml");
  std::string suite = smoke_text;
  suite.replace(suite.find("\"< 0.99\""), 8, "\"< 0.99" + std::string(300000, '9') + "\"");
  const auto ran = timed("run " + q(recipe(suite, "long.yaml")) + " --model " + q(m) + " --out " +
                         q(scratch.path() / "o") + " --quiet");
  EXPECT_TRUE(ran.code == 0 || ran.code == 1) << ran.code << ": " << ran.err;
  suite = smoke_text;
  suite.replace(suite.find("id: experts-not-identical"), 25,
                "id: " + std::string(300000, '7') + "_");
  expect_bad(timed("run " + q(recipe(suite, "long_id.yaml")) + " --model " + q(m) + " --out " +
                   q(scratch.path() / "o2")),
             {"long_id.yaml", "hypotheses[0].id", "lowercase"});

  nlohmann::json bench =
      nlohmann::json::parse(read_bytes(kSource + "/tests/data/perf/baseline.json"));
  bench["benchmarks"][0]["name"] = std::string(5000, 'a');
  bench["benchmarks"][0].erase("run_name");
  const fs::path current = scratch.path() / "current.json";
  write_text(current, bench.dump());
  expect_bad(timed("perf-gate " + q(kSource + "/tests/data/perf/baseline.json") + " " + q(current) +
                   " --out " + q(scratch.path() / "gate.md")),
             {"current.json", "benchmarks[0].name", "at most 1024"});
  EXPECT_FALSE(fs::exists(scratch.path() / "gate.md"));
}

// Found by fuzz_benchmark_json (pass 5): an optional field of the wrong type (aggregate_unit: 5)
// was an internal error from the JSON library instead of bad input naming the field.
TEST_F(HostileInput, BenchmarkFieldsOfTheWrongTypeAreBadInput) {
  const std::string baseline = kSource + "/tests/data/perf/baseline.json";
  const nlohmann::json good = nlohmann::json::parse(read_bytes(baseline));
  const fs::path current = scratch.path() / "current.json";
  for (const auto& [field, value] : {std::pair<std::string, nlohmann::json>{"aggregate_unit", 5},
                                     {"run_type", 1},
                                     {"run_name", nlohmann::json::array()},
                                     {"error_occurred", "yes"}}) {
    nlohmann::json bench = good;
    bench["benchmarks"][1][field] = value;
    if (field == "aggregate_unit") bench["benchmarks"][1]["run_type"] = "aggregate";
    write_text(current, bench.dump());
    expect_bad(timed("perf-gate " + q(baseline) + " " + q(current) + " --out " +
                     q(scratch.path() / "gate.md")),
               {"current.json", "benchmarks[1]." + field});
  }
  nlohmann::json bench = good;
  bench["benchmarks"][1]["error_occurred"] = true;
  bench["benchmarks"][1]["error_message"] = 3;
  write_text(current, bench.dump());
  expect_bad(timed("perf-gate " + q(baseline) + " " + q(current) + " --out " +
                   q(scratch.path() / "gate.md")),
             {"current.json", "benchmarks[1].error_message"});
  EXPECT_FALSE(fs::exists(scratch.path() / "gate.md"));
}

}  // namespace
}  // namespace moeprobe
