// A checkpoint seen through its family: sizes from config.json, which decoder layers are MoE, and
// canonical MoeLayer views, built one layer at a time so memory stays bounded.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/quantization.h"
#include "model/family.h"
#include "model/model_config.h"
#include "model/moe_layer.h"

namespace moeprobe {

class MoeModel {
 public:
  // Opens the checkpoint, detects (or forces) the family, reads the sizes and checks that the
  // tensors of every MoE layer exist with consistent shapes (header data only, no tensor bytes).
  // Throws InputError: config without MoE fields, unknown family, expert count in config different
  // from the tensors present, missing or misshapen tensors.
  static std::unique_ptr<MoeModel> open(const std::filesystem::path& dir,
                                        const std::string& forced_family = "",
                                        const std::filesystem::path& families_dir = {});

  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const Family& family() const { return family_; }
  const ModelConfig& config() const { return config_; }
  const ExpertLayout& layout() const { return layout_; }      // the on-disk layout found
  const QuantConfig& quantization() const { return quant_; }  // config.json quantization_config
  const ActivationSpec& activation() const { return activation_; }

  // The canonical view of decoder layer `layer` (must be one of config().moe_layers).
  MoeLayer layer(int layer) const;
  // The dense FFN of a decoder layer (a dense reference model such as Mistral-7B, or a dense
  // first layer); throws InputError if the layer has none.
  ExpertWeights dense_ffn(int layer) const;
  bool has_dense_ffn(int layer) const;

 private:
  MoeModel() = default;
  std::unique_ptr<Checkpoint> checkpoint_;
  Family family_;
  ModelConfig config_;
  ExpertLayout layout_;
  QuantConfig quant_;
  ActivationSpec activation_;
};

}  // namespace moeprobe
