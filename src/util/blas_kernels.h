// Which OpenBLAS kernels the process runs, and a fix for the case where OpenBLAS guessed wrong.
//
// Debian 12's OpenBLAS 0.3.21 picks its kernels for the CPU when it is loaded. CPUs newer than the
// library (e.g. Intel family 6 model 207) are not in its table, and it falls back to its SSE3
// "Prescott" kernels: float32 GEMM ~5x slower than with the AVX-512 ones the CPU has, which the
// all-experts pass and the forward pass feel directly. The choice can only be changed through
// OPENBLAS_CORETYPE before the library loads, i.e. by starting the process again.
#pragma once

#include <optional>
#include <string>

namespace moeprobe {

struct CpuVectorUnits {
  bool avx2_fma = false;  // AVX2 and FMA, with the OS saving YMM state
  bool avx512 = false;    // AVX-512 F/DQ/BW/VL, with the OS saving ZMM state
};

CpuVectorUnits detect_cpu_vector_units();

// The kernel set to ask for when OpenBLAS detected `core` on a CPU with `units`: only when `core`
// is one that predates AVX2 (so on an AVX2 CPU it can only be a fallback), the best set the CPU
// runs ("SkylakeX" with AVX-512, else "Haswell"). nullopt: keep what OpenBLAS chose.
std::optional<std::string> better_blas_core(const std::string& core, CpuVectorUnits units);

// The kernel set OpenBLAS runs in this process ("Zen", "SkylakeX", ...), or "" when the BLAS
// linked is not OpenBLAS.
std::string blas_core_name();
// One line for --version and bug reports: OpenBLAS's configuration string, or "not OpenBLAS".
std::string blas_description();

// Called first in main(): when OPENBLAS_CORETYPE is unset and better_blas_core() has a better
// choice, sets OPENBLAS_CORETYPE and executes the program again with the same arguments. A set
// OPENBLAS_CORETYPE (any value, e.g. Prescott) is the user's choice and is never overridden.
// Returns normally when nothing is to be done or the re-execution failed.
void rerun_with_better_blas_kernels(char** argv);

}  // namespace moeprobe
