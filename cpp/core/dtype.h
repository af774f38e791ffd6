// Element types of weights and activations, and the scalar conversions between them.
// Kernels widen F16/BF16 to F32 in registers; these scalar forms are for loading and tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace astraea {

// Q8_0 is a block-quantized matrix format (GGUF's Q8_0 numbers, our own layout: planar scales,
// quants packed for the kernels; see core/kernels/matmul_q8.h): every 32 consecutive weights of a row share one F16 scale d and
// are stored as int8 q with w ≈ d·q. It exists only for matrices, never for single elements, so
// element-wise helpers below do not apply to it.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3 };

// Weights per Q8_0 block (one scale each), as in GGUF.
inline constexpr int64_t kQ8BlockSize = 32;

// Bytes of one element of a tensor's main array. For Q8_0 that is the int8 quant alone: the
// per-block scales come on top, so size matrices with matrix_bytes(), not with this.
inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::Q8_0: return 1;
  }
  return 0;
}

// Bytes a [rows][cols] matrix occupies, Q8_0 scales included (cols must then be a multiple of
// kQ8BlockSize: rows*cols int8 quants followed by rows*cols/32 F16 scales).
inline size_t matrix_bytes(DType t, int64_t rows, int64_t cols) {
  const size_t elements = size_t(rows) * size_t(cols);
  if (t == DType::Q8_0) return elements + elements / size_t(kQ8BlockSize) * 2;
  return elements * dtype_size(t);
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
  }
  return "?";
}

// Parses the safetensors spelling ("F32", "F16", "BF16"); returns false for anything else.
inline bool parse_dtype(const std::string& s, DType* out) {
  if (s == "F32") { *out = DType::F32; return true; }
  if (s == "F16") { *out = DType::F16; return true; }
  if (s == "BF16") { *out = DType::BF16; return true; }
  return false;
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | (uint32_t(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, with overflow to infinity and gradual underflow.
inline uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);          // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);         // overflow (incl. inf)
  if (abs < 0x38800000u) {                                          // subnormal or zero
    if (abs < 0x33000000u) return uint16_t(sign);
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    int shift = 113 - int(abs >> 23) + 13;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t h = ((abs - 0x38000000u) >> 13);
  uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

// One element of a tensor in F32, F16 or BF16, as F32 (unaligned sources are fine). Q8_0 has no
// element-wise form (an element needs its block's scale): callers must not pass it; store does
// nothing and load returns 0 for it.
inline void store_element(void* dst, DType dtype, size_t i, float value) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(dst)[i] = value; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(value); break;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(value); break;
    case DType::Q8_0: break;
  }
}

inline float load_element(const void* src, DType dtype, size_t i) {
  uint16_t h;
  switch (dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, static_cast<const uint8_t*>(src) + 4 * i, 4);
      return f;
    }
    case DType::F16:
      std::memcpy(&h, static_cast<const uint8_t*>(src) + 2 * i, 2);
      return f16_to_f32(h);
    case DType::BF16:
      std::memcpy(&h, static_cast<const uint8_t*>(src) + 2 * i, 2);
      return bf16_to_f32(h);
    case DType::Q8_0: return 0;
  }
  return 0;
}

}  // namespace astraea
