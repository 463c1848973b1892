#include <gtest/gtest.h>

#include "perf/thresholds.h"
#include "util/error.h"

namespace moeprobe::perf {
namespace {

TEST(Thresholds, DefaultsAndOverridesInOrder) {
  const Thresholds t = parse_thresholds(R"(alpha: 0.01
time: cpu_time
default:
  threshold: 0.05
  min_effect_ns: 100
  higher_is_better: [bytes_per_second]
overrides:
  - glob: "BM_Small/*"
    threshold: 0.2
  - regex: "^BM_Small/1$"
    min_effect_ns: 5000
    lower_is_better: [x_read]
)",
                                        "t.yaml");
  EXPECT_DOUBLE_EQ(t.alpha, 0.01);
  EXPECT_EQ(t.time, TimeField::Cpu);
  const GateRule other = t.rule_for("BM_Big/1");
  EXPECT_DOUBLE_EQ(other.threshold, 0.05);
  EXPECT_DOUBLE_EQ(other.min_effect_ns, 100);
  EXPECT_EQ(other.higher_is_better, std::vector<std::string>{"bytes_per_second"});
  const GateRule small2 = t.rule_for("BM_Small/2");
  EXPECT_DOUBLE_EQ(small2.threshold, 0.2);
  EXPECT_DOUBLE_EQ(small2.min_effect_ns, 100);
  const GateRule small1 = t.rule_for("BM_Small/1");
  EXPECT_DOUBLE_EQ(small1.threshold, 0.2);
  EXPECT_DOUBLE_EQ(small1.min_effect_ns, 5000);
  EXPECT_EQ(small1.lower_is_better, std::vector<std::string>{"x_read"});
  EXPECT_EQ(small1.higher_is_better, std::vector<std::string>{"bytes_per_second"});
}

TEST(Thresholds, GlobTranslation) {
  EXPECT_EQ(glob_to_regex("BM_A<x>/*"), "^BM_A<x>/.*$");
  EXPECT_EQ(glob_to_regex("a.b?[0-9]"), "^a\\.b.[0-9]$");
}

// The error names the file, the key path and its line, as every YAML input of moeprobe does.
void expect_error(const std::string& yaml, const std::string& field_part) {
  try {
    parse_thresholds(yaml, "bad.yaml");
    FAIL() << "no error for:\n" << yaml;
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "bad.yaml");
    EXPECT_NE(std::string(e.what()).find(field_part), std::string::npos) << e.what();
  }
}

TEST(Thresholds, StrictErrorsNameLineAndKey) {
  expect_error("alpha: 0.05\ndefault:\n  treshold: 0.1\n", "default.treshold: line 3: unknown key");
  expect_error("alpha: 2\n", "alpha");
  expect_error("time: wall\n", "time");
  expect_error("default:\n  threshold: fast\n", "default.threshold");
  expect_error("overrides:\n  - threshold: 0.1\n", "overrides[0]");
  expect_error("overrides:\n  - glob: a\n    regex: b\n", "overrides[0]");
  expect_error("overrides:\n  - regex: \"([\"\n", "overrides[0].regex: line 2: invalid pattern");
  expect_error("default:\n  higher_is_better: bytes\n", "default.higher_is_better");
  expect_error("alpha: [\n", "line");
  expect_error("speed: 1\n", "speed");
}

}  // namespace
}  // namespace moeprobe::perf
