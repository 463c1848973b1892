// The C interface of the SentencePiece module (libmoeprobe_sentencepiece.so), the only code that
// links Debian's libsentencepiece. That library exports the protobuf-lite it bundles; in a process
// that also loads libprotobuf (LibTorch does), the two copies interpose on each other and the
// process crashes in a static initialiser before main. The module is therefore loaded with
// dlmopen(LM_ID_NEWLM) into a link-map namespace of its own (its own libstdc++ and libc), where
// neither copy can see the other. Across namespaces only plain C passes: no C++ object, exception
// or heap block crosses, and every output goes into a buffer the caller owns.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOEPROBE_SENTENCEPIECE_ABI_VERSION 1u

struct MoeprobeSentencePieceApi {
  uint32_t abi_version;  // MOEPROBE_SENTENCEPIECE_ABI_VERSION
  // A processor for the model file, or NULL with a message in error[0, error_capacity).
  void* (*load)(const char* model_file, char* error, size_t error_capacity);
  void (*release)(void* processor);
  int32_t (*bos_id)(const void* processor);  // -1 when the model has none
  int32_t (*eos_id)(const void* processor);
  // Encodes text[0, length) without BOS/EOS. Returns the number of ids; they are written to ids
  // only when that number is <= capacity (otherwise call again with a larger buffer). Returns -1
  // with a message in error on failure.
  int64_t (*encode)(const void* processor, const char* text, size_t length, int32_t* ids,
                    size_t capacity, char* error, size_t error_capacity);
};

// The module's single exported symbol.
const struct MoeprobeSentencePieceApi* moeprobe_sentencepiece_api(void);
#define MOEPROBE_SENTENCEPIECE_API_SYMBOL "moeprobe_sentencepiece_api"

#ifdef __cplusplus
}
#endif
