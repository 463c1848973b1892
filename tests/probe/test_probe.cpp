// Probe activations as a layer input: the activations-file reader's validation (each bad input an
// InputError naming the file and tensor), the synthetic Gaussian probe, the dynamic
// intermediates through compute_layer_statistics (reference vs CPU), and run_suite with a
// dynamic test metric (SKIPPED without a probe, the probe recorded, BOS exclusion that leaves no
// token is bad input).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "metrics/layer_statistics.h"
#include "model/moe_model.h"
#include "probe/activations.h"
#include "probe/probe_source.h"
#include "probe_test_util.h"
#include "suite/runner.h"
#include "suite/schema.h"
#include "util/error.h"

namespace moeprobe {
namespace {

using probetest::ActivationsFile;
using probetest::temp_dir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ActivationsFile, ReadsTensorsAndMetadata) {
  const auto dir = temp_dir("read");
  ActivationsFile a;
  a.write(dir / "acts.safetensors");
  auto p = ProbeActivations::open(dir / "acts.safetensors", 24, {0, 2});
  const ProbeInfo& info = p->info();
  EXPECT_EQ(info.name, "test probe");
  EXPECT_EQ(info.tokens, 8);
  EXPECT_EQ(info.bos_count(), 2);
  EXPECT_EQ(info.sequence_starts, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(info.token_ids[3], 103);
  EXPECT_EQ(info.token_indices(true), (std::vector<int64_t>{1, 2, 3, 5, 6, 7}));
  EXPECT_FALSE(info.synthetic);
  const LayerActivations l2 = p->layer(2);
  ASSERT_EQ(l2.x.shape, (std::vector<int64_t>{8, 24}));
  float v = 0;
  l2.x.read_float(5, 1, &v);
  EXPECT_FLOAT_EQ(v, static_cast<float>(std::sin(0.37 * 5 + 2)));
  EXPECT_EQ(info.to_json().at("bos_tokens"), 2);
}

TEST(ActivationsFile, BadInputNamesFileAndTensor) {
  const auto dir = temp_dir("bad");
  const auto path = dir / "acts.safetensors";
  auto open_with = [&](const ActivationsFile& a, int64_t hidden, std::vector<int> layers) {
    a.write(path);
    return error_of([&] { ProbeActivations::open(path, hidden, layers); });
  };
  ActivationsFile a;
  std::string e = open_with(a, 32, {0});
  EXPECT_TRUE(has(e, path.string()) && has(e, "layers.0.moe_input") && has(e, "hidden size")) << e;
  e = open_with(a, 24, {0, 5});
  EXPECT_TRUE(has(e, "layers.5.moe_input") && has(e, "missing")) << e;
  ActivationsFile nan = a;
  nan.poison = std::nanf("");
  e = open_with(nan, 24, {0});  // layer 1 is not read but is validated too
  EXPECT_TRUE(has(e, "layers.1.moe_input") && has(e, "non-finite") && has(e, "token 3")) << e;
  ActivationsFile inf = a;
  inf.poison = INFINITY;
  EXPECT_TRUE(has(open_with(inf, 24, {1}), "non-finite"));
  ActivationsFile empty = a;
  empty.tokens = 0;
  empty.starts = {};
  e = open_with(empty, 24, {0});
  EXPECT_TRUE(has(e, "no tokens")) << e;
  ActivationsFile nometa = a;
  nometa.metadata = {};
  e = open_with(nometa, 24, {0});
  EXPECT_TRUE(has(e, "moeprobe_activations")) << e;
  ActivationsFile nobos = a;
  nobos.with_bos = false;
  EXPECT_TRUE(has(open_with(nobos, 24, {0}), "bos_mask"));
  ActivationsFile badstarts = a;
  badstarts.starts = {0, 9};
  EXPECT_TRUE(has(open_with(badstarts, 24, {0}), "sequence_starts"));
  ActivationsFile badmask = a;
  badmask.bos = std::vector<uint8_t>(8, 2);
  EXPECT_TRUE(has(open_with(badmask, 24, {0}), "bos_mask"));
  EXPECT_TRUE(has(error_of([&] { ProbeActivations::open(dir / "absent.safetensors", 24, {0}); }),
                  "absent.safetensors"));
}

TEST(ProbeSpec, FromOptionAndSuite) {
  EXPECT_TRUE(probe_spec_from_option("").empty());
  ProbeSpec s = probe_spec_from_option("synthetic:96");
  EXPECT_EQ(s.kind, ProbeSpec::Kind::Synthetic);
  EXPECT_EQ(s.tokens, 96);
  EXPECT_THROW(probe_spec_from_option("synthetic:0"), InputError);
  EXPECT_EQ(probe_spec_from_option("a.safetensors").kind, ProbeSpec::Kind::File);
  s = probe_spec_from_suite({{"activations", "acts.safetensors"}}, "/x/suite.yaml");
  EXPECT_EQ(s.file, std::filesystem::path("/x/acts.safetensors"));
  s = probe_spec_from_suite({{"synthetic", {{"tokens", 40}, {"seed", 2}}}}, "s.yaml");
  EXPECT_EQ(s.tokens, 40);
  EXPECT_EQ(s.seed, 2u);
  EXPECT_THROW(probe_spec_from_suite({{"synthetic", {{"tokenz", 4}}}}, "s.yaml"), InputError);
  EXPECT_TRUE(probe_spec_from_suite({{"text", "hello"}}, "s.yaml").empty());  // not activations
  EXPECT_EQ(probe_spec_from_suite("synthetic", "s.yaml").kind, ProbeSpec::Kind::Synthetic);
}

class TinyModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(temp_dir("model"));
    probetest::tiny_model(*dir_ / "model");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::filesystem::path model_dir() { return *dir_ / "model"; }
  static std::filesystem::path* dir_;
};
std::filesystem::path* TinyModel::dir_ = nullptr;

TEST_F(TinyModel, SyntheticGaussianProbe) {
  auto model = MoeModel::open(model_dir());
  auto p = ProbeActivations::synthetic(*model, 300, 9, 3, true);
  EXPECT_EQ(p->info().name, kSyntheticProbeName);
  EXPECT_EQ(p->info().bos_count(), 3);
  const LayerActivations a = p->layer(1), b = p->layer(1), c = p->layer(2);
  ASSERT_EQ(a.x.shape, (std::vector<int64_t>{300, 24}));
  std::vector<float> va(300 * 24), vb(va.size()), vc(va.size());
  a.x.read_float(0, 300 * 24, va.data());
  b.x.read_float(0, 300 * 24, vb.data());
  c.x.read_float(0, 300 * 24, vc.data());
  EXPECT_EQ(va, vb);  // seeded
  EXPECT_NE(va, vc);  // each layer its own draw
  // synth writes unit norm weights: x ~ N(0, I), the distribution its findings are calibrated on.
  double m = 0, m2 = 0;
  for (float v : va) m += v, m2 += double(v) * v;
  m /= va.size();
  m2 /= va.size();
  EXPECT_NEAR(m, 0.0, 0.05);
  EXPECT_NEAR(m2, 1.0, 0.06);
  EXPECT_THROW(ProbeActivations::synthetic(*model, 0, 1), InputError);
}

TEST_F(TinyModel, DynamicStatisticsReferenceVsCpu) {
  auto model = MoeModel::open(model_dir());
  auto probe = ProbeActivations::synthetic(*model, 23, 4, 2, true);
  const int L = model->config().moe_layers[1];
  const MoeLayer layer = model->layer(L);
  const LayerActivations acts = probe->layer(L);
  const RouterRule rule = make_router_rule(model->config().routing, model->config().num_experts,
                                           model->checkpoint().config(), "config.json");
  LayerInputs in;
  in.layer = &layer;
  in.activations = &acts;
  in.probe = &probe->info();
  in.router_rule = &rule;
  LayerPlan plan;
  plan.add({Intermediate::ExpertOutputs});
  plan.add({Intermediate::ActiveNeurons, MatrixKind::Act, 0, 1e-3});
  plan.add({Intermediate::ActCorrelation});
  ReferenceBackend ref;
  CpuBackend cpu(2);
  const LayerStatistics r = compute_layer_statistics(in, plan, ref);
  const LayerStatistics c = compute_layer_statistics(in, plan, cpu);
  EXPECT_EQ(routing(r).selected, routing(c).selected);
  const AllExpertsStats& er = expert_outputs(r);
  const AllExpertsStats& ec = expert_outputs(c);
  ASSERT_EQ(er.entities, 6);
  for (std::size_t i = 0; i < er.norms.size(); ++i)
    EXPECT_NEAR(ec.norms[i], er.norms[i], 1e-4 * std::max(1.0, er.norms[i]));
  for (std::size_t t = 0; t < 23; ++t) {
    EXPECT_NEAR(ec.chosen_cosine[t], er.chosen_cosine[t], 1e-4);
    EXPECT_NEAR(act_correlation(c)[t], act_correlation(r)[t], 1e-3);
  }
  EXPECT_EQ(active_counts(r, 1e-3).size(), 23u * 6);
  EXPECT_THROW(active_counts(r, 0.5), std::logic_error);  // not planned
  EXPECT_EQ(er.non_bos.tokens, 21);
  EXPECT_EQ(probe_tokens(r, true, "m").size(), 21u);
  // Every token adds one count to each row and column of the rank-count matrix.
  const Matrix rc = rank_count_matrix(r, probe_tokens(r, false, "m"));
  ASSERT_EQ(rc.rows, 6);
  for (int a = 0; a < 6; ++a) {
    double row = 0, col = 0;
    for (int b = 0; b < 6; ++b) row += rc(a, b), col += rc(b, a);
    EXPECT_EQ(row, 23);
    EXPECT_EQ(col, 23);
  }
  const Matrix ms = mean_output_similarity(r, false, true);
  EXPECT_NEAR(ms(2, 2), 1.0, 1e-9);  // diagonal of a mean cosine matrix
  EXPECT_NEAR(ms(0, 1), er.non_bos.cosine(0, 1) / 21, 1e-12);
  // Static intermediates were not planned.
  EXPECT_THROW(router_cosine(r), std::logic_error);
  LayerStatistics none = compute_layer_statistics(in, LayerPlan{}, ref);
  EXPECT_THROW(routing(none), std::logic_error);
  EXPECT_THROW(expert_outputs(none), std::logic_error);
}

// A dynamic metric for the runner tests: the mean over probe tokens (BOS excluded when asked) of
// the per-token mean expert-output cosine.
struct BosParams : ParsedParams {
  bool exclude_bos = false;
};
class MeanOutputCosine : public Metric {
 public:
  std::string name() const override { return "test_mean_output_cosine"; }
  std::string description() const override { return "test"; }
  std::string analysis() const override { return "A8"; }
  std::shared_ptr<const ParsedParams> parse_params(const nlohmann::json& params,
                                                   const std::string&) const override {
    auto p = std::make_shared<BosParams>();
    p->exclude_bos = params.value("exclude_bos", false);
    return p;
  }
  std::vector<Need> needs(const ParsedParams&) const override {
    return {{Intermediate::ExpertOutputs}};
  }
  LayerMeasurement measure(const LayerStatistics& ls, const ParsedParams& p) const override {
    const auto& bp = static_cast<const BosParams&>(p);
    const auto tokens = probe_tokens(ls, bp.exclude_bos, name());
    double s = 0;
    for (int64_t t : tokens) s += expert_outputs(ls).mean_cosine[static_cast<std::size_t>(t)];
    LayerMeasurement m;
    m.value = s / static_cast<double>(tokens.size());
    return m;
  }
};

Suite dynamic_suite(const std::string& probe_yaml, bool exclude_bos) {
  static MeanOutputCosine metric;
  const std::string yaml = "schema: moeprobe/suite/v1\nname: dyn\n" + probe_yaml +
                           "defaults: {interval: {method: none}}\n"
                           "hypotheses:\n  - id: outputs\n    metric: test_mean_output_cosine\n"
                           "    params: {exclude_bos: " +
                           (exclude_bos ? "true" : "false") + "}\n    expect: \"in [-1, 1]\"\n";
  return parse_suite(yaml, "dyn.yaml", [](const std::string& n) -> const Metric* {
    return n == "test_mean_output_cosine" ? &metric : nullptr;
  });
}

TEST_F(TinyModel, RunSuiteWithAndWithoutProbe) {
  RunOptions opt;
  opt.model_dir = model_dir();
  opt.device = "cpu";
  RunResult r = run_suite(dynamic_suite("", false), opt);
  ASSERT_EQ(r.hypotheses.size(), 1u);
  EXPECT_EQ(r.hypotheses[0].outcome, Outcome::Skipped);
  EXPECT_TRUE(has(r.hypotheses[0].reason, "probe activations")) << r.hypotheses[0].reason;
  EXPECT_TRUE(r.probe.is_null());

  r = run_suite(dynamic_suite("probe: {synthetic: {tokens: 16, seed: 1}}\n", false), opt);
  EXPECT_EQ(r.hypotheses[0].outcome, Outcome::Pass) << r.hypotheses[0].reason;
  EXPECT_EQ(r.probe.at("name"), kSyntheticProbeName);
  EXPECT_EQ(r.probe.at("tokens"), 16);
  EXPECT_EQ(r.hypotheses[0].per_layer.size(), 3u);

  // The same through --activations, on a file: BOS excluded from a probe of BOS tokens only is
  // bad input naming the probe.
  const auto dir = temp_dir("run");
  ActivationsFile a;
  a.tokens = 2;
  a.starts = {0, 1};
  a.write(dir / "bos_only.safetensors");
  opt.activations = (dir / "bos_only.safetensors").string();
  r = run_suite(dynamic_suite("", false), opt);
  EXPECT_EQ(r.probe.at("bos_tokens"), 2);
  const std::string e = error_of([&] { run_suite(dynamic_suite("", true), opt); });
  EXPECT_TRUE(has(e, "no tokens after excluding") && has(e, "test probe")) << e;
}

// Hypotheses may name their own probe: each distinct probe is opened once, every hypothesis's
// result names the probe it ran on, --activations replaces them all, and a hypothesis whose probe
// is unavailable (a text probe nobody captured) is SKIPPED while the others run.
TEST_F(TinyModel, ProbePerHypothesis) {
  static MeanOutputCosine metric;
  const std::string yaml =
      "schema: moeprobe/suite/v1\nname: dyn\nprobe: {synthetic: {tokens: 16, seed: 1}}\n"
      "defaults: {interval: {method: none}}\nhypotheses:\n"
      "  - {id: suite-probe, metric: test_mean_output_cosine, expect: \"in [-1, 1]\"}\n"
      "  - {id: own-probe, metric: test_mean_output_cosine, expect: \"in [-1, 1]\",\n"
      "     probe: {synthetic: {tokens: 8, seed: 2}}}\n"
      "  - {id: same-own-probe, metric: test_mean_output_cosine, expect: \"in [-1, 1]\",\n"
      "     params: {exclude_bos: false}, probe: {synthetic: {tokens: 8, seed: 2}}}\n"
      "  - {id: text-probe, metric: test_mean_output_cosine, expect: \"in [-1, 1]\",\n"
      "     probe: short}\n";
  const Suite suite = parse_suite(yaml, "dyn.yaml", [](const std::string& n) -> const Metric* {
    return n == "test_mean_output_cosine" ? &metric : nullptr;
  });
  EXPECT_TRUE(suite.hypotheses[0].probe.is_null());
  EXPECT_EQ(suite.probe_of(suite.hypotheses[3]), "short");
  RunOptions opt;
  opt.model_dir = model_dir();
  opt.device = "cpu";
  RunResult r = run_suite(suite, opt);
  ASSERT_EQ(r.hypotheses.size(), 4u);
  EXPECT_EQ(r.hypotheses[0].outcome, Outcome::Pass) << r.hypotheses[0].reason;
  EXPECT_EQ(r.hypotheses[0].probe.at("tokens"), 16);
  EXPECT_EQ(r.hypotheses[1].probe.at("tokens"), 8);
  EXPECT_EQ(r.hypotheses[1].probe.at("seed"), 2);
  EXPECT_EQ(r.hypotheses[2].probe.at("tokens"), 8);
  EXPECT_NE(r.hypotheses[0].value, r.hypotheses[1].value);  // other tokens, other value
  EXPECT_EQ(r.hypotheses[1].value, r.hypotheses[2].value);
  EXPECT_EQ(r.hypotheses[3].outcome, Outcome::Skipped);
  EXPECT_TRUE(has(r.hypotheses[3].reason, "probe activations")) << r.hypotheses[3].reason;
  EXPECT_EQ(r.probe.at("tokens"), 16);  // the first probe read

  opt.activations = "synthetic:12";
  r = run_suite(suite, opt);
  for (const auto& h : r.hypotheses) {
    EXPECT_EQ(h.outcome, Outcome::Pass) << h.id << ": " << h.reason;
    EXPECT_EQ(h.probe.at("tokens"), 12) << h.id;
  }
}

}  // namespace
}  // namespace moeprobe
