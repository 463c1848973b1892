// Progress lines: one plain line per step with k/n, rate and ETA (not a terminal); nothing when
// silent or without a sink.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "util/progress.h"

namespace moeprobe {
namespace {

TEST(Progress, PlainLinePerStepWithCountRateAndEta) {
  std::vector<std::string> lines;
  {
    ProgressReporter p([&](const std::string& l) { lines.push_back(l); }, "layers", 3,
                       ProgressMode::Lines);
    p.step("layer 4", 1000, "5 metrics");
    p.step("layer 5", 1000);
    p.step("layer 9", 1000);
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("layer 4 (1/3 layers): 5 metrics, ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("ETA "), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("layer 5 (2/3 layers): ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].find("ETA"), std::string::npos) << lines[2];  // the last step has none
}

TEST(Progress, SilentAndSinklessPrintNothing) {
  std::vector<std::string> lines;
  ProgressReporter quiet([&](const std::string& l) { lines.push_back(l); }, "layers", 2,
                         ProgressMode::Silent);
  quiet.step("layer 0", 10);
  ProgressReporter none({}, "layers", 2, ProgressMode::Live);
  none.step("layer 0", 10);
  EXPECT_TRUE(lines.empty());
}

TEST(Progress, Formats) {
  EXPECT_EQ(format_rate(999), "999 B/s");
  EXPECT_EQ(format_rate(1.5e6), "1.5 MB/s");
  EXPECT_EQ(format_rate(2.5e10), "25 GB/s");
  EXPECT_EQ(format_duration(3.2), "4 s");
  EXPECT_EQ(format_duration(125), "2 min 05 s");
  EXPECT_EQ(format_duration(7260), "2 h 01 min");
}

}  // namespace
}  // namespace moeprobe
