// summary.md: after the table, one collapsed <details> per FAILed or ERRORed hypothesis with its
// per-layer values, outside the table (the table's rows stay one per hypothesis).
#include <gtest/gtest.h>

#include "reports/markdown_report.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(MarkdownDetails, OneCollapsedBlockPerFailingHypothesis) {
  const std::string md = render_markdown(testing::sample_run());
  EXPECT_EQ(count(md, "<details>"), 2u);
  EXPECT_EQ(count(md, "</details>"), 2u);
  const std::size_t fail = md.find("<details><summary>❌ FAIL h-fail: reason &lt;1&gt; &amp; more");
  const std::size_t error = md.find("<details><summary>💥 ERROR h-error");
  ASSERT_NE(fail, std::string::npos) << md;
  ASSERT_NE(error, std::string::npos) << md;
  EXPECT_GT(fail, md.rfind("| "));  // after the table
  // h-fail's per-layer values 0.01, 0.11, 0.21, 0.31 against >= 0.1: the first misses.
  const std::string block = md.substr(fail, error - fail);
  EXPECT_NE(block.find("0      0.01  ✗\n"), std::string::npos) << block;
  EXPECT_NE(block.find("1      0.11\n"), std::string::npos) << block;
  EXPECT_NE(block.find("3      0.31\n"), std::string::npos) << block;
  EXPECT_NE(md.substr(error).find("NaN"), std::string::npos);
  EXPECT_EQ(md.find("h-warn: "), std::string::npos);  // WARN, PASS and the rest: no block
}

}  // namespace
}  // namespace moeprobe
