#include "tokenizer/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <mutex>

#include "tokenizer/sentencepiece_module_abi.h"
#include "tokenizer/utf8.h"
#include "util/error.h"
#include "util/module_path.h"

namespace moeprobe::tokenizer {
namespace {

constexpr const char* kModuleFile = "libmoeprobe_sentencepiece.so";

// dlmopen(LM_ID_NEWLM) rather than dlopen(RTLD_LOCAL | RTLD_DEEPBIND): deep binding would keep
// libsentencepiece's protobuf references inside it, but it would also bind its std::cerr and
// __libc_single_threaded to the libraries' own copies while the executable holds copy-relocated
// ones (std::cerr unconstructed → crash when SentencePiece logs), and sanitizers refuse it. A
// namespace of its own has none of these couplings. Loaded once per process, never unloaded.
const MoeprobeSentencePieceApi& module_api() {
  static const MoeprobeSentencePieceApi* api = nullptr;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path;
    try {
      path = module_path(kModuleFile).string();
    } catch (const InputError& e) {
      failure = e.what();
      return;
    }
    void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      failure = path + ": cannot load the SentencePiece module: " + dlerror();
      return;
    }
    using Entry = const MoeprobeSentencePieceApi* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, MOEPROBE_SENTENCEPIECE_API_SYMBOL));
    const MoeprobeSentencePieceApi* found = entry ? entry() : nullptr;
    if (!found || found->abi_version != MOEPROBE_SENTENCEPIECE_ABI_VERSION) {
      failure = path + ": not a SentencePiece module of this moeprobe (ABI version " +
                std::to_string(MOEPROBE_SENTENCEPIECE_ABI_VERSION) + " expected)";
      return;
    }
    api = found;
  });
  if (!api) throw InputError("tokenizer.model", "", failure);
  return *api;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& file,
                                               const nlohmann::json& config)
    : api_(&module_api()) {
  char error[1024] = {0};
  processor_ = api_->load(file.c_str(), error, sizeof error);
  if (!processor_)
    throw InputError(file, "", std::string("not a readable SentencePiece model: ") + error);
  bos_id_ = api_->bos_id(processor_);
  eos_id_ = api_->eos_id(processor_);
  if (config.is_object()) {
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
      add_bos_ = config["add_bos_token"].get<bool>();
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean())
      add_eos_ = config["add_eos_token"].get<bool>();
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() {
  if (processor_) api_->release(processor_);
}

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text, bool add_special,
                                                    const std::string& where) const {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw InputError(where, "byte " + std::to_string(bad), "text is not valid UTF-8");
  // One piece per byte at most, plus a prefix "▁": one call almost always suffices.
  std::vector<int32_t> pieces(text.size() + 2);
  char error[1024] = {0};
  for (;;) {
    const int64_t n = api_->encode(processor_, text.data(), text.size(), pieces.data(),
                                   pieces.size(), error, sizeof error);
    if (n < 0) throw InputError(where, "", std::string("SentencePiece failed: ") + error);
    const bool fitted = static_cast<size_t>(n) <= pieces.size();
    pieces.resize(static_cast<size_t>(n));
    if (fitted) break;
  }
  std::vector<TokenId> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special && add_bos_ && bos_id_ >= 0) ids.push_back(bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special && add_eos_ && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

}  // namespace moeprobe::tokenizer
