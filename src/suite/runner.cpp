#include "suite/runner.h"

#include <algorithm>

#include "kernels/backend.h"
#include "model/moe_model.h"
#include "probe/probe_source.h"
#include "suite/baseline_router.h"
#include "suite/judge.h"
#include "suite/plan.h"
#include "suite/stream.h"
#include "util/build_info.h"
#include "util/error.h"

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
  // The run's probes: one per distinct probe the hypotheses name (their own or the suite's),
  // each opened once; --activations replaces all of them.
  const ProbeSpec override_spec = probe_spec_from_option(opt.activations);
  std::vector<ProbeSpec> specs;
  std::vector<std::string> probe_keys;
  std::vector<int> probe_of(suite.hypotheses.size(), -1);
  for (std::size_t i = 0; i < suite.hypotheses.size(); ++i) {
    const nlohmann::json& named = suite.probe_of(suite.hypotheses[i]);
    const std::string key = override_spec.empty() ? named.dump() : "--activations";
    auto it = std::find(probe_keys.begin(), probe_keys.end(), key);
    if (it == probe_keys.end()) {
      ProbeSpec spec = override_spec;
      if (spec.empty()) {
        const auto captured = opt.probe_files.find(key);
        if (captured != opt.probe_files.end()) {
          spec.kind = ProbeSpec::Kind::File;
          spec.file = captured->second;
          spec.origin = suite.path.string() + ": probe";
        } else {
          spec = probe_spec_from_suite(named, suite.path);
        }
      }
      probe_keys.push_back(key);
      specs.push_back(spec);
      it = probe_keys.end() - 1;
    }
    const int q = static_cast<int>(it - probe_keys.begin());
    if (!specs[static_cast<std::size_t>(q)].empty()) probe_of[i] = q;
  }
  const bool any_probe =
      std::any_of(probe_of.begin(), probe_of.end(), [](int q) { return q >= 0; });
  const RunPlan plan = plan_run(suite, interval, n, reference != nullptr, opt.layers, any_probe,
                                !opt.compare_model.empty(), &probe_of);
  // Each probe is opened (and validated against the model) only for the layers that read it.
  std::vector<std::unique_ptr<ProbeActivations>> opened(specs.size());
  std::vector<const ProbeActivations*> probes(specs.size(), nullptr);
  std::vector<int> all_probe_layers;
  for (std::size_t q = 0; q < specs.size(); ++q) {
    std::vector<int> layers;
    for (int p : plan.dynamic_positions(static_cast<int>(q)))
      layers.push_back(cfg.moe_layers[static_cast<std::size_t>(p)]);
    if (layers.empty()) continue;
    opened[q] = open_probe(specs[q], *model, layers);
    // Captured text probes live in a temporary file; the source says what was captured.
    if (opt.probe_files.count(probe_keys[q]) ||
        (!override_spec.empty() && opt.activations_captured))
      opened[q]->set_source("captured through the forward pass");
    probes[q] = opened[q].get();
    all_probe_layers.insert(all_probe_layers.end(), layers.begin(), layers.end());
  }
  // A probe named on the command line is validated even when no metric reads it.
  std::unique_ptr<ProbeActivations> unread;
  if (!opt.activations.empty() &&
      std::none_of(probes.begin(), probes.end(), [](auto* p) { return p != nullptr; }))
    unread = open_probe(override_spec, *model, {});
  const ProbeActivations* main_probe = unread.get();
  for (const ProbeActivations* p : probes)
    if (p && !main_probe) main_probe = p;

  std::unique_ptr<BaselineRouter> baseline;
  if (!opt.compare_model.empty()) {
    const auto used = std::count_if(probes.begin(), probes.end(), [](auto* p) { return p; });
    if (!opt.compare_activations.empty() && used > 1)
      throw InputError("", "--compare-activations",
                       "the suite's hypotheses read " + std::to_string(used) +
                           " probes; baseline activations match one of them (give "
                           "--activations to run every hypothesis on one probe)");
    std::sort(all_probe_layers.begin(), all_probe_layers.end());
    all_probe_layers.erase(std::unique(all_probe_layers.begin(), all_probe_layers.end()),
                           all_probe_layers.end());
    baseline = BaselineRouter::open(opt.compare_model, opt.compare_activations, *model, main_probe,
                                    all_probe_layers);
  }

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

  if (main_probe) result.probe = main_probe->info().to_json();
  const Measurements measurements =
      stream_layers(plan, *model, reference.get(), *backend, log, probes,
                    opt.all_experts_block_bytes, baseline.get());
  result.hypotheses = judge_hypotheses(suite, interval, plan, measurements);
  // Which probe each dynamic hypothesis ran on (its layers' detail.probe adds the tokens used).
  for (std::size_t i = 0; i < result.hypotheses.size(); ++i) {
    const int m = plan.measurement_of[i];
    if (m < 0) continue;
    const int q = plan.measurements[static_cast<std::size_t>(m)].probe;
    if (q >= 0 && probes[static_cast<std::size_t>(q)])
      result.hypotheses[i].probe = probes[static_cast<std::size_t>(q)]->info().to_json();
  }
  return result;
}

}  // namespace moeprobe
