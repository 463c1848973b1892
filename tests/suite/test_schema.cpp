#include <gtest/gtest.h>

#include "suite/schema.h"
#include "tests/suite/fake_metric.h"
#include "util/error.h"

namespace moeprobe {
namespace {

const char* kGood = R"(schema: moeprobe/suite/v1
name: demo
description: a demo
paper: arXiv:2406.18219
defaults:
  layers: moe
  interval: { method: bootstrap, level: 0.9, resamples: 500, seed: 3, over: layers }
hypotheses:
  - id: a1-upcycling-signature
    finding: experts look alike
    reference: { Mixtral-8x7B: 0.3, DeepSeekMoE-16B: 0 }
    metric: expert_weight_similarity
    params: { matrix: all }
    aggregate: mean
    expect: ">= 0.10"
  - id: dip
    metric: expert_weight_similarity
    params: { matrix: all }
    aggregate: { band_ratio: { band: [0.69, 0.94], base: before } }
    expect: "<= 0.9"
    severity: warn
    tolerance: { abs: 0.05 }
  - id: positive
    metric: gate_neuron_r
    params: { matrix: act }
    layers: [0, -1]
    aggregate: { fraction: { op: ">", value: 0 } }
    expect: "in [-0.02, 0.02]"
  - id: ffn
    metric: expert_ffn_similarity
    layers: "2:10:2"
    aggregate: { last_minus_band: { band: last_third } }
    expect: "> 0"
)";

Suite parse(const std::string& text) {
  return parse_suite(text, "demo.yaml", testing::fake_lookup);
}

TEST(Schema, ParsesAValidSuite) {
  const Suite s = parse(kGood);
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.paper, "arXiv:2406.18219");
  EXPECT_DOUBLE_EQ(s.interval.level, 0.9);
  EXPECT_EQ(s.interval.resamples, 500);
  EXPECT_EQ(s.interval.seed, 3u);
  EXPECT_EQ(s.interval.over, IntervalSpec::Over::Layers);
  ASSERT_EQ(s.hypotheses.size(), 4u);
  const auto& h0 = s.hypotheses[0];
  EXPECT_EQ(h0.id, "a1-upcycling-signature");
  EXPECT_EQ(h0.params, (nlohmann::json{{"matrix", "all"}}));
  EXPECT_DOUBLE_EQ(h0.reference.at("Mixtral-8x7B"), 0.3);
  EXPECT_EQ(h0.expect.to_string(), ">= 0.1");
  EXPECT_EQ(h0.layers.kind, LayerSelector::Kind::All);
  EXPECT_EQ(h0.line, 9);
  const auto& h1 = s.hypotheses[1];
  EXPECT_EQ(h1.aggregate.kind, Aggregate::Kind::BandRatio);
  EXPECT_EQ(h1.aggregate.band.kind, Band::Kind::Fractions);
  EXPECT_EQ(h1.severity, Severity::Warn);
  EXPECT_DOUBLE_EQ(h1.tolerance.abs, 0.05);
  EXPECT_DOUBLE_EQ(h1.tolerance.rel, 0.05);
  const auto& h2 = s.hypotheses[2];
  EXPECT_EQ(h2.layers.resolve(5), (std::vector<int>{0, 4}));
  EXPECT_EQ(h2.aggregate.kind, Aggregate::Kind::Fraction);
  EXPECT_EQ(h2.expect.op, Threshold::Op::In);
  const auto& h3 = s.hypotheses[3];
  EXPECT_TRUE(h3.requires_reference_model);  // from the metric
  EXPECT_EQ(h3.aggregate.kind, Aggregate::Kind::LastMinusBand);
}

// Replaces the first occurrence of `from` in the good suite and expects an InputError whose text
// contains every one of `needles`.
void expect_error(const std::string& from, const std::string& to,
                  std::vector<std::string> needles) {
  std::string text = kGood;
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  try {
    parse(text);
    FAIL() << "no error for " << to;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.file(), "demo.yaml");
    for (const auto& n : needles)
      EXPECT_NE(what.find(n), std::string::npos) << "missing \"" << n << "\" in: " << what;
  }
}

TEST(Schema, UnknownKeys) {
  expect_error("description: a demo", "descripton: a demo",
               {"line 3", "descripton", "unknown key", "description"});
  expect_error("    severity: warn", "    severity: warn\n    weight: 2",
               {"line 22", "hypotheses[1].weight", "unknown key"});
  expect_error("method: bootstrap,", "methd: bootstrap,",
               {"defaults.interval.methd", "unknown key"});
}

TEST(Schema, UnknownMetricAndBadParams) {
  expect_error("metric: gate_neuron_r\n", "metric: gate_neuron_rr\n",
               {"line 24", "hypotheses[2].metric", "unknown metric \"gate_neuron_rr\""});
  expect_error("params: { matrix: act }", "params: { matrix: gate }",
               {"line 25", "hypotheses[2]", "params.matrix", "expected act"});
}

TEST(Schema, UnknownOrMalformedAggregate) {
  expect_error("aggregate: mean", "aggregate: average",
               {"line 14", "hypotheses[0].aggregate", "unknown aggregate \"average\""});
  expect_error("band: [0.69, 0.94]", "band: [0.94, 0.69]",
               {"hypotheses[1].aggregate.band_ratio.band", "from <= to"});
  expect_error("band: [0.69, 0.94]", "band: [0.69, 1.5]", {"fractions"});
  expect_error("base: before", "base: after", {"band_ratio.base", "before or rest"});
  expect_error("op: \">\"", "op: \"=>\"", {"fraction.op", "expected one of"});
}

TEST(Schema, BadOperators) {
  for (const char* bad : {"\"=> 0.10\"", "\"0.10\"", "\">= ten\"", "\"in [0.02, -0.02]\"",
                          "\"in [1]\"", "\"== 1\""}) {
    expect_error("expect: \">= 0.10\"", std::string("expect: ") + bad,
                 {"line 15", "hypotheses[0].expect", "expected \">= X\""});
  }
}

TEST(Schema, BadSelectors) {
  expect_error("layers: [0, -1]", "layers: \"0:1:2:3\"",
               {"line 26", "hypotheses[2].layers", "too many"});
  expect_error("layers: [0, -1]", "layers: [0, x]",
               {"hypotheses[2].layers", "expected an integer"});
  expect_error("layers: moe", "layers: early", {"defaults.layers", "expected \"moe\""});
}

TEST(Schema, IdsSeverityRequiresAndTopLevel) {
  expect_error("id: dip", "id: Dip_1", {"hypotheses[1].id", "lowercase"});
  expect_error("id: dip", "id: positive", {"line 23", "duplicate id \"positive\""});
  expect_error("severity: warn", "severity: fatal", {"hypotheses[1].severity", "fail or warn"});
  expect_error("    layers: \"2:10:2\"", "    requires: [gpu]\n    layers: \"2:10:2\"",
               {"requires", "reference_model"});
  expect_error("schema: moeprobe/suite/v1", "schema: moeprobe/suite/v2",
               {"line 1", "schema", "moeprobe/suite/v1"});
  expect_error("    expect: \"> 0\"\n", "\n", {"hypotheses[3].expect", "missing"});
  expect_error("resamples: 500", "resamples: 5", {"defaults.interval.resamples"});
  expect_error("level: 0.9", "level: 95", {"defaults.interval.level", "(0, 1)"});
}

TEST(Schema, MalformedYamlNamesTheLine) {
  try {
    parse("schema: moeprobe/suite/v1\nname: [unclosed\n");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed YAML"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("line"), std::string::npos);
  }
  EXPECT_THROW(parse(""), InputError);
  EXPECT_THROW(parse("schema: moeprobe/suite/v1\nname: x\nhypotheses: []\n"), InputError);
}

}  // namespace
}  // namespace moeprobe
