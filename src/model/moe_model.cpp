// MoeModel: config.json read through the family's key map, MoE layers computed from the
// family's layer-selection keys, and every MoE tensor validated from shard headers alone, so that
// a broken checkpoint fails at open with a message naming the file and tensor instead of deep
// inside a metric.
#include "model/moe_model.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "model/config_reader.h"
#include "model/layer_tensors.h"
#include "util/error.h"

namespace moeprobe {
namespace {

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

}  // namespace

std::unique_ptr<MoeModel> MoeModel::open(const std::filesystem::path& dir,
                                         const std::string& forced_family,
                                         const std::filesystem::path& families_dir) {
  std::unique_ptr<MoeModel> m(new MoeModel());
  m->checkpoint_ = std::make_unique<Checkpoint>(dir);
  const Checkpoint& ckpt = *m->checkpoint_;
  const nlohmann::json& cfg = ckpt.config();
  const std::string cfg_path = ckpt.config_path().string();

  const auto families = load_families(families_dir.empty() ? default_families_dir() : families_dir);
  m->family_ = detect_family(families, cfg, cfg_path, forced_family);
  const Family& fam = m->family_;
  const bool moe_family = !fam.layouts.empty();

  ConfigReader r(fam, cfg, cfg_path);
  ModelConfig& c = m->config_;
  if (cfg.contains("model_type") && cfg["model_type"].is_string())
    c.model_type = cfg["model_type"].get<std::string>();
  c.num_layers = static_cast<int>(r.req_int("num_layers", 1, "the number of decoder layers"));
  c.hidden_size = r.req_int("hidden_size", 1, "the hidden size");

  if (!moe_family) {
    // A dense model (the paper's dense reference): no experts, no MoE layers.
    c.routing = fam.routing;
    return m;
  }

  read_expert_sizes(r, c);
  c.moe_layers = select_moe_layers(fam, r, c.num_layers);
  c.routing = read_routing(fam, r, c);
  m->layout_ = choose_layout(fam, ckpt, c.moe_layers.front());
  read_shared_experts(r, m->layout_, c);
  validate_moe_tensors(ckpt, fam, m->layout_, c, r);
  return m;
}

MoeLayer MoeModel::layer(int layer) const {
  const auto& ml = config_.moe_layers;
  if (!std::binary_search(ml.begin(), ml.end(), layer))
    throw InputError(checkpoint_->dir().string(), "layer " + std::to_string(layer),
                     "not an MoE layer; MoE layers are " + join_ints(ml));
  const Checkpoint& ckpt = *checkpoint_;
  const ExpertLayout& lay = layout_;
  const int E = config_.num_experts;
  const int64_t I = config_.expert_intermediate_size;

  MoeLayer out;
  out.layer = layer;
  out.activation = family_.activation;
  out.routing = config_.routing;
  out.router = ckpt.tensor(expand_pattern(lay.router, layer));
  if (!lay.router_bias.empty() && ckpt.has(expand_pattern(lay.router_bias, layer)))
    out.router_bias = ckpt.tensor(expand_pattern(lay.router_bias, layer));
  if (!lay.score_correction_bias.empty() &&
      ckpt.has(expand_pattern(lay.score_correction_bias, layer)))
    out.score_correction_bias = ckpt.tensor(expand_pattern(lay.score_correction_bias, layer));

  out.experts.reserve(static_cast<std::size_t>(E));
  if (lay.fused()) {
    // Sub-views of the fused tensors: expert e's act rows [0, I), up rows [I, 2I).
    const TensorView gate_up = ckpt.tensor(expand_pattern(lay.fused_gate_up, layer));
    const TensorView down = ckpt.tensor(expand_pattern(lay.fused_down, layer));
    for (int e = 0; e < E; ++e) {
      const TensorView gu = gate_up.index0(e);
      out.experts.push_back({gu.slice0(0, I), gu.slice0(I, 2 * I), down.index0(e)});
    }
  } else {
    for (int e = 0; e < E; ++e)
      out.experts.push_back({ckpt.tensor(expand_pattern(lay.expert_act, layer, e)),
                             ckpt.tensor(expand_pattern(lay.expert_up, layer, e)),
                             ckpt.tensor(expand_pattern(lay.expert_down, layer, e))});
  }
  if (config_.num_shared_experts > 0) {
    const int blocks = has_expert_index(lay.shared_act) ? config_.num_shared_experts : 1;
    for (int s = 0; s < blocks; ++s)
      out.shared.push_back({ckpt.tensor(expand_pattern(lay.shared_act, layer, s)),
                            ckpt.tensor(expand_pattern(lay.shared_up, layer, s)),
                            ckpt.tensor(expand_pattern(lay.shared_down, layer, s))});
    if (!lay.shared_gate.empty())
      out.shared_gate = ckpt.tensor(expand_pattern(lay.shared_gate, layer));
  }
  return out;
}

bool MoeModel::has_dense_ffn(int layer) const {
  const DenseTensorNames& d = family_.dense;
  if (d.dense_act.empty()) return false;
  return checkpoint_->has(expand_pattern(d.dense_act, layer)) &&
         checkpoint_->has(expand_pattern(d.dense_up, layer)) &&
         checkpoint_->has(expand_pattern(d.dense_down, layer));
}

ExpertWeights MoeModel::dense_ffn(int layer) const {
  const DenseTensorNames& d = family_.dense;
  const std::string where = checkpoint_->dir().string();
  if (d.dense_act.empty())
    throw InputError(family_.source.string(), "dense.dense_act",
                     "family " + family_.name + " names no dense FFN tensors");
  if (!has_dense_ffn(layer))
    throw InputError(where, "tensor '" + expand_pattern(d.dense_act, layer) + "'",
                     "layer " + std::to_string(layer) +
                         " has no dense FFN (expected act/up/down tensors " +
                         expand_pattern(d.dense_act, layer) + ", ...)");
  ExpertWeights w{checkpoint_->tensor(expand_pattern(d.dense_act, layer)),
                  checkpoint_->tensor(expand_pattern(d.dense_up, layer)),
                  checkpoint_->tensor(expand_pattern(d.dense_down, layer))};
  const int64_t H = config_.hidden_size;
  const bool ok = w.act.rank() == 2 && w.act.dim(1) == H && w.up.shape == w.act.shape &&
                  w.down.rank() == 2 && w.down.dim(0) == H && w.down.dim(1) == w.act.dim(0);
  if (!ok)
    throw InputError(checkpoint_->shard_of(w.act.name).string(), "tensor '" + w.act.name + "'",
                     "dense FFN shapes act " + w.act.shape_string() + ", up " +
                         w.up.shape_string() + ", down " + w.down.shape_string() +
                         "; expected [I, " + std::to_string(H) + "], [I, " + std::to_string(H) +
                         "], [" + std::to_string(H) + ", I]");
  for (const TensorView* v : {&w.act, &w.up, &w.down})
    if (!dtype_is_float(v->dtype))
      throw InputError(checkpoint_->shard_of(v->name).string(), "tensor '" + v->name + "'",
                       std::string("dtype ") + dtype_name(v->dtype) + ", expected a float type");
  return w;
}

}  // namespace moeprobe
