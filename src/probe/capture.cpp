#include "probe/capture.h"

#include <unistd.h>

#include <algorithm>

#include "forward/forward.h"
#include "forward/forward_config.h"
#include "io/safetensors_writer.h"
#include "model/weight_bytes.h"
#include "util/error.h"
#include "util/progress.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

void check_probe(const MoeModel& model, const ProbeSequences& probe) {
  if (probe.ids.empty()) throw InputError("", "probe", "no sequence to capture");
  const ForwardConfig fc = read_forward_config(model);
  const TensorView embed = model.checkpoint().tensor(model.family().dense.embed);
  const int64_t vocab = embed.rank() == 2 ? embed.dim(0) : 0;
  for (std::size_t s = 0; s < probe.ids.size(); ++s) {
    const auto& seq = probe.ids[s];
    const std::string where =
        s < probe.origins.size() ? probe.origins[s] : "sequence " + std::to_string(s);
    if (seq.empty()) throw InputError(where, "tokens", "empty sequence");
    if (fc.max_positions > 0 && static_cast<int64_t>(seq.size()) > fc.max_positions)
      throw InputError(where, "max_position_embeddings",
                       std::to_string(seq.size()) + " tokens, more than the model's " +
                           std::to_string(fc.max_positions) + " (" + fc.config_path + ")");
    for (std::size_t i = 0; i < seq.size(); ++i)
      if (seq[i] < 0 || seq[i] >= vocab)
        throw InputError(where, "token " + std::to_string(i),
                         "id " + std::to_string(seq[i]) + " outside the vocabulary [0, " +
                             std::to_string(vocab) + ") of " + embed.name);
  }
}

std::string layer_tensor(int layer) {
  return "layers." + std::to_string(layer) + ".moe_input";
}

}  // namespace

CaptureSummary capture_activations(const MoeModel& model, const std::string& model_name,
                                   const ProbeSequences& probe, const fs::path& out,
                                   const std::function<void(const std::string&)>& progress) {
  require_forward();
  check_probe(model, probe);
  const std::vector<int>& layers = model.config().moe_layers;
  const int64_t hidden = model.config().hidden_size;
  CaptureSummary sum;
  sum.hidden = hidden;
  sum.sequences = probe.ids.size();
  sum.layers = layers.size();
  std::vector<int64_t> ids, starts;
  std::vector<uint8_t> bos;
  for (std::size_t s = 0; s < probe.ids.size(); ++s) {
    starts.push_back(static_cast<int64_t>(ids.size()));
    ids.insert(ids.end(), probe.ids[s].begin(), probe.ids[s].end());
    std::vector<uint8_t> mask = s < probe.bos.size() ? probe.bos[s] : std::vector<uint8_t>();
    mask.resize(probe.ids[s].size(), 0);
    bos.insert(bos.end(), mask.begin(), mask.end());
  }
  sum.tokens = static_cast<int64_t>(ids.size());
  for (uint8_t b : bos) sum.bos_tokens += b;

  std::vector<TensorSpec> specs;
  for (int l : layers) specs.push_back({layer_tensor(l), DType::F32, {sum.tokens, hidden}});
  specs.push_back({"token_ids", DType::I64, {sum.tokens}});
  specs.push_back({"sequence_starts", DType::I64, {static_cast<int64_t>(starts.size())}});
  specs.push_back({"bos_mask", DType::U8, {sum.tokens}});
  const std::map<std::string, std::string> metadata = {{"moeprobe_activations", "1"},
                                                       {"model", model_name},
                                                       {"tokenizer", probe.tokenizer},
                                                       {"probe", probe.name}};

  std::error_code ec;
  if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
  const fs::path partial = out.parent_path() / ("." + out.filename().string() + ".partial-" +
                                                std::to_string(::getpid()));
  {
    SafetensorsWriter writer(partial, specs, metadata);  // removes `partial` unless finished
    std::size_t next_layer = 0, next_sequence = 0;
    ForwardOptions options;
    options.logits = false;
    options.on_moe_input = [&](int layer, std::size_t sequence, const float* data, int64_t tokens,
                               int64_t h) {
      // The forward pass visits MoE layers in order and, inside one, the sequences in order:
      // exactly the order of the layer tensor's rows.
      if (next_layer >= layers.size() || layer != layers[next_layer] || sequence != next_sequence ||
          h != hidden || tokens != static_cast<int64_t>(probe.ids[sequence].size()))
        throw std::logic_error("capture: MoE inputs arrived out of order");
      writer.write_part(layer_tensor(layer), data,
                        static_cast<uint64_t>(tokens * h) * sizeof(float));
      if (++next_sequence == probe.ids.size()) {
        next_sequence = 0;
        ++next_layer;
      }
    };
    // Per decoder layer: the FFN weights it read (routed and shared experts and router, or the
    // dense FFN) and the tokens that went through it.
    ProgressReporter reporter(progress, "layers",
                              static_cast<std::size_t>(model.config().num_layers));
    const std::string tokens = std::to_string(sum.tokens) + " tokens";
    options.on_layer_done = [&](int layer) {
      const bool moe = std::find(layers.begin(), layers.end(), layer) != layers.end();
      const uint64_t bytes = moe                          ? weight_bytes(model.layer(layer))
                             : model.has_dense_ffn(layer) ? weight_bytes(model.dense_ffn(layer))
                                                          : 0;
      reporter.step("layer " + std::to_string(layer), bytes, tokens);
    };
    run_forward(model, probe.ids, options);
    if (next_layer != layers.size())
      throw std::logic_error("capture: the forward pass skipped MoE layers");
    writer.write("token_ids", ids.data(), ids.size() * sizeof(int64_t));
    writer.write("sequence_starts", starts.data(), starts.size() * sizeof(int64_t));
    writer.write("bos_mask", bos.data(), bos.size());
    writer.finish();
  }
  fs::rename(partial, out, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(partial, ec);
    throw InputError(out.string(), "", "cannot write the activations file: " + why);
  }
  return sum;
}

}  // namespace moeprobe
