// The on-disk expert layout of a checkpoint and the header-only check of every MoE layer's
// tensors (names, shapes, float dtypes), so a broken checkpoint fails at open.
#pragma once

#include "io/checkpoint.h"
#include "io/quantization.h"
#include "model/config_reader.h"
#include "model/family.h"
#include "model/model_config.h"

namespace moeprobe {

// The first layout whose router and first expert tensor exist in `layer` (layouts may share a
// router name); else the first whose router exists, so validation names the missing experts.
const ExpertLayout& choose_layout(const Family& fam, const Checkpoint& ckpt, int layer);
// Every MoE layer's router, experts and shared experts, from headers only; throws InputError.
// Quantised weights are checked as their logical (dequantised) shape, with their scales.
void validate_moe_tensors(const Checkpoint& ckpt, const Family& fam, const ExpertLayout& lay,
                          const ModelConfig& c, const ConfigReader& r, const QuantConfig& q);

}  // namespace moeprobe
