#include "suite/runner.h"

#include <chrono>
#include <map>
#include <set>

#include "kernels/backend.h"
#include "metrics/metric.h"
#include "model/moe_model.h"
#include "suite/evaluate.h"
#include "util/error.h"

namespace moeprobe {

namespace {

// One distinct measurement the suite needs: the same metric with the same params is measured
// once per layer even when several hypotheses read it.
struct Job {
  const Metric* metric = nullptr;
  nlohmann::json params;
  std::set<int> positions;
  std::map<int, LayerMeasurement> results;  // by position
  std::string error;                        // first failure, with its layer
};

std::string job_key(const Hypothesis& h) {
  return h.metric + " " + h.params.dump();
}

}  // namespace

RunResult run_suite(const Suite& suite, const RunOptions& opt) {
  auto log = [&](const std::string& line) {
    if (opt.log) *opt.log << "moeprobe: " << line << "\n" << std::flush;
  };

  auto model = MoeModel::open(opt.model_dir);
  std::unique_ptr<MoeModel> reference;
  if (!opt.reference_model.empty()) reference = MoeModel::open(opt.reference_model);
  const ModelConfig& cfg = model->config();
  const int n = static_cast<int>(cfg.moe_layers.size());

  std::vector<int> restrict_to;
  bool restricted = false;
  if (!opt.layers.empty()) {
    std::string err;
    auto sel = parse_layer_selector(opt.layers, &err);
    if (!sel) throw InputError("--layers", opt.layers, err);
    restrict_to = sel->resolve(n, &err);
    if (!err.empty()) throw InputError("--layers", opt.layers, err);
    restricted = true;
  }

  std::string notice;
  auto backend = make_backend(opt.device, &notice);
  if (!notice.empty() && opt.log) *opt.log << notice << "\n";

  IntervalSpec interval = suite.interval;
  if (opt.seed) interval.seed = *opt.seed;

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
  result.environment = {MOEPROBE_VERSION, MOEPROBE_GIT_REVISION, backend->name(),
                        backend->device()};

  // Plan: which hypotheses run, on which positions, through which job.
  std::map<std::string, Job> jobs;
  std::vector<std::optional<HypothesisResult>> early(suite.hypotheses.size());
  std::vector<std::vector<int>> selected(suite.hypotheses.size());
  for (std::size_t i = 0; i < suite.hypotheses.size(); ++i) {
    const Hypothesis& h = suite.hypotheses[i];
    const Metric* metric = find_metric(h.metric);
    if (!metric) {
      early[i] = unmeasured_result(h, interval, Outcome::Error, "unknown metric " + h.metric);
      continue;
    }
    if ((h.requires_reference_model || metric->needs_reference_model()) && !reference) {
      early[i] = unmeasured_result(h, interval, Outcome::Skipped,
                                   "needs --reference-model (a dense reference model)");
      continue;
    }
    std::string err;
    std::vector<int> pos = h.layers.resolve(n, &err);
    if (!err.empty()) {
      early[i] = unmeasured_result(h, interval, Outcome::Skipped,
                                   "not applicable: layers \"" + h.layers.text + "\": " + err);
      continue;
    }
    if (restricted) {
      std::vector<int> kept;
      for (int p : pos)
        if (std::find(restrict_to.begin(), restrict_to.end(), p) != restrict_to.end())
          kept.push_back(p);
      pos = kept;
    }
    if (pos.empty()) {
      early[i] = unmeasured_result(h, interval, Outcome::Skipped,
                                   "not applicable: no MoE layer selected by \"" + h.layers.text +
                                       "\"" + (restricted ? " within --layers " + opt.layers : ""));
      continue;
    }
    Job& job = jobs[job_key(h)];
    job.metric = metric;
    job.params = h.params;
    job.positions.insert(pos.begin(), pos.end());
    selected[i] = pos;
  }

  std::set<int> all_positions;
  for (const auto& [key, job] : jobs)
    all_positions.insert(job.positions.begin(), job.positions.end());

  // Stream the layers.
  int done = 0;
  for (int position : all_positions) {
    const auto t0 = std::chrono::steady_clock::now();
    const int decoder_layer = cfg.moe_layers[static_cast<std::size_t>(position)];
    MoeLayer layer = model->layer(decoder_layer);
    std::optional<ExpertWeights> ffn;
    if (reference) ffn = reference->dense_ffn(decoder_layer);
    LayerContext ctx;
    ctx.model = model.get();
    ctx.layer = &layer;
    ctx.position = position;
    ctx.num_moe_layers = n;
    ctx.reference_ffn = ffn ? &*ffn : nullptr;
    ctx.backend = backend.get();
    // The kind passes share the cache, so they must serve every metric measured here.
    ctx.needs = StatNeeds::none();
    for (const auto& [key, job] : jobs)
      if (job.positions.count(position) && job.error.empty())
        ctx.needs |= job.metric->needs(job.params);
    int measured = 0;
    for (auto& [key, job] : jobs) {
      if (!job.positions.count(position) || !job.error.empty()) continue;
      // No catch: bad input (InputError: a NaN weight, a mismatched reference) ends the run with
      // exit 2 and no report; anything else is a bug (exit 3).
      LayerMeasurement m = job.metric->measure(ctx, job.params);
      m.layer = decoder_layer;
      job.results[position] = std::move(m);
      ++measured;
    }
    ++done;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log("layer " + std::to_string(decoder_layer) + " (" + std::to_string(done) + "/" +
        std::to_string(all_positions.size()) + "): " + std::to_string(measured) + " metrics in " +
        std::to_string(secs).substr(0, 5) + " s");
  }

  // Judge.
  for (std::size_t i = 0; i < suite.hypotheses.size(); ++i) {
    const Hypothesis& h = suite.hypotheses[i];
    if (early[i]) {
      result.hypotheses.push_back(*early[i]);
      continue;
    }
    const Job& job = jobs.at(job_key(h));
    if (!job.error.empty()) {
      result.hypotheses.push_back(unmeasured_result(h, interval, Outcome::Error, job.error));
      continue;
    }
    std::vector<PositionedMeasurement> ms;
    for (int p : selected[i]) ms.push_back({p, job.results.at(p)});
    result.hypotheses.push_back(evaluate_hypothesis(h, interval, ms, n));
  }
  return result;
}

}  // namespace moeprobe
