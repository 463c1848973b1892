#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "io/dtype.h"

namespace moeprobe {
namespace {

TEST(DType, NamesRoundTrip) {
  for (const char* name : {"F32", "F16", "BF16", "F64", "F8_E4M3", "F8_E5M2", "I64", "BOOL"}) {
    auto t = parse_dtype(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_STREQ(dtype_name(*t), name);
  }
  EXPECT_FALSE(parse_dtype("F12").has_value());
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F8_E4M3), 1u);
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // 1 + 3*2^-8 is halfway too; the even neighbour is above.
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_EQ(bf16_to_float(float_to_bf16(-2.5f)), -2.5f);
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_f16(1e6f), 0x7C00);                   // overflow to +inf
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(f16_to_float(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
}

TEST(DType, F16RoundTripIsExactForEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_f16(f), h) << std::hex << h;
  }
}

TEST(DType, F16RoundingMatchesDoubleNearest) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-70000.0f, 70000.0f);
  for (int i = 0; i < 20000; ++i) {
    const float x = u(rng) * std::ldexp(1.0f, -static_cast<int>(rng() % 30));
    const float y = f16_to_float(float_to_f16(x));
    if (std::isinf(y)) continue;
    // No other half lies strictly closer to x than the one we chose.
    const uint16_t h = float_to_f16(x);
    for (int d : {-1, 1}) {
      const float n = f16_to_float(static_cast<uint16_t>(h + d));
      if (std::isnan(n) || std::isinf(n)) continue;
      EXPECT_LE(std::fabs(double(y) - x), std::fabs(double(n) - x)) << x;
    }
  }
}

TEST(DType, F8E4M3KnownValues) {
  EXPECT_EQ(f8e4m3_to_float(0x38), 1.0f);    // exponent 7, mantissa 0
  EXPECT_EQ(f8e4m3_to_float(0x7E), 448.0f);  // largest finite
  EXPECT_TRUE(std::isnan(f8e4m3_to_float(0x7F)));
  EXPECT_EQ(f8e4m3_to_float(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(f8e4m3_to_float(0xB8), -1.0f);
  EXPECT_EQ(f8e5m2_to_float(0x3C), 1.0f);
}

TEST(DType, ConvertBlocks) {
  std::vector<float> src = {0.5f, -1.25f, 3.0f, 1e-3f, 0.0f};
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
    std::vector<unsigned char> buf(src.size() * dtype_size(t));
    convert_from_float(t, src.data(), buf.data(), src.size());
    std::vector<float> back(src.size());
    std::vector<double> back64(src.size());
    convert_to_float(t, buf.data(), back.data(), src.size());
    convert_to_double(t, buf.data(), back64.data(), src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
      EXPECT_NEAR(back[i], src[i], std::fabs(src[i]) * 8e-3) << dtype_name(t);
      EXPECT_EQ(static_cast<float>(back64[i]), back[i]);
    }
  }
  std::vector<unsigned char> ints(8);
  float out;
  EXPECT_THROW(convert_to_float(DType::I64, ints.data(), &out, 1), std::invalid_argument);
}

}  // namespace
}  // namespace moeprobe
