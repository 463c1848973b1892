// moeprobe inspect MODEL_DIR [--json] [--family NAME] [--families DIR]: what moeprobe sees in a
// checkpoint (family, layout, MoE layers, experts, routing, dtypes), from headers only.
#include <iostream>

#include "cli/command.h"
#include "model/model_summary.h"
#include "model/moe_model.h"

namespace moeprobe::cli {
namespace {

struct InspectOptions {
  std::string model_dir;
  bool json = false;
  std::string family;
  std::string families_dir;
};

}  // namespace

CommandRun setup_inspect(CLI::App* sub) {
  auto opts = std::make_shared<InspectOptions>();
  sub->add_option("MODEL_DIR", opts->model_dir, "Hugging Face model directory")->required();
  sub->add_flag("--json", opts->json, "Print the summary as JSON");
  sub->add_option("--family", opts->family, "Family name (skips detection from config.json)");
  sub->add_option("--families", opts->families_dir,
                  "Directory of family YAML files (default: bundled configs/families)");
  return [opts]() {
    const auto model = MoeModel::open(opts->model_dir, opts->family, opts->families_dir);
    const nlohmann::json summary = summarize_model(*model);
    if (opts->json)
      std::cout << summary.dump(2) << "\n";
    else
      std::cout << format_summary_table(summary);
    return 0;
  };
}

}  // namespace moeprobe::cli
