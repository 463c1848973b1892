#include "suite/baseline_router.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "kernels/backend.h"
#include "util/error.h"

namespace moeprobe {

namespace {

std::optional<std::string> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The tokenizers must be the same files (or both absent), or the probe's token ids mean
// different text in the two models.
void check_same_tokenizer(const std::filesystem::path& candidate,
                          const std::filesystem::path& baseline) {
  for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
    const auto a = file_bytes(candidate / name), b = file_bytes(baseline / name);
    if (!a && !b) continue;
    if (a && b && *a == *b) continue;
    const std::string what =
        !b   ? std::string("the baseline has no ") + name + ", the candidate has one"
        : !a ? std::string("the baseline has a ") + name + ", the candidate none"
             : std::string("the baseline's ") + name + " differs from the candidate's";
    throw InputError((baseline / name).string(), "--compare-model",
                     what + " (expected the same tokenizer, so the probe's tokens mean the same)");
  }
}

}  // namespace

std::unique_ptr<BaselineRouter> BaselineRouter::open(const std::filesystem::path& dir,
                                                     const std::filesystem::path& activations,
                                                     const MoeModel& candidate,
                                                     const ProbeActivations* candidate_probe,
                                                     const std::vector<int>& layers) {
  std::unique_ptr<BaselineRouter> b(new BaselineRouter());
  b->dir_ = dir;
  b->model_ = MoeModel::open(dir);
  const ModelConfig& cc = candidate.config();
  const ModelConfig& bc = b->model_->config();
  const std::string config = b->model_->checkpoint().config_path().string();
  if (bc.num_experts != cc.num_experts)
    throw InputError(config, "--compare-model",
                     "the baseline has " + std::to_string(bc.num_experts) +
                         " experts per layer, the candidate " + std::to_string(cc.num_experts) +
                         " (expected the same expert count)");
  if (bc.top_k != cc.top_k)
    throw InputError(config, "--compare-model",
                     "the baseline routes to top-" + std::to_string(bc.top_k) +
                         ", the candidate to top-" + std::to_string(cc.top_k) +
                         " (expected the same top-k)");
  if (bc.hidden_size != cc.hidden_size)
    throw InputError(config, "--compare-model",
                     "hidden size " + std::to_string(bc.hidden_size) + ", the candidate's " +
                         std::to_string(cc.hidden_size) + " (expected the same)");
  for (int l : layers)
    if (std::find(bc.moe_layers.begin(), bc.moe_layers.end(), l) == bc.moe_layers.end())
      throw InputError(config, "--compare-model",
                       "decoder layer " + std::to_string(l) +
                           " is not a MoE layer of the baseline (expected the same MoE layers)");
  check_same_tokenizer(candidate.checkpoint().dir(), dir);
  b->rule_ = make_router_rule(bc.routing, bc.num_experts, b->model_->checkpoint().config(), config);
  if (!activations.empty()) {
    b->own_probe_ = ProbeActivations::open(activations, bc.hidden_size, layers);
    if (candidate_probe) {
      const ProbeInfo& mine = b->own_probe_->info();
      const ProbeInfo& theirs = candidate_probe->info();
      if (mine.tokens != theirs.tokens || mine.token_ids != theirs.token_ids ||
          mine.sequence_starts != theirs.sequence_starts)
        throw InputError(activations.string(), "token_ids",
                         "the baseline's activations hold other tokens than the candidate's "
                         "probe (" +
                             std::to_string(mine.tokens) + " vs " + std::to_string(theirs.tokens) +
                             " tokens; expected a capture of the same probe)");
    }
  }
  return b;
}

RoutingData BaselineRouter::route(int layer, const TensorView& candidate_input,
                                  Backend& backend) const {
  const MoeLayer l = model_->layer(layer);
  if (!own_probe_) return route_layer(l, *rule_, candidate_input, backend);
  const LayerActivations own = own_probe_->layer(layer);
  return route_layer(l, *rule_, own.x, backend);
}

}  // namespace moeprobe
