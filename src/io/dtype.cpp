#include "io/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace moeprobe {
namespace {

struct DTypeInfo {
  DType type;
  const char* name;
  std::size_t size;
  bool is_float;
};

constexpr DTypeInfo kInfo[] = {
    {DType::BOOL, "BOOL", 1, false},      {DType::U8, "U8", 1, false},
    {DType::I8, "I8", 1, false},          {DType::I16, "I16", 2, false},
    {DType::U16, "U16", 2, false},        {DType::I32, "I32", 4, false},
    {DType::U32, "U32", 4, false},        {DType::I64, "I64", 8, false},
    {DType::U64, "U64", 8, false},        {DType::F16, "F16", 2, true},
    {DType::BF16, "BF16", 2, true},       {DType::F32, "F32", 4, true},
    {DType::F64, "F64", 8, true},         {DType::F8_E4M3, "F8_E4M3", 1, true},
    {DType::F8_E5M2, "F8_E5M2", 1, true},
};

const DTypeInfo& info(DType t) {
  for (const auto& i : kInfo)
    if (i.type == t) return i;
  throw std::logic_error("unknown DType");
}

uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

uint16_t load_u16(const unsigned char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);  // safetensors is little-endian, like every host we build for
  return v;
}

template <typename Out>
void convert(DType t, const void* src, Out* dst, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (t) {
    case DType::F32:
      for (std::size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, p + 4 * i, 4);
        dst[i] = static_cast<Out>(v);
      }
      return;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        dst[i] = static_cast<Out>(v);
      }
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<Out>(bf16_to_float(load_u16(p + 2 * i)));
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<Out>(f16_to_float(load_u16(p + 2 * i)));
      return;
    case DType::F8_E4M3:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<Out>(f8e4m3_to_float(p[i]));
      return;
    case DType::F8_E5M2:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<Out>(f8e5m2_to_float(p[i]));
      return;
    default:
      throw std::invalid_argument(std::string("cannot convert dtype ") + dtype_name(t) +
                                  " to floating point");
  }
}

}  // namespace

const char* dtype_name(DType t) {
  return info(t).name;
}
std::size_t dtype_size(DType t) {
  return info(t).size;
}
bool dtype_is_float(DType t) {
  return info(t).is_float;
}

std::optional<DType> parse_dtype(const std::string& name) {
  for (const auto& i : kInfo)
    if (name == i.name) return i.type;
  return std::nullopt;
}

uint16_t float_to_bf16(float v) {
  uint32_t bits = float_to_bits(v);
  if (std::isnan(v)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // keep it a quiet NaN
  const uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);                 // round to nearest even
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t float_to_f16(float v) {
  const uint32_t bits = float_to_bits(v);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00);   // NaN
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00);  // rounds past 65504: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in half precision: round abs / 2^-24 to nearest even.
    const float scaled = float_from_bits(abs) * 16777216.0f;  // exact: power-of-two scaling
    const float r = std::nearbyint(scaled);                   // default mode: ties to even
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
  }
  // Normal: rebias exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

void convert_to_float(DType t, const void* src, float* dst, std::size_t n) {
  convert<float>(t, src, dst, n);
}

void convert_to_double(DType t, const void* src, double* dst, std::size_t n) {
  convert<double>(t, src, dst, n);
}

void convert_from_float(DType t, const float* src, void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  switch (t) {
    case DType::F32:
      std::memcpy(out, src, n * 4);
      return;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        const double v = src[i];
        std::memcpy(out + 8 * i, &v, 8);
      }
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        const uint16_t h = float_to_bf16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) {
        const uint16_t h = float_to_f16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    default:
      throw std::invalid_argument(std::string("cannot encode floats as dtype ") + dtype_name(t));
  }
}

}  // namespace moeprobe
