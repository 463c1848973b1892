// Dequantisation of mapped views, one storage row run at a time. FP8 block scales multiply
// (DeepSeek's weight_scale_inv holds the factor, despite its name); MXFP4 values are
// E2M1(nibble) * 2^(e8m0 - 127), nibbles low first, 32 values per scale along a row.
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#define MOEPROBE_QUANT_AVX2 1
#include <immintrin.h>
#if defined(__clang__)
#include <cpuid.h>
#endif
#endif

#include "io/float_codes.h"
#include "io/tensor_view.h"

namespace moeprobe {

namespace {

// Value tables: every code of a byte-sized format, decoded once by the shared decoders
// (io/float_codes.h, which the CUDA kernels use too).
struct CodeTables {
  float e4m3[256], e5m2[256], e2m1[16];
  CodeTables() {
    for (int b = 0; b < 256; ++b) {
      e4m3[b] = f8e4m3_to_float(static_cast<uint8_t>(b));
      e5m2[b] = f8e5m2_to_float(static_cast<uint8_t>(b));
    }
    for (int n = 0; n < 16; ++n) e2m1[n] = e2m1_to_float(static_cast<uint8_t>(n));
  }
};
const CodeTables& tables() {
  static const CodeTables t;
  return t;
}

const float* fp8_table(DType t) {
  return t == DType::F8_E5M2 ? tables().e5m2 : tables().e4m3;
}

}  // namespace

double StoredMatrix::bytes_per_element() const {
  switch (scheme) {
    case QuantScheme::None:
      return static_cast<double>(dtype_size(code_dtype));
    case QuantScheme::Fp8Block:
      return 1.0 + static_cast<double>(dtype_size(scale_dtype)) /
                       static_cast<double>(block_rows * block_cols);
    case QuantScheme::Mxfp4:
      return 0.5 + 1.0 / 32.0;
  }
  return 1.0;
}

namespace {

// Index of the scale of storage element (r, c).
inline int64_t scale_index(const StoredMatrix& s, int64_t r, int64_t c) {
  const int64_t m = r / s.rows_per_matrix, rr = r % s.rows_per_matrix;
  return (m * s.scale_rows_per_matrix + rr / s.block_rows) * s.scale_cols + c / s.block_cols;
}

inline float fp8_scale_float(const StoredMatrix& s, int64_t i) {
  float v;
  if (s.scale_dtype == DType::F32) {
    std::memcpy(&v, s.scales + static_cast<std::size_t>(i) * 4, 4);
    return v;
  }
  convert_to_float(s.scale_dtype,
                   s.scales + static_cast<std::size_t>(i) * dtype_size(s.scale_dtype), &v, 1);
  return v;
}

inline uint8_t nibble(const StoredMatrix& s, int64_t r, int64_t c) {
  const uint8_t b = s.codes[static_cast<std::size_t>((r * s.cols + c) >> 1)];
  return (c & 1) ? static_cast<uint8_t>(b >> 4) : static_cast<uint8_t>(b & 0xF);
}

// ---- AVX2 + F16C run decoders (picked at run time; same bits as the scalar loops) -------------
//
// FP8 E4M3 s.eeee.mmm is the half s.0eeee.mmm0000000 times 2^8 (normals and subnormals alike),
// so F16C widens it exactly; S.1111.111 (NaN) is blended in. The block scale, times 2^8, is one
// multiply: h * (s * 2^8) and (h * 2^8) * s round the same real product once. Scales whose
// times-2^8 would overflow go through the scalar loop.
// MXFP4: the 8 magnitudes of E2M1 (the shared decoder's table) are a permute table, the sign bit an
// xor; E8M0 scales 0 (a float32 subnormal) and 255 (NaN) go through the scalar loop.
#ifdef MOEPROBE_QUANT_AVX2
#define MOEPROBE_AVX2_F16C __attribute__((target("avx2,f16c")))

MOEPROBE_AVX2_F16C void fp8_e4m3_segment_avx2(const unsigned char* p, int64_t n, float scale,
                                              float* dst) {
  const __m256 s = _mm256_set1_ps(scale * 256.0f);
  const __m256 nan = _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i)));
    const __m128i mag = _mm_and_si128(b, _mm_set1_epi16(0x7F));
    const __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8),
                                   _mm_slli_epi16(mag, 7));
    __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), s);
    const __m128i is_nan16 = _mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7F));
    const __m256 is_nan = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(is_nan16));
    v = _mm256_blendv_ps(v, nan, is_nan);
    _mm256_storeu_ps(dst + i, v);
  }
  for (; i < n; ++i) dst[i] = tables().e4m3[p[i]] * scale;
}

// 32 values (16 bytes, low nibble first) times 2^(e - 127) for 1 <= e <= 254.
MOEPROBE_AVX2_F16C void mxfp4_group_avx2(const unsigned char* p, float scale, float* dst) {
  const __m256 table = _mm256_loadu_ps(tables().e2m1);  // the 8 magnitudes (codes 0-7)
  const __m256 s = _mm256_set1_ps(scale);
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  // Element order: byte k gives elements 2k (low nibble) and 2k + 1 (high nibble).
  const __m128i nib[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)};
  for (int q = 0; q < 4; ++q) {
    const __m128i src = q % 2 ? _mm_srli_si128(nib[q / 2], 8) : nib[q / 2];
    const __m256i n = _mm256_cvtepu8_epi32(src);
    const __m256 mag = _mm256_permutevar8x32_ps(table, n);
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(n, _mm256_set1_epi32(8)), 28);
    const __m256 v = _mm256_xor_ps(mag, _mm256_castsi256_ps(sign));
    _mm256_storeu_ps(dst + 8 * q, _mm256_mul_ps(v, s));
  }
}

bool have_avx2_f16c() {
#if defined(__clang__)
  // clang's __builtin_cpu_supports does not know "f16c": read CPUID leaf 1, ECX bit 29.
  unsigned a = 0, b = 0, c = 0, d = 0;
  static const bool ok =
      __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
#else
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
#endif
  return ok;
}
#endif

}  // namespace

float StoredMatrix::element_float(int64_t r, int64_t c) const {
  switch (scheme) {
    case QuantScheme::Fp8Block:
      return fp8_table(code_dtype)[codes[static_cast<std::size_t>(r * cols + c)]] *
             fp8_scale_float(*this, scale_index(*this, r, c));
    case QuantScheme::Mxfp4:
      return tables().e2m1[nibble(*this, r, c)] * e8m0_to_float(scales[scale_index(*this, r, c)]);
    case QuantScheme::None:
      break;
  }
  float v;
  convert_to_float(code_dtype,
                   codes + static_cast<std::size_t>(r * cols + c) * dtype_size(code_dtype), &v, 1);
  return v;
}

double StoredMatrix::element_double(int64_t r, int64_t c) const {
  switch (scheme) {
    case QuantScheme::Fp8Block:
      // Exact: an FP8 value has at most 4 significant bits, a float scale 24.
      return static_cast<double>(
                 fp8_table(code_dtype)[codes[static_cast<std::size_t>(r * cols + c)]]) *
             static_cast<double>(fp8_scale_float(*this, scale_index(*this, r, c)));
    case QuantScheme::Mxfp4:
      return static_cast<double>(tables().e2m1[nibble(*this, r, c)]) *
             e8m0_to_double(scales[scale_index(*this, r, c)]);
    case QuantScheme::None:
      break;
  }
  double v;
  convert_to_double(code_dtype,
                    codes + static_cast<std::size_t>(r * cols + c) * dtype_size(code_dtype), &v, 1);
  return v;
}

void StoredMatrix::run_float(int64_t r, int64_t c, int64_t n, float* dst) const {
  switch (scheme) {
    case QuantScheme::None:
      convert_to_float(code_dtype,
                       codes + static_cast<std::size_t>(r * cols + c) * dtype_size(code_dtype), dst,
                       static_cast<std::size_t>(n));
      return;
    case QuantScheme::Fp8Block: {
      const float* table = fp8_table(code_dtype);
      const unsigned char* p = codes + static_cast<std::size_t>(r * cols + c);
      for (int64_t i = 0; i < n;) {
        // One scale per segment inside a column block.
        const int64_t col = c + i;
        const int64_t seg = std::min(n - i, block_cols - col % block_cols);
        const float scale = fp8_scale_float(*this, scale_index(*this, r, col));
#ifdef MOEPROBE_QUANT_AVX2
        if (code_dtype == DType::F8_E4M3 && std::fabs(scale) < 0x1p+100f && have_avx2_f16c()) {
          fp8_e4m3_segment_avx2(p + i, seg, scale, dst + i);
          i += seg;
          continue;
        }
#endif
        for (int64_t j = 0; j < seg; ++j) dst[i + j] = table[p[i + j]] * scale;
        i += seg;
      }
      return;
    }
    case QuantScheme::Mxfp4: {
      const unsigned char* row_codes = codes + static_cast<std::size_t>((r * cols) >> 1);
      const unsigned char* row_scales = scales + static_cast<std::size_t>(r * scale_cols);
      const float* e2m1 = tables().e2m1;
      for (int64_t i = 0; i < n;) {
        const int64_t col = c + i;
        const int64_t seg = std::min(n - i, 32 - col % 32);
        const uint8_t e = row_scales[col / 32];
        const float scale = e8m0_to_float(e);
#ifdef MOEPROBE_QUANT_AVX2
        if (seg == 32 && e != 0 && e != 255 && have_avx2_f16c()) {
          mxfp4_group_avx2(row_codes + (col >> 1), scale, dst + i);
          i += seg;
          continue;
        }
#endif
        int64_t j = 0;
        if (col & 1) {  // odd start: the high nibble of a byte first
          dst[i] = e2m1[row_codes[col >> 1] >> 4] * scale;
          j = 1;
        }
        for (; j + 2 <= seg; j += 2) {
          const uint8_t b = row_codes[(col + j) >> 1];
          dst[i + j] = e2m1[b & 0xF] * scale;
          dst[i + j + 1] = e2m1[b >> 4] * scale;
        }
        if (j < seg) dst[i + j] = e2m1[row_codes[(col + j) >> 1] & 0xF] * scale;
        i += seg;
      }
      return;
    }
  }
}

void StoredMatrix::run_double(int64_t r, int64_t c, int64_t n, double* dst) const {
  if (scheme == QuantScheme::None) {
    convert_to_double(code_dtype,
                      codes + static_cast<std::size_t>(r * cols + c) * dtype_size(code_dtype), dst,
                      static_cast<std::size_t>(n));
    return;
  }
  for (int64_t j = 0; j < n; ++j) dst[j] = element_double(r, c + j);
}

}  // namespace moeprobe
