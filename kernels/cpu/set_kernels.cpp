#include "kernels/cpu/set_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define MOEPROBE_HAVE_AVX2_KERNELS 1
#include <immintrin.h>
#endif

namespace moeprobe::cpu {

namespace {

// ---- portable ---------------------------------------------------------------------------------

// BF16 and F32 inline (a shift, a copy) because they dominate real checkpoints; the rest goes
// through io/dtype.
void load_portable(DType dtype, const unsigned char* base, int64_t offset, int64_t count,
                   float* dst, float* sum) {
  const unsigned char* src = base + static_cast<std::size_t>(offset) * dtype_size(dtype);
  if (dtype == DType::F32) {
    std::memcpy(dst, src, static_cast<std::size_t>(count) * sizeof(float));
  } else if (dtype == DType::BF16) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      const uint32_t w = static_cast<uint32_t>(h) << 16;
      std::memcpy(dst + i, &w, 4);
    }
  } else {
    convert_to_float(dtype, src, dst, static_cast<std::size_t>(count));
  }
  if (sum)
    for (int64_t i = 0; i < count; ++i) sum[i] += dst[i];
}

// 8 independent float lanes per sum, so the compiler vectorises without reassociating.
constexpr int kLanes = 8;

void gram_portable(const float* x, int64_t n, int64_t stride, int64_t len, double* acc) {
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a; b < n; ++b) {
      const float* p = x + a * stride;
      const float* q = x + b * stride;
      float s[kLanes] = {};
      for (int64_t k = 0; k < len; k += kLanes)
        for (int l = 0; l < kLanes; ++l) s[l] += p[k + l] * q[k + l];
      float t = 0.f;
      for (float v : s) t += v;
      acc[a * n + b] += t;
    }
}

int64_t standardize_portable(float* x, int64_t n, int64_t stride, int64_t len, int64_t real) {
  const float inv_n = 1.f / static_cast<float>(n), inv_n1 = 1.f / static_cast<float>(n - 1);
  int64_t constant = 0;
  for (int64_t k = 0; k < len; ++k) {
    const float x0 = x[k];
    float sum = 0.f;
    bool flat = true;
    for (int64_t a = 0; a < n; ++a) {
      sum += x[a * stride + k];
      flat = flat && x[a * stride + k] == x0;
    }
    const float mean = sum * inv_n;
    float var = 0.f;
    for (int64_t a = 0; a < n; ++a) var += (x[a * stride + k] - mean) * (x[a * stride + k] - mean);
    const float inv = flat ? 0.f : 1.f / std::sqrt(var * inv_n1);
    for (int64_t a = 0; a < n; ++a) x[a * stride + k] = (x[a * stride + k] - mean) * inv;
    constant += (flat && k < real) ? 1 : 0;
  }
  return constant;
}

const SetKernels kPortable{load_portable, gram_portable, standardize_portable, "portable"};

// ---- AVX2 + FMA -------------------------------------------------------------------------------
#ifdef MOEPROBE_HAVE_AVX2_KERNELS
#define MOEPROBE_AVX2 __attribute__((target("avx2,fma")))

MOEPROBE_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 8 BF16 values to float: the 16 bits become the high half of each float.
MOEPROBE_AVX2 inline __m256 widen(const unsigned char* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

MOEPROBE_AVX2 void load_avx2(DType dtype, const unsigned char* base, int64_t offset, int64_t count,
                             float* dst, float* sum) {
  if (dtype != DType::BF16) {
    load_portable(dtype, base, offset, count, dst, sum);
    return;
  }
  const unsigned char* src = base + static_cast<std::size_t>(offset) * 2;
  int64_t i = 0;
  if (sum) {
    for (; i + 16 <= count; i += 16) {
      const __m256 v0 = widen(src + 2 * i), v1 = widen(src + 2 * i + 16);
      _mm256_storeu_ps(dst + i, v0);
      _mm256_storeu_ps(dst + i + 8, v1);
      _mm256_storeu_ps(sum + i, _mm256_add_ps(_mm256_loadu_ps(sum + i), v0));
      _mm256_storeu_ps(sum + i + 8, _mm256_add_ps(_mm256_loadu_ps(sum + i + 8), v1));
    }
  } else {
    for (; i + 16 <= count; i += 16) {
      _mm256_storeu_ps(dst + i, widen(src + 2 * i));
      _mm256_storeu_ps(dst + i + 8, widen(src + 2 * i + 16));
    }
  }
  if (i < count) load_portable(dtype, src, i, count - i, dst + i, sum ? sum + i : nullptr);
}

// Register tiles: RA x RB accumulators for rows a[] against rows b[] (RA*RB + RA <= 14 of the 16
// ymm registers), and the upper triangle of R rows against themselves. Every accumulator is its
// own dependency chain, so 8-12 of them hide the FMA latency.
template <int RA, int RB>
MOEPROBE_AVX2 void rect_tile(const float* const* a, const float* const* b, int64_t len,
                             float* out) {
  const float* pa[RA];
  const float* pb[RB];
  for (int i = 0; i < RA; ++i) pa[i] = a[i];
  for (int j = 0; j < RB; ++j) pb[j] = b[j];
  __m256 acc[RA][RB];
  for (int i = 0; i < RA; ++i)
    for (int j = 0; j < RB; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < len; k += 8) {
    __m256 va[RA];
    for (int i = 0; i < RA; ++i) va[i] = _mm256_loadu_ps(pa[i] + k);
    for (int j = 0; j < RB; ++j) {
      const __m256 vb = _mm256_loadu_ps(pb[j] + k);
      for (int i = 0; i < RA; ++i) acc[i][j] = _mm256_fmadd_ps(va[i], vb, acc[i][j]);
    }
  }
  for (int i = 0; i < RA; ++i)
    for (int j = 0; j < RB; ++j) out[i * RB + j] = hsum(acc[i][j]);
}

template <int R>
MOEPROBE_AVX2 void tri_tile(const float* const* a, int64_t len, float* out) {
  const float* pa[R];
  for (int i = 0; i < R; ++i) pa[i] = a[i];
  __m256 acc[R * (R + 1) / 2];
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t k = 0; k < len; k += 8) {
    __m256 va[R];
    for (int i = 0; i < R; ++i) va[i] = _mm256_loadu_ps(pa[i] + k);
    int t = 0;
    for (int i = 0; i < R; ++i)
      for (int j = i; j < R; ++j, ++t) acc[t] = _mm256_fmadd_ps(va[i], va[j], acc[t]);
  }
  int t = 0;
  for (int i = 0; i < R; ++i)
    for (int j = i; j < R; ++j, ++t) out[t] = hsum(acc[t]);
}

// Rows are taken in groups of 4: the 4x4 triangle of a group (10 accumulators), each later group
// as two 4x2 tiles, and the n % 4 leftover rows as 4xr tiles and one small triangle. For N = 8
// that is exactly the 36 distinct products per position, with no wasted FMA.
MOEPROBE_AVX2 void gram_avx2(const float* x, int64_t n, int64_t stride, int64_t len, double* acc) {
  const int64_t full = n / 4 * 4, rest = n - full;
  auto row = [&](int64_t a) { return x + a * stride; };
  float t[16];
  for (int64_t a0 = 0; a0 < full; a0 += 4) {
    const float* pa[4] = {row(a0), row(a0 + 1), row(a0 + 2), row(a0 + 3)};
    tri_tile<4>(pa, len, t);
    for (int i = 0, q = 0; i < 4; ++i)
      for (int j = i; j < 4; ++j, ++q) acc[(a0 + i) * n + a0 + j] += t[q];
    auto add_rect = [&](int64_t b0, int rb) {
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < rb; ++j) acc[(a0 + i) * n + b0 + j] += t[i * rb + j];
    };
    int64_t b0 = a0 + 4;
    for (; b0 + 2 <= n; b0 += 2) {
      const float* pb[2] = {row(b0), row(b0 + 1)};
      rect_tile<4, 2>(pa, pb, len, t);
      add_rect(b0, 2);
    }
    if (b0 < n) {
      const float* pb[1] = {row(b0)};
      rect_tile<4, 1>(pa, pb, len, t);
      add_rect(b0, 1);
    }
  }
  if (rest > 0) {
    const float* pr[3] = {row(full), row(full + (rest > 1)), row(full + 2 * (rest > 2))};
    if (rest == 1) tri_tile<1>(pr, len, t);
    if (rest == 2) tri_tile<2>(pr, len, t);
    if (rest == 3) tri_tile<3>(pr, len, t);
    for (int64_t i = 0, q = 0; i < rest; ++i)
      for (int64_t j = i; j < rest; ++j, ++q) acc[(full + i) * n + full + j] += t[q];
  }
}

// 1/sqrt(v) to ~1 ulp: the 12-bit hardware estimate and one Newton step (vsqrtps + vdivps cost
// more than the whole Gram of a position on some cores). v = 0 gives NaN, masked by the caller.
MOEPROBE_AVX2 inline __m256 rsqrt_nr(__m256 v) {
  const __m256 y = _mm256_rsqrt_ps(v);
  const __m256 hv = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
  return _mm256_mul_ps(y, _mm256_fnmadd_ps(_mm256_mul_ps(hv, y), y, _mm256_set1_ps(1.5f)));
}

// Constant positions among the first `valid` (<= 8) lanes.
MOEPROBE_AVX2 inline int64_t count_flat(__m256 differs, int64_t valid) {
  const unsigned mask = (1u << std::clamp<int64_t>(valid, 0, 8)) - 1;
  return __builtin_popcount(~static_cast<unsigned>(_mm256_movemask_ps(differs)) & mask);
}

// N known at compile time (N <= 12): the N values of 8 positions stay in registers across the
// mean, variance and z passes.
template <int N>
MOEPROBE_AVX2 int64_t standardize_fixed(float* x, int64_t stride, int64_t len, int64_t real) {
  const __m256 inv_n = _mm256_set1_ps(1.f / N), inv_n1 = _mm256_set1_ps(1.f / (N - 1));
  int64_t constant = 0;
  for (int64_t k = 0; k < len; k += 8) {
    float* p = x + k;
    __m256 v[N];
    for (int a = 0; a < N; ++a) v[a] = _mm256_loadu_ps(p + a * stride);
    __m256 sum = v[0], differs = _mm256_setzero_ps();
    for (int a = 1; a < N; ++a) {
      sum = _mm256_add_ps(sum, v[a]);
      differs = _mm256_or_ps(differs, _mm256_cmp_ps(v[a], v[0], _CMP_NEQ_UQ));
    }
    const __m256 mean = _mm256_mul_ps(sum, inv_n);
    __m256 var = _mm256_setzero_ps();
    for (int a = 0; a < N; ++a) {
      v[a] = _mm256_sub_ps(v[a], mean);
      var = _mm256_fmadd_ps(v[a], v[a], var);
    }
    const __m256 inv = _mm256_and_ps(differs, rsqrt_nr(_mm256_mul_ps(var, inv_n1)));
    for (int a = 0; a < N; ++a) _mm256_storeu_ps(p + a * stride, _mm256_mul_ps(v[a], inv));
    constant += count_flat(differs, real - k);
  }
  return constant;
}

MOEPROBE_AVX2 int64_t standardize_avx2(float* x, int64_t n, int64_t stride, int64_t len,
                                       int64_t real) {
  switch (n) {
    case 2:
      return standardize_fixed<2>(x, stride, len, real);
    case 3:
      return standardize_fixed<3>(x, stride, len, real);
    case 4:
      return standardize_fixed<4>(x, stride, len, real);
    case 5:
      return standardize_fixed<5>(x, stride, len, real);
    case 6:
      return standardize_fixed<6>(x, stride, len, real);
    case 7:
      return standardize_fixed<7>(x, stride, len, real);
    case 8:
      return standardize_fixed<8>(x, stride, len, real);
    case 9:
      return standardize_fixed<9>(x, stride, len, real);
    case 10:
      return standardize_fixed<10>(x, stride, len, real);
    case 11:
      return standardize_fixed<11>(x, stride, len, real);
    case 12:
      return standardize_fixed<12>(x, stride, len, real);
    default:
      break;
  }
  // Larger sets: three passes over the (cache-resident) scratch.
  const __m256 inv_n = _mm256_set1_ps(1.f / static_cast<float>(n));
  const __m256 inv_n1 = _mm256_set1_ps(1.f / static_cast<float>(n - 1));
  int64_t constant = 0;
  for (int64_t k = 0; k < len; k += 8) {
    float* p = x + k;
    const __m256 x0 = _mm256_loadu_ps(p);
    __m256 sum = x0, differs = _mm256_setzero_ps();
    for (int64_t a = 1; a < n; ++a) {
      const __m256 v = _mm256_loadu_ps(p + a * stride);
      sum = _mm256_add_ps(sum, v);
      differs = _mm256_or_ps(differs, _mm256_cmp_ps(v, x0, _CMP_NEQ_UQ));
    }
    const __m256 mean = _mm256_mul_ps(sum, inv_n);
    __m256 var = _mm256_setzero_ps();
    for (int64_t a = 0; a < n; ++a) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p + a * stride), mean);
      var = _mm256_fmadd_ps(d, d, var);
    }
    const __m256 inv = _mm256_and_ps(differs, rsqrt_nr(_mm256_mul_ps(var, inv_n1)));
    for (int64_t a = 0; a < n; ++a) {
      float* r = p + a * stride;
      _mm256_storeu_ps(r, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r), mean), inv));
    }
    constant += count_flat(differs, real - k);
  }
  return constant;
}

const SetKernels kAvx2{load_avx2, gram_avx2, standardize_avx2, "avx2"};
#endif

}  // namespace

const SetKernels& portable_set_kernels() {
  return kPortable;
}

const SetKernels& set_kernels() {
#ifdef MOEPROBE_HAVE_AVX2_KERNELS
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return kAvx2;
#endif
  return kPortable;
}

}  // namespace moeprobe::cpu
