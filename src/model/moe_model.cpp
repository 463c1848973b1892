// MoeModel: config.json read through the family's key map, MoE layers computed from the
// family's layer-selection keys, and every MoE tensor validated from shard headers alone, so that
// a broken checkpoint fails at open with a message naming the file and tensor instead of deep
// inside a metric.
#include "model/moe_model.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

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

  // An unknown quantisation scheme is refused before anything else is read.
  m->quant_ = read_quant_config(cfg, cfg_path);
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
  m->activation_.kind = fam.activation;
  if (auto limit = r.opt_number("swiglu_limit")) m->activation_.limit = *limit;
  if (auto alpha = r.opt_number("swiglu_alpha")) m->activation_.alpha = *alpha;

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
  validate_moe_tensors(ckpt, fam, m->layout_, c, r, m->quant_);
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
  out.activation_spec = activation_;
  out.routing = config_.routing;
  auto weight = [&](const std::string& name) { return open_weight(ckpt, name, quant_); };
  out.router = weight(expand_pattern(lay.router, layer));
  if (!lay.router_bias.empty() && ckpt.has(expand_pattern(lay.router_bias, layer)))
    out.router_bias = ckpt.tensor(expand_pattern(lay.router_bias, layer));
  if (!lay.score_correction_bias.empty() &&
      ckpt.has(expand_pattern(lay.score_correction_bias, layer)))
    out.score_correction_bias = ckpt.tensor(expand_pattern(lay.score_correction_bias, layer));

  out.experts.reserve(static_cast<std::size_t>(E));
  if (lay.fused()) {
    // Sub-views of the fused tensors, in Linear layout: gate_up[e] as [2I, H] (act rows [0, I),
    // up rows [I, 2I), or interleaved), down[e] as [H, I]. Transposed storage is viewed through
    // transposed(); MXFP4 blocks are stored [E, out, in] whatever the plain form is.
    const TensorView gate_up = weight(expand_pattern(lay.fused_gate_up, layer));
    const TensorView down = weight(expand_pattern(lay.fused_down, layer));
    const bool t_gu = lay.fused_transposed && gate_up.quant_scheme() != QuantScheme::Mxfp4;
    const bool t_dn = lay.fused_transposed && down.quant_scheme() != QuantScheme::Mxfp4;
    std::optional<TensorView> gu_bias, dn_bias;
    if (!lay.fused_gate_up_bias.empty() && ckpt.has(expand_pattern(lay.fused_gate_up_bias, layer)))
      gu_bias = ckpt.tensor(expand_pattern(lay.fused_gate_up_bias, layer));
    if (!lay.fused_down_bias.empty() && ckpt.has(expand_pattern(lay.fused_down_bias, layer)))
      dn_bias = ckpt.tensor(expand_pattern(lay.fused_down_bias, layer));
    // The act and up parts of a [2I, ...] view (rows of gate_up, or entries of its bias).
    auto halves = [&](const TensorView& v) {
      return lay.gate_up_interleaved ? std::make_pair(v.every0(0, 2), v.every0(1, 2))
                                     : std::make_pair(v.slice0(0, I), v.slice0(I, 2 * I));
    };
    for (int e = 0; e < E; ++e) {
      TensorView gu = gate_up.index0(e);
      if (t_gu) gu = gu.transposed();
      TensorView dn = down.index0(e);
      if (t_dn) dn = dn.transposed();
      const auto [act, up] = halves(gu);
      ExpertWeights w{act, up, dn};
      if (gu_bias) std::tie(w.act_bias, w.up_bias) = halves(gu_bias->index0(e));
      if (dn_bias) w.down_bias = dn_bias->index0(e);
      out.experts.push_back(std::move(w));
    }
  } else {
    for (int e = 0; e < E; ++e)
      out.experts.push_back({weight(expand_pattern(lay.expert_act, layer, e)),
                             weight(expand_pattern(lay.expert_up, layer, e)),
                             weight(expand_pattern(lay.expert_down, layer, e))});
  }
  if (config_.num_shared_experts > 0) {
    const int blocks = has_expert_index(lay.shared_act) ? config_.num_shared_experts : 1;
    for (int s = 0; s < blocks; ++s)
      out.shared.push_back({weight(expand_pattern(lay.shared_act, layer, s)),
                            weight(expand_pattern(lay.shared_up, layer, s)),
                            weight(expand_pattern(lay.shared_down, layer, s))});
    if (!lay.shared_gate.empty())
      out.shared_gate = ckpt.tensor(expand_pattern(lay.shared_gate, layer));
  }
  return out;
}

bool MoeModel::has_dense_ffn(int layer) const {
  const DenseTensorNames& d = family_.dense;
  if (d.dense_act.empty()) return false;
  return has_weight(*checkpoint_, expand_pattern(d.dense_act, layer)) &&
         has_weight(*checkpoint_, expand_pattern(d.dense_up, layer)) &&
         has_weight(*checkpoint_, expand_pattern(d.dense_down, layer));
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
  ExpertWeights w{open_weight(*checkpoint_, expand_pattern(d.dense_act, layer), quant_),
                  open_weight(*checkpoint_, expand_pattern(d.dense_up, layer), quant_),
                  open_weight(*checkpoint_, expand_pattern(d.dense_down, layer), quant_)};
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
    if (!v->float_valued())
      throw InputError(checkpoint_->shard_of(v->name).string(), "tensor '" + v->name + "'",
                       std::string("dtype ") + dtype_name(v->dtype) + ", expected a float type");
  return w;
}

}  // namespace moeprobe
