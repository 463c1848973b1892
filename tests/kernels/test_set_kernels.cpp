// The CPU backend's block kernels, both the runtime-selected ones (AVX2+FMA where the CPU has
// them) and the portable ones, against float64 computed here on the same float scratch: every
// expert count 1..13 (all tile shapes and remainders of the 4-row grouping) and 60, BF16 loads
// with and without the column-sum side output, and constant positions in the standardisation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/set_kernels.h"
#include "test_tensors.h"

namespace moeprobe {
namespace {

using cpu::SetKernels;

std::vector<const SetKernels*> all_kernels() {
  std::vector<const SetKernels*> k{&cpu::portable_set_kernels()};
  if (&cpu::set_kernels() != &cpu::portable_set_kernels()) k.push_back(&cpu::set_kernels());
  return k;
}

// n rows of `len` (multiple of 8) values with row stride `stride`; every 5th position is equal
// across the rows, and the padding past `real` is zero.
std::vector<float> scratch(int64_t n, int64_t stride, int64_t len, int64_t real, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> x(static_cast<std::size_t>(n * stride), 0.f);
  for (int64_t k = 0; k < real; ++k) {
    const float shared = d(rng);
    for (int64_t a = 0; a < n; ++a) x[a * stride + k] = k % 5 == 0 ? shared : d(rng);
  }
  (void)len;
  return x;
}

TEST(SetKernels, GramMatchesFloat64ForEveryTileShape) {
  for (const SetKernels* kern : all_kernels())
    for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 60}) {
      const int64_t real = 1000, len = 1000, stride = 1008;
      const auto x = scratch(n, stride, len, real, 7 + n);
      std::vector<double> acc(static_cast<std::size_t>(n * n), 0.25);  // adds onto what is there
      kern->gram(x.data(), n, stride, len, acc.data());
      for (int64_t a = 0; a < n; ++a)
        for (int64_t b = 0; b < n; ++b) {
          double want = 0.0, scale = 0.0;
          for (int64_t k = 0; k < len; ++k) {
            want += static_cast<double>(x[a * stride + k]) * x[b * stride + k];
            scale += std::fabs(static_cast<double>(x[a * stride + k]) * x[b * stride + k]);
          }
          if (b < a) {
            EXPECT_EQ(acc[a * n + b], 0.25) << "lower triangle is left alone";
            continue;
          }
          EXPECT_NEAR(acc[a * n + b] - 0.25, want, 1e-6 * scale)
              << kern->name << " n=" << n << " " << a << "," << b;
        }
    }
}

TEST(SetKernels, StandardizeMatchesFloat64AndCountsConstantPositions) {
  for (const SetKernels* kern : all_kernels())
    for (int64_t n : {2, 3, 8, 9, 12, 13, 60}) {
      const int64_t real = 203, len = 208, stride = 224;
      auto x = scratch(n, stride, len, real, 11 + n);
      const auto orig = x;
      const int64_t constant = kern->standardize(x.data(), n, stride, len, real);
      EXPECT_EQ(constant, (real + 4) / 5) << kern->name << " n=" << n;
      for (int64_t k = 0; k < len; ++k) {
        double mean = 0.0, var = 0.0;
        bool flat = true;
        for (int64_t a = 0; a < n; ++a) {
          mean += orig[a * stride + k];
          flat = flat && orig[a * stride + k] == orig[k];
        }
        mean /= static_cast<double>(n);
        for (int64_t a = 0; a < n; ++a)
          var += (orig[a * stride + k] - mean) * (orig[a * stride + k] - mean);
        const double sd = std::sqrt(var / static_cast<double>(n - 1));
        for (int64_t a = 0; a < n; ++a) {
          const double want = flat ? 0.0 : (orig[a * stride + k] - mean) / sd;
          EXPECT_NEAR(x[a * stride + k], want, 2e-5 * (1.0 + std::fabs(want)))
              << kern->name << " n=" << n << " position " << k << " row " << a;
        }
      }
    }
}

TEST(SetKernels, Bf16LoadAndColumnSums) {
  std::mt19937_64 rng(5);
  const auto values = test::gaussian(1037, rng, 0.3f);
  const auto t = test::make_tensor(values, {1037}, DType::BF16);
  std::vector<float> want(values.size());
  convert_to_float(DType::BF16, t->bytes.data(), want.data(), want.size());
  for (const SetKernels* kern : all_kernels()) {
    // Odd offsets and counts exercise the vector body and the scalar tail.
    for (int64_t off : {0, 3, 17})
      for (int64_t count : {1, 15, 16, 33, 1000}) {
        std::vector<float> dst(static_cast<std::size_t>(count), -1.f), sum(dst.size(), 2.f);
        kern->load(DType::BF16, t->bytes.data(), off, count, dst.data(), nullptr);
        for (int64_t i = 0; i < count; ++i) ASSERT_EQ(dst[i], want[off + i]) << kern->name;
        kern->load(DType::BF16, t->bytes.data(), off, count, dst.data(), sum.data());
        for (int64_t i = 0; i < count; ++i) ASSERT_EQ(sum[i], 2.f + want[off + i]) << kern->name;
      }
  }
}

}  // namespace
}  // namespace moeprobe
