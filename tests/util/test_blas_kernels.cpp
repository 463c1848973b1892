// The choice of OpenBLAS kernels (util/blas_kernels.h): only a pre-AVX2 kernel set detected on a
// CPU with AVX2 is replaced, and by the best set the CPU runs.
#include "util/blas_kernels.h"

#include <gtest/gtest.h>

namespace moeprobe {
namespace {

TEST(BlasKernels, AFallbackOnAModernCpuIsReplacedByTheBestSetItRuns) {
  const CpuVectorUnits avx512{true, true}, avx2{true, false};
  EXPECT_EQ(better_blas_core("Prescott", avx512), "SkylakeX");
  EXPECT_EQ(better_blas_core("Prescott", avx2), "Haswell");
  EXPECT_EQ(better_blas_core("CORE2", avx512), "SkylakeX");  // OpenBLAS's names vary in case
  EXPECT_EQ(better_blas_core("Sandybridge", avx2), "Haswell");
}

TEST(BlasKernels, ARightOrUnknownChoiceIsKept) {
  const CpuVectorUnits avx512{true, true}, none{false, false};
  for (const char* core :
       {"Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen", "Excavator", "Neoverse", ""})
    EXPECT_FALSE(better_blas_core(core, avx512).has_value()) << core;
  // A CPU without AVX2 really is a Prescott/Sandybridge-class machine.
  EXPECT_FALSE(better_blas_core("Prescott", none).has_value());
  EXPECT_FALSE(better_blas_core("Sandybridge", none).has_value());
}

TEST(BlasKernels, Avx512ImpliesAvx2OnThisMachine) {
  const CpuVectorUnits units = detect_cpu_vector_units();
  if (units.avx512) EXPECT_TRUE(units.avx2_fma);
}

}  // namespace
}  // namespace moeprobe
