#include "suite/runner.h"

#include "kernels/backend.h"
#include "model/moe_model.h"
#include "probe/probe_source.h"
#include "suite/baseline_router.h"
#include "suite/judge.h"
#include "suite/plan.h"
#include "suite/stream.h"
#include "util/build_info.h"

namespace moeprobe {

RunResult run_suite(const Suite& suite, const RunOptions& opt) {
  auto log = [&](const std::string& line) {
    if (opt.log) *opt.log << "moeprobe: " << line << "\n" << std::flush;
  };

  auto model = MoeModel::open(opt.model_dir);
  std::unique_ptr<MoeModel> reference;
  if (!opt.reference_model.empty()) reference = MoeModel::open(opt.reference_model);
  const ModelConfig& cfg = model->config();
  const int n = static_cast<int>(cfg.moe_layers.size());

  IntervalSpec interval = suite.interval;
  if (opt.seed) interval.seed = *opt.seed;
  ProbeSpec probe_spec = probe_spec_from_option(opt.activations);
  if (probe_spec.empty()) probe_spec = probe_spec_from_suite(suite.probe, suite.path);
  const RunPlan plan = plan_run(suite, interval, n, reference != nullptr, opt.layers,
                                !probe_spec.empty(), !opt.compare_model.empty());
  // The probe is opened (and validated against the model) only for the layers that read it.
  std::vector<int> probe_layers;
  for (int p : plan.dynamic_positions())
    probe_layers.push_back(cfg.moe_layers[static_cast<std::size_t>(p)]);
  // A probe named on the command line is validated even when no metric reads it.
  std::unique_ptr<ProbeActivations> probe;
  if (!probe_layers.empty() || !opt.activations.empty())
    probe = open_probe(probe_spec, *model, probe_layers);

  std::unique_ptr<BaselineRouter> baseline;
  if (!opt.compare_model.empty())
    baseline = BaselineRouter::open(opt.compare_model, opt.compare_activations, *model, probe.get(),
                                    probe_layers);

  std::string notice;
  auto backend = make_backend(opt.device, &notice);
  if (!notice.empty() && opt.log) *opt.log << notice << "\n";

  RunResult result;
  result.suite_name = suite.name;
  result.suite_path = suite.path.string();
  result.suite_paper = suite.paper;
  result.suite_description = suite.description;
  result.model.path = opt.model_dir.string();
  result.model.family = model->family().name;
  result.model.layout = model->layout().name;
  result.model.num_layers = cfg.num_layers;
  result.model.moe_layers = cfg.moe_layers;
  result.model.num_experts = cfg.num_experts;
  result.model.top_k = cfg.top_k;
  for (const auto& [dtype, bytes] : model->checkpoint().dtype_bytes())
    result.model.dtypes.push_back(dtype);
  result.model.reference_model = opt.reference_model.string();
  result.environment = {build_version(), build_revision(), backend->name(), backend->device()};

  if (probe) result.probe = probe->info().to_json();
  const Measurements measurements =
      stream_layers(plan, *model, reference.get(), *backend, log, probe.get(),
                    opt.all_experts_block_bytes, baseline.get());
  result.hypotheses = judge_hypotheses(suite, interval, plan, measurements);
  return result;
}

}  // namespace moeprobe
