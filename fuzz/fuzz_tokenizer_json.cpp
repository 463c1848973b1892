// tokenizer.json: the Hugging Face tokenizer built from the input, then a fixed text with
// specials, bytes outside ASCII and spacing encoded.
#include "fuzz/fuzz_util.h"
#include "tokenizer/hf_tokenizer.h"
#include "util/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeprobe;
  const std::string text = fuzz::as_text(data, size);
  return fuzz::run_contract([&] {
    const tokenizer::HfTokenizer t(parse_json(text, "tokenizer.json"), "tokenizer.json",
                                   nlohmann::json(), "tokenizer_config.json");
    (void)t.encode("Hello  world! <s> d\xC3\xA9j\xC3\xA0 vu 123\n\t", true, "text");
    (void)t.encode("", false, "text");
  });
}
