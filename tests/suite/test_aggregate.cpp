#include <cmath>

#include <gtest/gtest.h>

#include "suite/aggregate.h"

namespace moeprobe {
namespace {

std::vector<LayerPoint> pts(const std::vector<double>& v) {
  std::vector<LayerPoint> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back({static_cast<int>(i), v[i]});
  return out;
}

Aggregate simple(Aggregate::Kind k) {
  Aggregate a;
  a.kind = k;
  return a;
}

TEST(Aggregate, MeanMedianMinMaxSkipNaN) {
  const double nan = std::nan("");
  const auto p = pts({1, 5, nan, 3, 2});
  EXPECT_DOUBLE_EQ(aggregate(simple(Aggregate::Kind::Mean), p, 5), 11.0 / 4);
  EXPECT_DOUBLE_EQ(aggregate(simple(Aggregate::Kind::Median), p, 5), 2.5);
  EXPECT_DOUBLE_EQ(aggregate(simple(Aggregate::Kind::Min), p, 5), 1.0);
  EXPECT_DOUBLE_EQ(aggregate(simple(Aggregate::Kind::Max), p, 5), 5.0);
  std::string why;
  EXPECT_TRUE(std::isnan(aggregate(simple(Aggregate::Kind::Mean), pts({nan, nan}), 2, &why)));
  EXPECT_NE(why.find("no layer"), std::string::npos);
}

TEST(Aggregate, Fraction) {
  Aggregate a = simple(Aggregate::Kind::Fraction);
  a.predicate = *parse_threshold("> 0");
  EXPECT_DOUBLE_EQ(aggregate(a, pts({0.5, -0.1, 0.2, 0.0}), 4), 0.5);
  a.predicate = *parse_threshold(">= 0");
  EXPECT_DOUBLE_EQ(aggregate(a, pts({0.5, -0.1, 0.2, 0.0}), 4), 0.75);
}

TEST(Aggregate, SpearmanVsDepth) {
  Aggregate a = simple(Aggregate::Kind::SpearmanVsDepth);
  EXPECT_NEAR(aggregate(a, pts({0.9, 0.7, 0.5, 0.1}), 4), -1.0, 1e-12);
  EXPECT_NEAR(aggregate(a, pts({0.1, 0.2, 0.15, 0.3}), 4), 0.8, 1e-12);
  std::string why;
  EXPECT_TRUE(std::isnan(aggregate(a, pts({1, 1, 1}), 3, &why)));
  EXPECT_FALSE(why.empty());
}

TEST(Aggregate, BandRatioWithPositionsAndFractions) {
  // 32 layers: 0.3 up to position 21, 0.15 in [22, 30], 0.5 at 31 (the Mixtral-shaped dip).
  std::vector<double> v(32, 0.3);
  for (int i = 22; i <= 30; ++i) v[i] = 0.15;
  v[31] = 0.5;
  Aggregate a = simple(Aggregate::Kind::BandRatio);
  a.band.kind = Band::Kind::Positions;
  a.band.from = 22;
  a.band.to = 30;
  EXPECT_NEAR(aggregate(a, pts(v), 32), 0.5, 1e-12);
  a.base_before = false;  // base = layers 0..21 and 31
  EXPECT_NEAR(aggregate(a, pts(v), 32), 0.15 / ((22 * 0.3 + 0.5) / 23), 1e-12);
  // Fractions [0.69, 0.94] of 32 layers: round(22.08) = 22 .. round(30.08) = 30.
  Aggregate f = simple(Aggregate::Kind::BandRatio);
  f.band.kind = Band::Kind::Fractions;
  f.band.from = 0.69;
  f.band.to = 0.94;
  EXPECT_NEAR(aggregate(f, pts(v), 32), 0.5, 1e-12);
  EXPECT_FALSE(f.band.contains(21, 32));
  EXPECT_TRUE(f.band.contains(22, 32));
  EXPECT_TRUE(f.band.contains(30, 32));
  EXPECT_FALSE(f.band.contains(31, 32));
  // 8 layers: round(5.52) = 6 .. round(7.52) = 8, capped at 6: the last layer stays out.
  EXPECT_TRUE(f.band.contains(6, 8));
  EXPECT_FALSE(f.band.contains(7, 8));
  EXPECT_FALSE(f.band.contains(5, 8));
  // No layer in the band: undefined, with a reason.
  std::string why;
  EXPECT_TRUE(std::isnan(aggregate(a, pts({1, 2, 3}), 3, &why)));
  EXPECT_NE(why.find("band"), std::string::npos);
}

TEST(Aggregate, LastMinusBandAndBandMean) {
  // 10 layers; last third of the 9 before the last = positions 6, 7, 8.
  std::vector<double> v = {0, 0, 0, 0, 0, 0, 0.2, 0.3, 0.4, 0.9};
  Aggregate a = simple(Aggregate::Kind::LastMinusBand);
  EXPECT_TRUE(a.band.kind == Band::Kind::LastThird);
  EXPECT_NEAR(aggregate(a, pts(v), 10), 0.9 - 0.3, 1e-12);
  Aggregate m = simple(Aggregate::Kind::BandMean);
  m.band.kind = Band::Kind::Positions;
  m.band.from = -4;
  m.band.to = -2;
  EXPECT_NEAR(aggregate(m, pts(v), 10), 0.3, 1e-12);
}

TEST(Aggregate, LastMinusBandMedian) {
  // Spec H7b: the last layer minus the median of every layer before it.
  std::vector<double> v = {0.5, 0.1, 0.2, 0.0, 0.9};
  Aggregate a = simple(Aggregate::Kind::LastMinusBand);
  a.band.kind = Band::Kind::Positions;
  a.band.from = 0;
  a.band.to = -2;
  EXPECT_NEAR(aggregate(a, pts(v), 5), 0.9 - 0.2, 1e-12);  // mean of {.5, .1, .2, 0}
  a.band_median = true;
  EXPECT_NEAR(aggregate(a, pts(v), 5), 0.9 - 0.15, 1e-12);
  EXPECT_EQ(a.to_string(), "last_minus_band [0, -2] median");
  EXPECT_EQ(a.to_json().dump(), R"({"last_minus_band":{"band":[0,-2],"statistic":"median"}})");
}

TEST(Aggregate, TextAndJson) {
  Aggregate a = simple(Aggregate::Kind::BandRatio);
  a.band.kind = Band::Kind::Fractions;
  a.band.from = 0.69;
  a.band.to = 0.94;
  EXPECT_EQ(a.to_string(), "band_ratio [0.69, 0.94] / before");
  EXPECT_EQ(a.to_json().dump(), R"({"band_ratio":{"band":[0.69,0.94],"base":"before"}})");
  EXPECT_EQ(simple(Aggregate::Kind::Median).to_json().dump(), "\"median\"");
}

}  // namespace
}  // namespace moeprobe
