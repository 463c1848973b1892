// load_tokenizer: picks tokenizer.json or tokenizer.model and reads tokenizer_config.json.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe::tokenizer {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) {
  const std::string text = read_text_file(path, "tokenizer file");
  try {
    return parse_json(text, path.string());
  } catch (const InputError& e) {
    throw InputError(path.string(), "", "not valid JSON: " + e.problem());
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_in) {
  fs::path path(path_in);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json"))
      path /= "tokenizer.json";
    else if (fs::exists(path / "tokenizer.model"))
      path /= "tokenizer.model";
    else
      throw InputError(path_in, "", "directory has neither tokenizer.json nor tokenizer.model");
  } else if (!fs::exists(path, ec)) {
    throw InputError(path_in, "", "no such file or directory");
  }
  const fs::path config_path = path.parent_path() / "tokenizer_config.json";
  const nlohmann::json config =
      fs::exists(config_path, ec) ? read_json(config_path) : nlohmann::json();
  if (!config.is_null() && !config.is_object())
    throw InputError(config_path.string(), "", "expected a JSON object");
  if (path.extension() == ".model") {
    ::close(
        open_regular_file(path, "tokenizer model"));  // no FIFO or directory reaches SentencePiece
    return std::make_unique<SentencePieceTokenizer>(path.string(), config);
  }
  if (path.extension() != ".json")
    throw InputError(path_in, "",
                     "expected a model directory, a tokenizer.json or a tokenizer.model");
  return std::make_unique<HfTokenizer>(read_json(path), path.string(), config,
                                       config_path.string());
}

}  // namespace moeprobe::tokenizer
