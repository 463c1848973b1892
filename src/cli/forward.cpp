// moeprobe forward MODEL_DIR --tokens 1,2,3 [--json]: the logits of every position from the
// layer-streamed LibTorch forward pass, so moeprobe can be checked against any other stack.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "forward/forward.h"
#include "model/moe_model.h"
#include "util/error.h"
#include "util/parse_integer.h"

namespace moeprobe::cli {
namespace {

struct ForwardCliOptions {
  std::string model_dir;
  std::string tokens;
  bool json = false;
  std::string family;
  std::string families_dir;
};

std::vector<int64_t> parse_token_list(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const std::optional<long long> v = parse_integer(item);
    if (!v)
      throw InputError("", "--tokens", "expected comma-separated integers, got \"" + item + "\"");
    ids.push_back(*v);
  }
  if (ids.empty()) throw InputError("", "--tokens", "expected at least one token id");
  return ids;
}

std::string format_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

}  // namespace

CommandRun setup_forward(CLI::App* sub) {
  auto opts = std::make_shared<ForwardCliOptions>();
  sub->add_option("MODEL_DIR", opts->model_dir, "Hugging Face model directory")->required();
  sub->add_option("--tokens", opts->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  sub->add_flag("--json", opts->json, "Print {\"shape\": [seq, vocab], \"logits\": [...]} (flat)");
  sub->add_option("--family", opts->family, "Family name (skips detection from config.json)");
  sub->add_option("--families", opts->families_dir,
                  "Directory of family YAML files (default: bundled configs/families)");
  return [opts]() {
    const std::vector<int64_t> ids = parse_token_list(opts->tokens);
    require_forward();  // exit 2 before opening anything when built without LibTorch
    const auto model = MoeModel::open(opts->model_dir, opts->family, opts->families_dir);
    const std::vector<SequenceLogits> out = run_forward(*model, {ids});
    const SequenceLogits& l = out.at(0);
    std::string text;
    text.reserve(static_cast<std::size_t>(l.values.size()) * 14 + 64);
    if (opts->json) {
      text += "{\"shape\": [" + std::to_string(l.tokens) + ", " + std::to_string(l.vocab) +
              "], \"logits\": [";
      for (std::size_t i = 0; i < l.values.size(); ++i) {
        if (i) text += ", ";
        text += format_float(l.values[i]);
      }
      text += "]}\n";
    } else {
      for (int64_t t = 0; t < l.tokens; ++t) {
        text += "position " + std::to_string(t) + " (token " + std::to_string(ids[t]) + "):";
        for (int64_t v = 0; v < l.vocab; ++v)
          text += " " + format_float(l.values[static_cast<std::size_t>(t * l.vocab + v)]);
        text += "\n";
      }
    }
    std::cout << text;
    return 0;
  };
}

}  // namespace moeprobe::cli
