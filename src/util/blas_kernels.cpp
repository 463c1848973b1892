#include "util/blas_kernels.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace moeprobe {

CpuVectorUnits detect_cpu_vector_units() {
  CpuVectorUnits units;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return units;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return units;
  // XCR0: which register state the OS saves on a context switch (XMM|YMM = 0x6, + opmask and
  // ZMM = 0xe6); an instruction set without its state saved cannot be used.
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return units;
  const bool avx2 = b & (1u << 5);
  const bool avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));
  units.avx2_fma = (xcr0_lo & 0x6u) == 0x6u && avx2 && fma;
  units.avx512 = units.avx2_fma && (xcr0_lo & 0xe6u) == 0xe6u && avx512;
#endif
  return units;
}

std::optional<std::string> better_blas_core(const std::string& core, CpuVectorUnits units) {
  // OpenBLAS's names for kernel sets of CPUs without AVX2.
  static const std::array<const char*, 16> pre_avx2 = {
      "katmai",    "coppermine", "northwood",  "prescott",   "banias",      "core2",
      "penryn",    "dunnington", "nehalem",    "atom",       "sandybridge", "opteron",
      "barcelona", "bulldozer",  "piledriver", "steamroller"};
  std::string lower = core;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool fallback = std::find(pre_avx2.begin(), pre_avx2.end(), lower) != pre_avx2.end();
  if (!fallback || !units.avx2_fma) return std::nullopt;
  return std::string(units.avx512 ? "SkylakeX" : "Haswell");
}

namespace {

// OpenBLAS's own query functions, looked up at run time: the BLAS linked may be another one.
const char* openblas_string(const char* function) {
  using Query = char* (*)();
  auto* query = reinterpret_cast<Query>(dlsym(RTLD_DEFAULT, function));
  return query ? query() : nullptr;
}

}  // namespace

std::string blas_core_name() {
  const char* name = openblas_string("openblas_get_corename");
  return name ? name : "";
}

std::string blas_description() {
  const char* config = openblas_string("openblas_get_config");
  if (!config) return "not OpenBLAS";
  std::string core = blas_core_name();
  return std::string(config) + " (running its " + core + " kernels)";
}

void rerun_with_better_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  // MOEPROBE_ASSUME_BLAS_CORE stands in for OpenBLAS's detection, so that the re-execution can be
  // tested on a machine OpenBLAS knows (tests/cli/test_cli_registry.cpp).
  const char* assumed = std::getenv("MOEPROBE_ASSUME_BLAS_CORE");
  const std::optional<std::string> better =
      better_blas_core(assumed ? assumed : blas_core_name(), detect_cpu_vector_units());
  if (!better) return;
  // Set even if exec fails: nothing below reads it, and a child process would skip the check.
  setenv("OPENBLAS_CORETYPE", better->c_str(), 1);
  execv("/proc/self/exe", argv);
}

}  // namespace moeprobe
