// The summary `moeprobe inspect` prints: family, layout, sizes, MoE layers, routing convention,
// dtypes and bytes. Built from config.json and shard headers only, so it costs the same for a
// 4 KB fixture and a 700 GB checkpoint (no shard is mapped, no tensor byte is read).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/moe_model.h"

namespace moeprobe {

nlohmann::json summarize_model(const MoeModel& model);
// Human-readable table of a summary (the default output of inspect).
std::string format_summary_table(const nlohmann::json& summary);
// "0-3,5,7-9": ascending layer indices compressed into ranges.
std::string compress_ranges(const std::vector<int>& values);
// "1.5 GiB", "312 B".
std::string human_bytes(uint64_t bytes);

}  // namespace moeprobe
