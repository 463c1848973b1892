// Thresholds as a suite writes them ("> 0.5", "in [LO, HI]"): the accepted spellings, the refused
// ones, and numbers of any length read in constant stack.
#include <gtest/gtest.h>

#include "suite/expect.h"

namespace moeprobe {
namespace {

TEST(ParseThreshold, ComparisonsWithAndWithoutBlanks) {
  for (const auto& [text, op, value] : {std::tuple{">= 0.10", Threshold::Op::GE, 0.10},
                                        {"<=-2", Threshold::Op::LE, -2.0},
                                        {"  >  .5  ", Threshold::Op::GT, 0.5},
                                        {"<5.", Threshold::Op::LT, 5.0},
                                        {"> +1e-3", Threshold::Op::GT, 1e-3},
                                        {">=\t2E2", Threshold::Op::GE, 200.0}}) {
    const auto t = parse_threshold(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(t->op, op) << text;
    EXPECT_DOUBLE_EQ(t->value, value) << text;
  }
}

TEST(ParseThreshold, Ranges) {
  const auto t = parse_threshold("in[ -0.02 ,0.02]");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->op, Threshold::Op::In);
  EXPECT_DOUBLE_EQ(t->lo, -0.02);
  EXPECT_DOUBLE_EQ(t->hi, 0.02);
  const auto point = parse_threshold("in [1, 1]");
  ASSERT_TRUE(point);
  EXPECT_DOUBLE_EQ(point->lo, point->hi);
}

TEST(ParseThreshold, RefusesWhatIsNotAThreshold) {
  for (const char* bad : {"", ">", "=> 1", "== 1", "0.5", ">= ten", "> 1 x", "> 1e", "> .", "> 1e+",
                          ">> 1", "in [1]", "in [2, 1]", "in [0, 1", "in [0, 1] x", "into [0, 1]",
                          "> 1e999", "< -1e999", "in [0, 1e400]"})
    EXPECT_FALSE(parse_threshold(bad)) << bad;
}

TEST(ParseThreshold, LongNumbersAreReadWithoutRecursion) {
  // std::regex recursed once per character and overflowed the stack on such inputs.
  const auto t = parse_threshold("> 0." + std::string(1'000'000, '0') + "1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->value, 0.0);  // 1e-1000000 underflows to zero
  const std::string blanks(1'000'000, ' ');
  EXPECT_FALSE(parse_threshold(blanks));
  const auto padded = parse_threshold(blanks + "< 2" + blanks);
  ASSERT_TRUE(padded);
  EXPECT_DOUBLE_EQ(padded->value, 2.0);
}

}  // namespace
}  // namespace moeprobe
