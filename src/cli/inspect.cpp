// moeprobe inspect MODEL_DIR [--json] [--family NAME] [--families DIR]: what moeprobe sees in a
// checkpoint (family, layout, MoE layers, experts, routing, dtypes), from headers only.
#include <iostream>

#include "cli/command.h"
#include "cli/model_options.h"
#include "model/model_summary.h"
#include "model/moe_model.h"

namespace moeprobe::cli {
namespace {

struct InspectOptions {
  ModelOptions model;
  bool json = false;
};

}  // namespace

CommandRun setup_inspect(CLI::App* sub) {
  auto opts = std::make_shared<InspectOptions>();
  opts->model.add_to(sub);
  sub->add_flag("--json", opts->json, "Print the summary as JSON");
  return [opts]() {
    const auto model = opts->model.open();
    const nlohmann::json summary = summarize_model(*model);
    if (opts->json)
      std::cout << summary.dump(2) << "\n";
    else
      std::cout << format_summary_table(summary);
    return 0;
  };
}

}  // namespace moeprobe::cli
