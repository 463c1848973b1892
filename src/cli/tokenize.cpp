// moeprobe tokenize PATH (--text STR | --file F | --jsonl F) [--no-special] [--json]: the token ids
// moeprobe gives a text, so anyone can check them against their own stack. PATH is a model
// directory, a tokenizer.json or a tokenizer.model. --jsonl reads one JSON string per line and
// prints one {"ids": [...]} per line, loading the tokenizer once. Output is written only after
// every input was tokenised, so bad input leaves nothing partial.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace moeprobe::cli {
namespace {

struct TokenizeOptions {
  std::string path, text, file, jsonl;
  bool no_special = false, json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string format_ids(const std::vector<tokenizer::TokenId>& ids, bool json) {
  if (json) return nlohmann::json{{"ids", ids}}.dump();
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out;
}

}  // namespace

CommandRun setup_tokenize(CLI::App* sub) {
  auto opts = std::make_shared<TokenizeOptions>();
  sub->add_option("PATH", opts->path, "Model directory, tokenizer.json or tokenizer.model")
      ->required();
  auto* text = sub->add_option("--text", opts->text, "The text itself");
  auto* file = sub->add_option("--file", opts->file, "A file whose whole content is the text");
  auto* jsonl = sub->add_option("--jsonl", opts->jsonl,
                                "A file with one JSON string per line; one {\"ids\": [...]} each");
  text->excludes(file)->excludes(jsonl);
  file->excludes(jsonl);
  sub->add_flag("--no-special", opts->no_special, "Do not add BOS/EOS (post-processor)");
  sub->add_flag("--json", opts->json, "Print {\"ids\": [...]}");
  return [opts, text, file, jsonl]() {
    if (!*text && !*file && !*jsonl)
      throw InputError("", "tokenize", "one of --text, --file or --jsonl is required");
    const auto tok = tokenizer::load_tokenizer(opts->path);
    const bool special = !opts->no_special;
    std::string out;
    if (*jsonl) {
      std::istringstream lines(read_file(opts->jsonl));
      std::string line;
      for (size_t n = 1; std::getline(lines, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const std::string field = "line " + std::to_string(n);
        nlohmann::json value;
        try {
          value = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception&) {
          throw InputError(opts->jsonl, field, "expected a JSON string, got invalid JSON");
        }
        if (!value.is_string()) throw InputError(opts->jsonl, field, "expected a JSON string");
        out +=
            format_ids(tok->encode(value.get<std::string>(), special, opts->jsonl + ": " + field),
                       true) +
            "\n";
      }
    } else {
      const std::string input = *file ? read_file(opts->file) : opts->text;
      out =
          format_ids(tok->encode(input, special, *file ? opts->file : "--text"), opts->json) + "\n";
    }
    std::cout << out;
    return 0;
  };
}

}  // namespace moeprobe::cli
