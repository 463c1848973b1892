// libmoeprobe_sentencepiece.so: SentencePiece behind the C interface of sentencepiece_module_abi.h.
// Built as its own module (never linked into moeprobe_core) and loaded in a separate link-map
// namespace; see that header for why. Exceptions stop here: they cannot cross the C boundary.
#include <sentencepiece_processor.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tokenizer/sentencepiece_module_abi.h"

namespace {

void set_error(char* error, size_t capacity, const std::string& message) {
  if (error && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
}

void* load(const char* model_file, char* error, size_t error_capacity) {
  try {
    auto* sp = new sentencepiece::SentencePieceProcessor();
    const auto status = sp->Load(model_file);
    if (status.ok()) return sp;
    set_error(error, error_capacity, status.ToString());
    delete sp;
  } catch (const std::exception& e) {
    set_error(error, error_capacity, e.what());
  }
  return nullptr;
}

void release(void* processor) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(processor);
}

int32_t bos_id(const void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->bos_id();
}

int32_t eos_id(const void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->eos_id();
}

int64_t encode(const void* processor, const char* text, size_t length, int32_t* ids,
               size_t capacity, char* error, size_t error_capacity) {
  try {
    std::vector<int> pieces;
    const auto status =
        static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->Encode(
            std::string(text, length), &pieces);
    if (!status.ok()) {
      set_error(error, error_capacity, status.ToString());
      return -1;
    }
    if (pieces.size() <= capacity)
      for (size_t i = 0; i < pieces.size(); ++i) ids[i] = pieces[i];
    return static_cast<int64_t>(pieces.size());
  } catch (const std::exception& e) {
    set_error(error, error_capacity, e.what());
    return -1;
  }
}

const MoeprobeSentencePieceApi kApi{
    MOEPROBE_SENTENCEPIECE_ABI_VERSION, load, release, bos_id, eos_id, encode};

}  // namespace

extern "C" __attribute__((visibility("default"))) const MoeprobeSentencePieceApi*
moeprobe_sentencepiece_api(void) {
  return &kApi;
}
