#include "core/ggml_types.h"

#include <cstring>

namespace astraea {

namespace {

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// ---- 32-value blocks -------------------------------------------------------------------------
// Q4_0 (18 bytes): F16 d | 16 bytes of 4-bit q. Byte j holds value j in its low nibble and value
//   j + 16 in its high nibble; x = (q − 8)·d.
// Q4_1 (20 bytes): F16 d | F16 m | 16 bytes as Q4_0; x = q·d + m.
// Q5_0 (22 bytes): F16 d | u32 qh (bit j: the fifth bit of value j) | 16 bytes as Q4_0;
//   x = (q − 16)·d.
// Q5_1 (24 bytes): F16 d | F16 m | u32 qh | 16 bytes; x = q·d + m.
// Q8_0 (34 bytes): F16 d | 32 int8 q; x = q·d.

void decode_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(int(qs[j] & 0x0F) - 8) * d;
    y[j + 16] = float(int(qs[j] >> 4) - 8) * d;
  }
}

void decode_q4_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 0x0F) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}

// The 5-bit values of a Q5_0/Q5_1 block: low nibbles from qs, fifth bits from qh.
void five_bit_values(const uint8_t* qh_bytes, const uint8_t* qs, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = int(qs[j] & 0x0F) | int((qh >> j) & 1u) << 4;
    q[j + 16] = int(qs[j] >> 4) | int((qh >> (j + 16)) & 1u) << 4;
  }
}

void decode_q5_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  int q[32];
  five_bit_values(b + 2, b + 6, q);
  for (int j = 0; j < 32; ++j) y[j] = float(q[j] - 16) * d;
}

void decode_q5_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  int q[32];
  five_bit_values(b + 4, b + 8, q);
  for (int j = 0; j < 32; ++j) y[j] = float(q[j]) * d + m;
}

void decode_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = float(q[j]) * d;
}

// ---- 256-value super-blocks (K-quants) -------------------------------------------------------
// Q2_K (84 bytes): 16 bytes of sub-block scales | 64 bytes of 2-bit q | F16 d | F16 dmin.
//   16 sub-blocks of 16 values; scale byte s: low nibble the scale, high nibble the min;
//   x = (d·(s & 15))·q − dmin·(s >> 4). Values 128h + 32j + l (h < 2, j < 4, l < 32) are bits
//   2j..2j+1 of q byte 32h + l; sub-block 8h + 2j covers l < 16, 8h + 2j + 1 the rest.
// Q3_K (110 bytes): 32 bytes hmask | 64 bytes of 2-bit q | 12 bytes of 6-bit scales | F16 d.
//   Value 128h + 32j + l takes its low two bits as Q2_K does and its third from bit 4h + j of
//   hmask byte l; q3 = low − (that bit ? 0 : 4), x = (d·(scale − 32))·q3, sub-blocks of 16 as in
//   Q2_K. Scale i: low four bits from byte i (i < 8) or the high nibble of byte i − 8; high two
//   bits are bits 2⌊i/4⌋.. of byte 8 + i mod 4.
// Q4_K (144 bytes): F16 d | F16 dmin | 12 bytes of 6-bit scales and mins | 128 bytes of 4-bit q.
//   8 sub-blocks of 32; x = (d·scale)·q − dmin·min. Values 64p + l (l < 32) are the low nibbles of
//   q bytes 32p + l (sub-block 2p), values 64p + 32 + l their high nibbles (sub-block 2p + 1).
// Q5_K (176 bytes): F16 d | F16 dmin | 12 bytes scales and mins | 32 bytes qh | 128 bytes q.
//   As Q4_K, with a fifth bit (16) for value 64p + l from bit 2p of qh byte l, for value
//   64p + 32 + l from bit 2p + 1.
// Q6_K (210 bytes): 128 bytes low nibbles ql | 64 bytes high bits qh | 16 int8 scales | F16 d.
//   Value 128h + 32k + l (k < 4, l < 32): low nibble from ql byte 64h + l (k = 0, 2: low/high
//   nibble) or 64h + 32 + l (k = 1, 3), high two bits from bits 2k.. of qh byte 32h + l;
//   x = (d·scale)·(q − 32) with the scale of sub-block 8h + 2k + ⌊l/16⌋.

// Q4_K and Q5_K's scale and min of sub-block j (< 8) from their 12 packed bytes: six bits each;
// sub-blocks 0–3 in the low six bits of bytes j and j + 4, sub-blocks 4–7 in the nibbles of
// bytes j + 4 with their top two bits in the top bits of bytes j − 4 and j.
void scale_min_k4(int j, const uint8_t* s, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void decode_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = half_at(b + 80), dmin = half_at(b + 82);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* q = qs + 32 * h;
    for (int j = 0; j < 4; ++j) {
      for (int part = 0; part < 2; ++part) {
        const uint8_t s = scales[8 * h + 2 * j + part];
        const float dl = d * float(s & 0x0F), ml = dmin * float(s >> 4);
        for (int l = 16 * part; l < 16 * part + 16; ++l) y[128 * h + 32 * j + l] = dl * float((q[l] >> (2 * j)) & 3) - ml;
      }
    }
  }
}

void decode_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* packed = b + 96;
  const float d = half_at(b + 108);
  int scale[16];
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4;
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    scale[i] = (low | high << 4) - 32;
  }
  for (int h = 0; h < 2; ++h) {
    const uint8_t* q = qs + 32 * h;
    for (int j = 0; j < 4; ++j) {
      const uint8_t bit = uint8_t(1u << (4 * h + j));
      for (int part = 0; part < 2; ++part) {
        const float dl = d * float(scale[8 * h + 2 * j + part]);
        for (int l = 16 * part; l < 16 * part + 16; ++l) {
          const int q3 = int((q[l] >> (2 * j)) & 3) - ((hmask[l] & bit) ? 0 : 4);
          y[128 * h + 32 * j + l] = dl * float(q3);
        }
      }
    }
  }
}

// Q4_K and Q5_K share everything but the fifth bit (qh null for Q4_K).
void decode_q45_k(const uint8_t* b, const uint8_t* qh, const uint8_t* qs, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* packed = b + 4;
  for (int p = 0; p < 4; ++p) {
    int sc_lo, m_lo, sc_hi, m_hi;
    scale_min_k4(2 * p, packed, &sc_lo, &m_lo);
    scale_min_k4(2 * p + 1, packed, &sc_hi, &m_hi);
    const float d_lo = d * float(sc_lo), min_lo = dmin * float(m_lo);
    const float d_hi = d * float(sc_hi), min_hi = dmin * float(m_hi);
    const uint8_t* q = qs + 32 * p;
    for (int l = 0; l < 32; ++l) {
      const int fifth_lo = qh ? ((qh[l] >> (2 * p)) & 1) << 4 : 0;
      const int fifth_hi = qh ? ((qh[l] >> (2 * p + 1)) & 1) << 4 : 0;
      y[64 * p + l] = d_lo * float((q[l] & 0x0F) + fifth_lo) - min_lo;
      y[64 * p + 32 + l] = d_hi * float((q[l] >> 4) + fifth_hi) - min_hi;
    }
  }
}

void decode_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* lo = ql + 64 * h;
    const uint8_t* hi = qh + 32 * h;
    const int8_t* sc = scales + 8 * h;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q0 = int((lo[l] & 0x0F) | ((hi[l] & 3) << 4)) - 32;
      const int q1 = int((lo[l + 32] & 0x0F) | (((hi[l] >> 2) & 3) << 4)) - 32;
      const int q2 = int((lo[l] >> 4) | (((hi[l] >> 4) & 3) << 4)) - 32;
      const int q3 = int((lo[l + 32] >> 4) | (((hi[l] >> 6) & 3) << 4)) - 32;
      y[128 * h + l] = d * float(sc[s]) * float(q0);
      y[128 * h + 32 + l] = d * float(sc[s + 2]) * float(q1);
      y[128 * h + 64 + l] = d * float(sc[s + 4]) * float(q2);
      y[128 * h + 96 + l] = d * float(sc[s + 6]) * float(q3);
    }
  }
}

// ---- 4-bit non-linear types ------------------------------------------------------------------
// Each 4-bit index picks one of 16 fixed levels (kIq4Levels), spaced more closely near zero,
// where a weight's values cluster, than Q4_0's evenly spaced q − 8.
// IQ4_NL (18 bytes): F16 d | 16 bytes of indices laid out as Q4_0's (byte j: value j in the low
//   nibble, value j + 16 in the high); x = d·level.
// IQ4_XS (136 bytes): F16 d | u16 scales_h | 4 bytes scales_l | 128 bytes of indices.
//   8 sub-blocks of 32; sub-block s has a six-bit scale: its low four bits are the low (s even)
//   or high (s odd) nibble of scales_l byte s/2, its high two bits are bits 2s, 2s + 1 of
//   scales_h. x = (d·(scale − 32))·level, sub-block s's indices in bytes 16s… as IQ4_NL's.

constexpr int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// 32 values from 16 bytes of indices: the float `step` times the level as a float, as llama.cpp.
void iq4_values(const uint8_t* qs, float step, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = step * float(kIq4Levels[qs[j] & 0x0F]);
    y[j + 16] = step * float(kIq4Levels[qs[j] >> 4]);
  }
}

void decode_iq4_nl(const uint8_t* b, float* y) { iq4_values(b + 2, half_at(b), y); }

void decode_iq4_xs(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const unsigned scales_h = unsigned(b[2]) | unsigned(b[3]) << 8;
  const uint8_t* scales_l = b + 4;
  const uint8_t* qs = b + 8;
  for (int s = 0; s < 8; ++s) {
    const int low = (scales_l[s / 2] >> (4 * (s % 2))) & 0x0F;
    const int high = int(scales_h >> (2 * s)) & 3;
    iq4_values(qs + 16 * s, d * float((low | high << 4) - 32), y + 32 * s);
  }
}

struct TypeInfo {
  GgmlType type;
  const char* name;
  int64_t values;
  size_t bytes;
};

constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},     {GgmlType::F16, "F16", 1, 2},      {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::Q8_0, "Q8_0", 32, 34}, {GgmlType::Q4_0, "Q4_0", 32, 18},  {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22}, {GgmlType::Q5_1, "Q5_1", 32, 24},  {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110}, {GgmlType::Q4_K, "Q4_K", 256, 144}, {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210}, {GgmlType::IQ4_NL, "IQ4_NL", 32, 18}, {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
};

constexpr bool types_in_enum_order() {
  int i = 0;
  for (const TypeInfo& t : kTypes)
    if (static_cast<int>(t.type) != i++) return false;
  return i == static_cast<int>(GgmlType::IQ4_XS) + 1;
}
static_assert(types_in_enum_order(), "info() indexes kTypes by GgmlType: list every type, in the enum's order");

const TypeInfo& info(GgmlType t) { return kTypes[static_cast<int>(t)]; }

}  // namespace

const char* ggml_type_name(GgmlType t) { return info(t).name; }

bool parse_ggml_type(const std::string& name, GgmlType* out) {
  for (const TypeInfo& i : kTypes) {
    if (name == i.name) {
      *out = i.type;
      return true;
    }
  }
  return false;
}

std::optional<DType> ggml_engine_dtype(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    case GgmlType::Q8_0: return DType::Q8_0;
    default: return std::nullopt;
  }
}

int64_t ggml_block_values(GgmlType t) { return info(t).values; }
size_t ggml_block_bytes(GgmlType t) { return info(t).bytes; }

size_t ggml_row_bytes(GgmlType t, int64_t cols) { return size_t(cols / info(t).values) * info(t).bytes; }

void ggml_decode_row(GgmlType t, const uint8_t* src, int64_t cols, float* dst) {
  const TypeInfo& i = info(t);
  if (i.values == 1) {
    const DType d = *ggml_engine_dtype(t);
    for (int64_t k = 0; k < cols; ++k) dst[k] = load_element(src, d, size_t(k));
    return;
  }
  const int64_t blocks = cols / i.values;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const uint8_t* b = src + size_t(blk) * i.bytes;
    float* y = dst + blk * i.values;
    switch (t) {
      case GgmlType::Q8_0: decode_q8_0(b, y); break;
      case GgmlType::Q4_0: decode_q4_0(b, y); break;
      case GgmlType::Q4_1: decode_q4_1(b, y); break;
      case GgmlType::Q5_0: decode_q5_0(b, y); break;
      case GgmlType::Q5_1: decode_q5_1(b, y); break;
      case GgmlType::Q2_K: decode_q2_k(b, y); break;
      case GgmlType::Q3_K: decode_q3_k(b, y); break;
      case GgmlType::Q4_K: decode_q45_k(b, nullptr, b + 16, y); break;
      case GgmlType::Q5_K: decode_q45_k(b, b + 16, b + 48, y); break;
      case GgmlType::Q6_K: decode_q6_k(b, y); break;
      case GgmlType::IQ4_NL: decode_iq4_nl(b, y); break;
      case GgmlType::IQ4_XS: decode_iq4_xs(b, y); break;
      default: break;  // the float types returned above
    }
  }
}

}  // namespace astraea
