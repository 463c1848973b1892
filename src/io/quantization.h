// Quantised checkpoints: config.json's quantization_config and the weights it describes, attached
// to TensorViews (io/tensor_view.h) so every reader dequantises block by block.
//
//   fp8         FP8 (E4M3/E5M2) codes `W` with a scale tensor `W_scale_inv` of one factor per
//               weight_block_size block (default [128, 128]), multiplied in (DeepSeek-V3/R1,
//               Kimi-K2, Qwen3 FP8)
//   fbgemm_fp8  FP8 codes with a per-output-channel `W_scale` [R, 1] (also recognised under fp8)
//   mxfp4       `W_blocks` U8 [..., R, C/32, 16] of E2M1 pairs (low nibble first) and `W_scales`
//               U8 [..., R, C/32] of E8M0 exponents (gpt-oss); the logical weight is [..., R, C]
//
// Without quantization_config, F8 weights with a `_scale_inv` or `_scale` sibling are read with
// it (default block) and other F8 weights as plain values. Anything else is refused with an
// InputError naming the tensor and the scheme.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/tensor_view.h"

namespace moeprobe {

struct QuantConfig {
  std::string method;  // "" (none), "fp8", "fbgemm_fp8" or "mxfp4"
  int64_t block_rows = 128, block_cols = 128;
  bool block_from_config = false;  // weight_block_size was given
  std::string config_path;         // for messages
  std::string describe() const;    // "fp8 (weight_block_size [128, 128])"
};

// Throws InputError naming config.json and the key: an unknown quant_method, a malformed
// weight_block_size.
QuantConfig read_quant_config(const nlohmann::json& config, const std::string& config_path);

// What a weight is on disk, from headers alone.
struct WeightInfo {
  std::string name;            // the weight's name (as the family patterns give it)
  std::string stored_name;     // the codes tensor (name, or name + "_blocks")
  std::vector<int64_t> shape;  // logical (dequantised) shape
  DType dtype = DType::F32;    // code dtype (U8 for MXFP4)
  QuantScheme scheme = QuantScheme::None;
  std::string scale_name;  // empty when unquantised
  DType scale_dtype = DType::F32;
  int64_t block_rows = 1, block_cols = 1;
  bool float_valued() const { return scheme != QuantScheme::None || dtype_is_float(dtype); }
  std::string format() const;  // "BF16", "F8_E4M3 x F32 scale per 128x128", "MXFP4 (E8M0 per 32)"
};

bool has_weight(const Checkpoint& ckpt, const std::string& name);  // name or name_blocks
// nullopt when neither `name` nor `name_blocks` exists; throws InputError for a quantised weight
// whose scales are missing, of the wrong dtype, or do not tile it.
std::optional<WeightInfo> weight_info(const Checkpoint& ckpt, const std::string& name,
                                      const QuantConfig& q);
// The weight as a view (mapped when quantised); throws InputError when absent or invalid.
TensorView open_weight(const Checkpoint& ckpt, const std::string& name, const QuantConfig& q);

// Whether a tensor name is a scale companion (`_scale_inv`, `_scale`, `_scales` of a weight that
// exists), which a listing shows with its weight.
bool is_scale_companion(const Checkpoint& ckpt, const std::string& name);

}  // namespace moeprobe
