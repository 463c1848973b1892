// The options every subcommand that opens a checkpoint shares: MODEL_DIR, --family, --families.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "model/moe_model.h"

namespace moeprobe::cli {

struct ModelOptions {
  std::string model_dir;
  std::string family;
  std::string families_dir;

  void add_to(CLI::App* sub) {
    sub->add_option("MODEL_DIR", model_dir, "Hugging Face model directory")->required();
    sub->add_option("--family", family, "Family name (skips detection from config.json)");
    sub->add_option("--families", families_dir,
                    "Directory of family YAML files (default: bundled configs/families)");
  }
  std::unique_ptr<MoeModel> open() const { return MoeModel::open(model_dir, family, families_dir); }
};

}  // namespace moeprobe::cli
