#include <gtest/gtest.h>

#include "suite/layer_select.h"

namespace moeprobe {
namespace {

std::vector<int> sel(const std::string& s, int n) {
  std::string err;
  auto p = parse_layer_selector(s, &err);
  EXPECT_TRUE(p.has_value()) << s << ": " << err;
  if (!p) return {};
  std::string rerr;
  auto out = p->resolve(n, &rerr);
  EXPECT_TRUE(rerr.empty()) << s << ": " << rerr;
  return out;
}

TEST(LayerSelect, AllAndMoe) {
  EXPECT_EQ(sel("moe", 4), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(sel("all", 3), (std::vector<int>{0, 1, 2}));
}

TEST(LayerSelect, PythonSlices) {
  EXPECT_EQ(sel("0:-1", 5), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(sel("2:10:2", 12), (std::vector<int>{2, 4, 6, 8}));
  EXPECT_EQ(sel("::3", 7), (std::vector<int>{0, 3, 6}));
  EXPECT_EQ(sel("-2:", 5), (std::vector<int>{3, 4}));
  EXPECT_EQ(sel("3:100", 5), (std::vector<int>{3, 4}));    // clamped like Python
  EXPECT_EQ(sel("::-1", 3), (std::vector<int>{0, 1, 2}));  // negative step: same set, ascending
  EXPECT_EQ(sel("4:1:-2", 6), (std::vector<int>{2, 4}));
  EXPECT_TRUE(sel("3:1", 5).empty());
}

TEST(LayerSelect, PositionsAndLists) {
  EXPECT_EQ(sel("-1", 32), (std::vector<int>{31}));
  EXPECT_EQ(sel("0", 32), (std::vector<int>{0}));
  EXPECT_EQ(sel("[3, 7, 11]", 32), (std::vector<int>{3, 7, 11}));
  EXPECT_EQ(sel("[0, -1]", 27), (std::vector<int>{0, 26}));
  EXPECT_EQ(sel("[1, 1, -3]", 4), (std::vector<int>{1}));  // unique
}

TEST(LayerSelect, OutOfRangeListIsAnError) {
  auto p = parse_layer_selector("[0, 40]", nullptr);
  ASSERT_TRUE(p);
  std::string err;
  EXPECT_TRUE(p->resolve(32, &err).empty());
  EXPECT_NE(err.find("40"), std::string::npos);
  EXPECT_NE(err.find("32"), std::string::npos);
}

TEST(LayerSelect, MalformedSelectorsAreRejected) {
  for (const char* bad :
       {"", "layers", "1:2:3:4", "a:b", "[1, x]", "[1, 2", "[]", "1:2:0", "1.5", "moe!"}) {
    std::string err;
    EXPECT_FALSE(parse_layer_selector(bad, &err).has_value()) << bad;
    EXPECT_NE(err.find("expected"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace moeprobe
