// Inspect summary from headers only (Checkpoint entries and config), never tensor data.
#include "model/model_summary.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>

#include "io/quantization.h"

namespace moeprobe {

std::string compress_ranges(const std::vector<int>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(values[i]);
    if (j > i) out += "-" + std::to_string(values[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

namespace {

// A tensor name with every run of digits replaced by "*": the group it belongs to.
std::string name_group(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    if (std::isdigit(static_cast<unsigned char>(name[i]))) {
      while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
      out += '*';
    } else {
      out += name[i++];
    }
  }
  return out;
}

// Per tensor group (names up to their indices), how its weights are stored: plain dtype,
// FP8 with block or per-channel scales, MXFP4. Scale tensors are shown with their weights.
nlohmann::json quantization_summary(const MoeModel& model) {
  const Checkpoint& ckpt = model.checkpoint();
  const QuantConfig& q = model.quantization();
  std::map<std::pair<std::string, std::string>, int> groups;  // (group, format) -> tensors
  for (const std::string& name : ckpt.tensor_names()) {
    if (is_scale_companion(ckpt, name)) continue;
    const std::string suffix = "_blocks";
    const bool blocks = name.size() > suffix.size() &&
                        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                        ckpt.has(name.substr(0, name.size() - suffix.size()) + "_scales");
    const std::string weight = blocks ? name.substr(0, name.size() - suffix.size()) : name;
    const auto info = weight_info(ckpt, weight, q);
    if (!info) continue;
    ++groups[{name_group(weight), info->format()}];
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, count] : groups)
    list.push_back({{"tensors", key.first}, {"count", count}, {"format", key.second}});
  return {
      {"method", q.method.empty() ? "none" : q.method}, {"config", q.describe()}, {"groups", list}};
}

}  // namespace

nlohmann::json summarize_model(const MoeModel& model) {
  const Checkpoint& ckpt = model.checkpoint();
  const ModelConfig& c = model.config();
  const Family& fam = model.family();
  const bool moe = !fam.layouts.empty();
  nlohmann::json j;
  j["path"] = ckpt.dir().string();
  j["family"] = fam.name;
  j["family_file"] = fam.source.string();
  j["layout"] = moe ? model.layout().name : std::string("dense");
  j["fused_experts"] = moe && model.layout().fused();
  j["model_type"] = c.model_type;
  j["num_layers"] = c.num_layers;
  j["moe_layers"] = c.moe_layers;
  j["num_experts"] = c.num_experts;
  j["top_k"] = c.top_k;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.expert_intermediate_size;
  j["shared_experts"] = c.num_shared_experts;
  j["shared_intermediate_size"] = c.shared_intermediate_size;
  j["shared_expert_gate"] = moe && c.num_shared_experts > 0 && !model.layout().shared_gate.empty();
  j["activation"] = activation_name(fam.activation);
  const RoutingConvention& r = c.routing;
  j["routing"] = {{"scoring", r.scoring == Scoring::Softmax ? "softmax" : "sigmoid"},
                  {"softmax_before_topk", r.softmax_before_topk},
                  {"renormalize", r.renormalize},
                  {"selection_bias", r.selection_bias},
                  {"n_group", r.n_group},
                  {"topk_group", r.topk_group},
                  {"routed_scaling_factor", r.routed_scaling_factor},
                  {"top_k", r.top_k}};
  nlohmann::json dtypes = nlohmann::json::object();
  for (const auto& [name, bytes] : ckpt.dtype_bytes()) dtypes[name] = bytes;
  j["dtypes"] = dtypes;
  j["tensor_bytes"] = ckpt.tensor_bytes();
  j["num_tensors"] = ckpt.tensor_names().size();
  j["shards"] = ckpt.shards().size();
  j["quantization"] = quantization_summary(model);
  return j;
}

std::string format_summary_table(const nlohmann::json& s) {
  std::ostringstream o;
  auto row = [&](const std::string& key, const std::string& value) {
    o << "  ";
    o.width(16);
    o << std::left << key << value << "\n";
  };
  const auto& r = s["routing"];
  o << s["path"].get<std::string>() << "\n";
  row("family",
      s["family"].get<std::string>() + " (model_type " + s["model_type"].get<std::string>() + ")");
  row("layout", s["layout"].get<std::string>() +
                    (s["fused_experts"].get<bool>() ? " (fused expert tensors)" : ""));
  row("layers", std::to_string(s["num_layers"].get<int>()));
  const auto moe_layers = s["moe_layers"].get<std::vector<int>>();
  row("moe layers", compress_ranges(moe_layers) + " (" + std::to_string(moe_layers.size()) + ")");
  row("hidden size", std::to_string(s["hidden_size"].get<int64_t>()));
  if (s["num_experts"].get<int>() > 0) {
    row("experts", std::to_string(s["num_experts"].get<int>()) + ", top-" +
                       std::to_string(s["top_k"].get<int>()) + ", intermediate " +
                       std::to_string(s["intermediate_size"].get<int64_t>()) + ", " +
                       s["activation"].get<std::string>());
    const int shared = s["shared_experts"].get<int>();
    row("shared experts", shared == 0
                              ? std::string("none")
                              : std::to_string(shared) + ", intermediate " +
                                    std::to_string(s["shared_intermediate_size"].get<int64_t>()) +
                                    (s["shared_expert_gate"].get<bool>() ? ", sigmoid gate" : ""));
    std::string routing = r["scoring"].get<std::string>();
    routing += r["softmax_before_topk"].get<bool>() ? " -> top-k"
                                                    : " (top-k on logits, softmax over the k)";
    if (r["selection_bias"].get<bool>()) routing += ", selection bias";
    if (r["n_group"].get<int>() > 1)
      routing += ", groups " + std::to_string(r["topk_group"].get<int>()) + " of " +
                 std::to_string(r["n_group"].get<int>());
    routing += r["renormalize"].get<bool>() ? ", renormalised" : ", not renormalised";
    const double scale = r["routed_scaling_factor"].get<double>();
    if (scale != 1.0) {
      char buf[48];
      std::snprintf(buf, sizeof buf, ", scaled by %g", scale);
      routing += buf;
    }
    row("routing", routing);
  } else {
    row("experts", "none (dense model)");
  }
  std::string dtypes;
  for (const auto& [name, bytes] : s["dtypes"].items())
    dtypes += (dtypes.empty() ? "" : ", ") + name + " " + human_bytes(bytes.get<uint64_t>());
  row("dtypes", dtypes.empty() ? "none" : dtypes);
  if (s.contains("quantization")) {
    const auto& q = s["quantization"];
    row("quantization", q["config"].get<std::string>());
    // Quantised groups one per line; plain ones counted.
    int plain = 0;
    for (const auto& g : q["groups"]) {
      const std::string f = g["format"].get<std::string>();
      if (f.find(" x ") == std::string::npos && f.rfind("MXFP4", 0) != 0) {
        plain += g["count"].get<int>();
        continue;
      }
      row("", g["tensors"].get<std::string>() + " (" + std::to_string(g["count"].get<int>()) +
                  "): " + f);
    }
    if (q["method"] != "none") row("", std::to_string(plain) + " other tensors unquantised");
  }
  row("tensors", std::to_string(s["num_tensors"].get<std::size_t>()) + " in " +
                     std::to_string(s["shards"].get<std::size_t>()) + " shard(s), " +
                     human_bytes(s["tensor_bytes"].get<uint64_t>()));
  return o.str();
}

}  // namespace moeprobe
