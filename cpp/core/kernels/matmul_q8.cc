// Q8_0 matmul kernels: AVX-512 VNNI, AVX2, scalar, on packed weights. Layout and error: see
// matmul_q8.h. Over 500 lines on purpose, like matmul.cc: the three paths share the activation
// layout, the job split and the dispatch — one algorithm in three instruction sets.
//
// Each path has two halves: an activation quantizer (x -> int8 per 32-block) and a micro-kernel
// computing an R-rows x TT-tokens block of y. The driver at the bottom is shared: it quantizes all
// T tokens once (once for all the products of a fused call), then splits rows into chunks (and
// long prompts into token tiles) claimed dynamically by the pool's threads, as matmul.cc does.
// At T=1 the GEMV streams ~1.06 bytes per weight (quant + 2/32 of a scale) instead of BF16's 2;
// at T>1 each weight vector, loaded once, is reused for TT tokens.
#include "core/kernels/matmul_q8.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/simd.h"

namespace astraea {

namespace {

constexpr int64_t kBlock = kQ8BlockSize;
constexpr int64_t kGroupBlocks = 16;                     // blocks per packed group
constexpr int64_t kGroupBytes = kGroupBlocks * kBlock;  // 512

// Where quants j..j+3 (j a multiple of 4) of block b, of a row of nb blocks, sit in the packed
// layout of matmul_q8.h: in block b's group (of g ≤ 16 blocks), 4 quants of each block per 4·g bytes.
inline int64_t packed_at(int64_t nb, int64_t b, int64_t j) {
  const int64_t first = b / kGroupBlocks * kGroupBlocks, g = std::min(kGroupBlocks, nb - first);
  return first * kBlock + j * g + 4 * (b - first);
}

// Row `planar` (cols quants, block by block) into the packed layout, and back.
void pack_row(const int8_t* planar, int64_t cols, int8_t* packed) {
  for (int64_t b = 0; b < cols / kBlock; ++b)
    for (int64_t j = 0; j < kBlock; j += 4) std::memcpy(packed + packed_at(cols / kBlock, b, j), planar + b * kBlock + j, 4);
}

void unpack_row(const int8_t* packed, int64_t cols, int8_t* planar) {
  for (int64_t b = 0; b < cols / kBlock; ++b)
    for (int64_t j = 0; j < kBlock; j += 4) std::memcpy(planar + b * kBlock + j, packed + packed_at(cols / kBlock, b, j), 4);
}

// The quantized activations of T tokens. Rows are padded to whole groups (a multiple of 512
// columns) with zero quants, zero scales and zero corrections, so that a kernel may read a whole
// group's worth of x, or 16 scales, from any group, a trailing partial group included.
//   * SIMD paths: q is packed exactly as a weight row is (matmul_q8.h), then zero-padded.
//   * Scalar path: q is planar (block i at 32i).
struct QActs {
  int64_t T = 0, cols = 0, padded = 0;  // padded: a multiple of 512
  int8_t* q = nullptr;                  // [T][padded]
  float* d = nullptr;                   // [T][padded/32] block scales dx
  // VNNI path only: vpdpbusd multiplies unsigned by signed bytes, so the kernel feeds it
  // (w + 128) as unsigned and starts each block's int32 lane at -128·(sum of the block's 32 x
  // quants), which cancels the offset exactly.
  int32_t* corr = nullptr;  // [T][padded/32]
  int64_t q_stride() const { return padded; }
  int64_t d_stride() const { return padded / kBlock; }
};

// Writes block b (of nb) of a packed x row: its 32 quants, given as 8 words of 4 in order.
inline void store_block_packed(int8_t* q_token, int64_t nb, int64_t b, const int32_t* words) {
  for (int j = 0; j < 8; ++j) std::memcpy(q_token + packed_at(nb, b, 4 * j), words + j, 4);
}

// Per-block quantization, the scalar definition every SIMD path reproduces bit for bit: the same
// max, the same float division and product, round to nearest even.
void quantize_block_scalar(const float* x, int8_t* q, float* d) {
  float amax = 0.f;
  bool finite = true;
  for (int64_t i = 0; i < kBlock; ++i) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (!finite) {
    for (int64_t i = 0; i < kBlock; ++i) q[i] = 0;
    *d = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const float inv = amax > 0.f ? 127.f / amax : 0.f;
  for (int64_t i = 0; i < kBlock; ++i) q[i] = int8_t(std::nearbyint(x[i] * inv));
  *d = amax / 127.f;
}

void quantize_token_scalar(const float* x, int64_t cols, int8_t* q, float* d) {
  for (int64_t b = 0; b < cols / kBlock; ++b) quantize_block_scalar(x + b * kBlock, q + b * kBlock, d + b);
}

// ---------------------------------------------------------------------------------------------
// Scalar kernel: one exact integer dot per block (weights packed, x planar), scaled and summed in
// F32 in block order.

void rows_scalar(const QActs& a, const int8_t* W, const uint16_t* S, int64_t cols, const float* bias,
                 float* y, int64_t ldy, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int64_t nb = cols / kBlock;
  std::vector<float> dw(static_cast<size_t>(nb));
  for (int64_t r = r0; r < r1; ++r) {
    const int8_t* wr = W + r * cols;
    for (int64_t b = 0; b < nb; ++b) dw[size_t(b)] = f16_to_f32(S[r * nb + b]);
    for (int64_t t = t0; t < t1; ++t) {
      const int8_t* xq = a.q + t * a.q_stride();
      const float* xd = a.d + t * a.d_stride();
      float sum = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        const int8_t* xb = xq + b * kBlock;
        int32_t dot = 0;
        for (int64_t j = 0; j < kBlock; j += 4) {
          const int8_t* wj = wr + packed_at(nb, b, j);
          for (int64_t i = 0; i < 4; ++i) dot += int32_t(wj[i]) * int32_t(xb[j + i]);
        }
        sum += float(dot) * (dw[size_t(b)] * xd[b]);
      }
      y[t * ldy + r] = sum + (bias ? bias[r] : 0.f);
    }
  }
}

#ifdef ASTRAEA_X86_SIMD

#define ASTRAEA_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define ASTRAEA_INLINE inline __attribute__((always_inline))

ASTRAEA_AVX512 inline __m128 fold_512(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Four horizontal sums as one 4-float vector (lane i = sum of input i): each input folded to
// 128 bits, then two rounds of pairwise adds.
ASTRAEA_AVX512 inline __m128 hsum4_512(__m512 a, __m512 b, __m512 c, __m512 d) {
  return _mm_hadd_ps(_mm_hadd_ps(fold_512(a), fold_512(b)), _mm_hadd_ps(fold_512(c), fold_512(d)));
}

// Arguments of one micro-kernel call: R weight rows from w (stride cols quants, nb scales),
// TT tokens of the activations from token t, results to y (token stride ldy).
struct Mk {
  const QActs* a;
  int64_t t;
  const int8_t* w;
  const uint16_t* s;
  int64_t cols;
  const float* bias;
  float* y;
  int64_t ldy;
  // Quant bytes to software-prefetch, spread over the call's steps: the rows a few calls ahead.
  // Rows are short (a few KB), and a new block of rows restarts every hardware prefetch stream
  // just as it has warmed up; measured on Zen 4 in cache vs from DRAM, the GEMV lost most of its
  // speed to that before this prefetch.
  const char* pf_begin;
  const char* pf_end;
};

// Spreads the prefetch of [pf_begin, pf_end) over a call's steps of 64 weight bytes per row.
struct PrefetchCursor {
  const char* at;
  const char* end;
  int64_t per_step;
  PrefetchCursor(const Mk& m, int64_t steps) : at(m.pf_begin), end(m.pf_end) {
    const int64_t lines = m.pf_end > m.pf_begin ? (m.pf_end - m.pf_begin + 63) / 64 : 0;
    per_step = (lines + steps - 1) / std::max<int64_t>(steps, 1);
  }
  ASTRAEA_INLINE void step() {
    for (int64_t i = 0; i < per_step && at < end; ++i, at += 64) _mm_prefetch(at, _MM_HINT_T0);
  }
};

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI. A group of 16 blocks is 8 steps of 64 bytes per row; in each, one vpdpbusd per
// (row, token) adds 4 products of every block to that block's int32 lane, so after the 8 steps
// lane b holds block b's exact dot product (from its correction, see QActs::corr). Then, once per
// group, the lanes are converted to F32, multiplied by the 16 weight scales and fma'd with the 16
// activation scales into the accumulator.

ASTRAEA_AVX512_VNNI void quantize_token_vnni(const float* x, int64_t cols, int8_t* q, float* d, int32_t* corr) {
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
    // x - x is NaN exactly when x is NaN or infinite.
    const __mmask16 bad = _mm512_cmp_ps_mask(_mm512_sub_ps(x0, x0), _mm512_setzero_ps(), _CMP_NEQ_UQ) |
                          _mm512_cmp_ps_mask(_mm512_sub_ps(x1, x1), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    __m256i qb = _mm256_setzero_si256();
    float db;
    if (bad) {
      db = std::numeric_limits<float>::quiet_NaN();
    } else {
      const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
      // Round to nearest even (the default MXCSR mode), then narrow; |value| <= 127 so the
      // saturating narrow never saturates.
      const __m128i q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x0, inv)));
      const __m128i q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x1, inv)));
      qb = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
      db = amax / 127.f;
    }
    alignas(32) int32_t words[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(words), qb);
    store_block_packed(q, cols / kBlock, b, words);
    d[b] = db;
    // The block's quant sum (1 x q, unsigned x signed, 4 per lane, then the 8 lanes), times -128.
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, qb);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    corr[b] = -128 * _mm_cvtsi128_si32(s4);
  }
}

// How a group is read (x is packed as the weights are, so the same offsets pair them up):
//   kWhole:  16 blocks, 8 steps of 64 bytes; lane b of every step is block b.
//   kFolded: a trailing group of g = 1, 2, 4 or 8 blocks, read as g/2 contiguous 64-byte steps
//            (one of 32 for g = 1): lane l always holds 4 quants of block l mod g, so after the
//            steps the 16/g lanes of each block are added up (log2(16/g) shuffles).
//   kMasked: a trailing group of any other g, 8 steps 4g bytes apart under a mask, lane b block b.
// In all three a lane past the group's blocks ends at zero: it reads w = 0 (128 after the flip)
// against zero x quants, and its correction and scales are zero; a folded lane's duplicates meet
// zero weight scales.
enum class GroupKind { kWhole, kFolded, kMasked };

// One step of group_vnni: 64 bytes (or wmask's) at byte `at` of every row and token.
template <int R, int TT, GroupKind kKind>
ASTRAEA_AVX512_VNNI ASTRAEA_INLINE void step_vnni(const Mk& m, const int8_t* const* xq, int64_t at, __mmask64 wmask,
                                                  __m512i (&isum)[R][TT], PrefetchCursor& pf) {
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  pf.step();
  __m512i wv[R];
  for (int r = 0; r < R; ++r) {
    const int8_t* src = m.w + r * m.cols + at;
    wv[r] = _mm512_xor_si512(kKind == GroupKind::kWhole ? _mm512_loadu_si512(src) : _mm512_maskz_loadu_epi8(wmask, src), flip);
  }
  for (int t = 0; t < TT; ++t) {
    const int8_t* src = xq[t] + at;
    const __m512i xv = kKind == GroupKind::kMasked ? _mm512_maskz_loadu_epi8(wmask, src) : _mm512_loadu_si512(src);
    for (int r = 0; r < R; ++r) isum[r][t] = _mm512_dpbusd_epi32(isum[r][t], wv[r], xv);
  }
}

template <int R, int TT, GroupKind kKind>
ASTRAEA_AVX512_VNNI ASTRAEA_INLINE void group_vnni(const Mk& m, const int8_t* const* xq, const int32_t* const* xc,
                                                   const float* const* xd, int64_t group, int64_t g,
                                                   __m512 (&acc)[R][TT], PrefetchCursor& pf) {
  const int64_t nb = m.cols / kBlock;
  const int64_t off = group * kGroupBytes;  // the groups before are whole, in w and in x alike
  const int64_t steps = kKind == GroupKind::kWhole ? 8 : kKind == GroupKind::kFolded ? std::max<int64_t>(1, g / 2) : 8;
  const int64_t stride = kKind == GroupKind::kMasked ? 4 * g : 64;
  // kFolded reads 64 bytes per step but for g = 1 (32); kMasked reads 4g.
  const __mmask64 wmask = kKind == GroupKind::kWhole    ? ~__mmask64(0)
                          : kKind == GroupKind::kMasked ? (__mmask64(1) << (4 * g)) - 1
                          : g == 1                      ? __mmask64(0xFFFFFFFFu)
                                                        : ~__mmask64(0);
  __m512i isum[R][TT];
  for (int t = 0; t < TT; ++t) {
    const __m512i c = _mm512_loadu_si512(xc[t] + group * kGroupBlocks);
    for (int r = 0; r < R; ++r) isum[r][t] = c;
  }
  if constexpr (kKind == GroupKind::kWhole) {
    // Unrolled: ~15% faster at T=128 on Zen 4. (Unrolling the loop below as well measured slower.)
#pragma GCC unroll 8
    for (int64_t k = 0; k < 8; ++k) step_vnni<R, TT, kKind>(m, xq, off + 64 * k, wmask, isum, pf);
  } else {
    for (int64_t k = 0; k < steps; ++k) step_vnni<R, TT, kKind>(m, xq, off + k * stride, wmask, isum, pf);
  }
  if (kKind == GroupKind::kFolded) {
    for (int64_t lanes = 16; lanes > g; lanes /= 2) {
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t) {
          const __m512i v = isum[r][t];
          const __m512i other = lanes == 16 ? _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(1, 0, 3, 2))
                                : lanes == 8 ? _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(2, 3, 0, 1))
                                : lanes == 4 ? _mm512_shuffle_epi32(v, _MM_PERM_BADC)
                                             : _mm512_shuffle_epi32(v, _MM_PERM_CDAB);
          isum[r][t] = _mm512_add_epi32(v, other);
        }
    }
  }
  const __mmask16 smask = kKind == GroupKind::kWhole ? __mmask16(0xFFFF) : __mmask16((1u << unsigned(g)) - 1u);
  for (int r = 0; r < R; ++r) {
    const uint16_t* s = m.s + r * nb + group * kGroupBlocks;
    const __m512 dw = _mm512_cvtph_ps(kKind == GroupKind::kWhole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s))
                                                                 : _mm256_maskz_loadu_epi16(smask, s));
    for (int t = 0; t < TT; ++t)
      acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][t]), dw),
                                  _mm512_loadu_ps(xd[t] + group * kGroupBlocks), acc[r][t]);
  }
}

template <int R, int TT>
ASTRAEA_AVX512_VNNI void mk_vnni(const Mk& m) {
  const QActs& a = *m.a;
  const int64_t nb = m.cols / kBlock;
  const int64_t whole = nb / kGroupBlocks, tail = nb % kGroupBlocks;
  const int8_t* xq[TT];
  const int32_t* xc[TT];
  const float* xd[TT];
  for (int t = 0; t < TT; ++t) {
    xq[t] = a.q + (m.t + t) * a.q_stride();
    xc[t] = a.corr + (m.t + t) * a.d_stride();
    xd[t] = a.d + (m.t + t) * a.d_stride();
  }
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const bool folded = tail == 1 || tail == 2 || tail == 4 || tail == 8;
  PrefetchCursor pf(m, 8 * whole + (tail == 0 ? 0 : folded ? std::max<int64_t>(1, tail / 2) : 8));
  for (int64_t group = 0; group < whole; ++group) group_vnni<R, TT, GroupKind::kWhole>(m, xq, xc, xd, group, kGroupBlocks, acc, pf);
  if (tail && folded) group_vnni<R, TT, GroupKind::kFolded>(m, xq, xc, xd, whole, tail, acc, pf);
  else if (tail) group_vnni<R, TT, GroupKind::kMasked>(m, xq, xc, xd, whole, tail, acc, pf);

  for (int t = 0; t < TT; ++t) {
    float* yt = m.y + t * m.ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      __m128 s = hsum4_512(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
      if (m.bias) s = _mm_add_ps(s, _mm_loadu_ps(m.bias + r));
      _mm_storeu_ps(yt + r, s);
    }
    for (; r < R; ++r) yt[r] = _mm512_reduce_add_ps(acc[r][t]) + (m.bias ? m.bias[r] : 0.f);
  }
}

struct Vnni {
  // 4 x 3: 12 int32 and 12 F32 accumulators, 4 weight vectors, x and the flip constant: 30 of the
  // 32 zmm registers.
  static constexpr int kR = 4;       // rows per block at T > 1 and in the GEMV
  static constexpr int kTT = 3;
  static constexpr bool kCorrections = true;
  static void quantize(const float* x, int64_t cols, QActs& a, int64_t t) {
    quantize_token_vnni(x, cols, a.q + t * a.q_stride(), a.d + t * a.d_stride(), a.corr + t * a.d_stride());
  }
  template <int R, int TT = kTT>
  static void mk(int64_t tt, const Mk& m) {  // tt <= kTT tokens
    if constexpr (TT > 1)
      if (tt < TT) return mk<R, TT - 1>(tt, m);
    mk_vnni<R, TT>(m);
  }
};

// ---------------------------------------------------------------------------------------------
// AVX2 (also the AVX-512 path on CPUs without VNNI). A 32-byte load covers half a group (8
// blocks): vpmaddubsw needs an unsigned operand, so it multiplies |w| by x with w's sign moved
// onto it (|products| <= 128·127, pairs <= 32512: no saturation), and vpmaddwd with ones sums
// each block's 4 products into its int32 lane. 8 steps give each block of the half its exact dot;
// then, once per half-group, F32 conversion and the scales d·dx.

ASTRAEA_AVX2 void quantize_token_avx2(const float* x, int64_t cols, int8_t* q, float* d) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    __m256 v[4];
    __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[i]));
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v[i], v[i]), _mm256_setzero_ps(), _CMP_NEQ_UQ));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    __m256i qb = _mm256_setzero_si256();
    float db;
    if (_mm256_movemask_ps(bad)) {
      db = std::numeric_limits<float>::quiet_NaN();
    } else {
      const __m256 inv = _mm256_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
      __m256i i32[4];
      for (int i = 0; i < 4; ++i) i32[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));
      // The packs work per 128-bit lane; the permute puts the 4-byte groups back in order.
      const __m256i i16a = _mm256_packs_epi32(i32[0], i32[1]), i16b = _mm256_packs_epi32(i32[2], i32[3]);
      qb = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(i16a, i16b), order);
      db = amax / 127.f;
    }
    alignas(32) int32_t words[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(words), qb);
    store_block_packed(q, cols / kBlock, b, words);
    d[b] = db;
  }
}

ASTRAEA_AVX2 inline float hsum_256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Half `half` of a group (blocks 8·half .. 8·half + n - 1 of it) of R rows x TT tokens into acc.
// kPartial: a trailing group of g < 16 blocks, steps 4g bytes apart, n = min(8, g - 8·half) dword
// lanes of w loaded under a mask; the rest read w = 0, which zeroes their products whatever x
// holds there (x is packed as w is: the same offsets pair them up), and meet zero scales.
template <int R, int TT, bool kPartial>
ASTRAEA_AVX2 ASTRAEA_INLINE void half_avx2(const Mk& m, const int8_t* const* xq, const float* const* xd, int64_t group,
                                          int64_t g, int half, __m256 (&acc)[R][TT], PrefetchCursor& pf) {
  const int64_t nb = m.cols / kBlock;
  const int64_t off = group * kGroupBytes + 32 * half;
  const int64_t step = kPartial ? 4 * g : 64;
  const int64_t n = kPartial ? std::min<int64_t>(8, g - 8 * half) : 8;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i wmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), lane);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i isum[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) isum[r][t] = _mm256_setzero_si256();
  for (int64_t k = 0; k < 8; ++k) {
    if (half == 0) pf.step();  // the cursor counts 64-byte steps, one per pair of halves
    __m256i wv[R], aw[R];
    for (int r = 0; r < R; ++r) {
      const int8_t* src = m.w + r * m.cols + off + k * step;
      wv[r] = kPartial ? _mm256_maskload_epi32(reinterpret_cast<const int*>(src), wmask)
                       : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      aw[r] = _mm256_abs_epi8(wv[r]);
    }
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + off + k * step));
      for (int r = 0; r < R; ++r) {
        const __m256i pairs = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(xv, wv[r]));
        isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(pairs, ones16));
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const uint16_t* s = m.s + r * nb + group * kGroupBlocks + 8 * half;
    __m128i s8;
    if (kPartial && n < 8) {
      alignas(16) uint16_t part[8] = {};  // never read past the row's last scale
      std::memcpy(part, s, size_t(n) * 2);
      s8 = _mm_load_si128(reinterpret_cast<const __m128i*>(part));
    } else {
      s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    }
    const __m256 dw = _mm256_cvtph_ps(s8);
    for (int t = 0; t < TT; ++t)
      acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum[r][t]), dw),
                                  _mm256_loadu_ps(xd[t] + group * kGroupBlocks + 8 * half), acc[r][t]);
  }
}

template <int R, int TT>
ASTRAEA_AVX2 void mk_avx2(const Mk& m) {
  const QActs& a = *m.a;
  const int64_t nb = m.cols / kBlock;
  const int64_t whole = nb / kGroupBlocks, tail = nb % kGroupBlocks;
  const int8_t* xq[TT];
  const float* xd[TT];
  for (int t = 0; t < TT; ++t) {
    xq[t] = a.q + (m.t + t) * a.q_stride();
    xd[t] = a.d + (m.t + t) * a.d_stride();
  }
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  PrefetchCursor pf(m, 8 * (whole + (tail ? 1 : 0)));
  for (int64_t group = 0; group < whole; ++group) {
    half_avx2<R, TT, false>(m, xq, xd, group, kGroupBlocks, 0, acc, pf);
    half_avx2<R, TT, false>(m, xq, xd, group, kGroupBlocks, 1, acc, pf);
  }
  if (tail) {
    half_avx2<R, TT, true>(m, xq, xd, whole, tail, 0, acc, pf);
    if (tail > 8) half_avx2<R, TT, true>(m, xq, xd, whole, tail, 1, acc, pf);
  }
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < R; ++r) m.y[t * m.ldy + r] = hsum_256(acc[r][t]) + (m.bias ? m.bias[r] : 0.f);
}

struct Avx2 {
  // 16 ymm registers: 6 int32 accumulators, 2 weight and 2 |weight| vectors, x, ones and a
  // temporary in the loop; the 6 F32 accumulators, touched once per 8 steps, may live in memory.
  static constexpr int kR = 2;
  static constexpr int kTT = 3;
  static constexpr bool kCorrections = false;
  static void quantize(const float* x, int64_t cols, QActs& a, int64_t t) {
    quantize_token_avx2(x, cols, a.q + t * a.q_stride(), a.d + t * a.d_stride());
  }
  template <int R, int TT = kTT>
  static void mk(int64_t tt, const Mk& m) {  // tt <= kTT tokens
    if constexpr (TT > 1)
      if (tt < TT) return mk<R, TT - 1>(tt, m);
    mk_avx2<R, TT>(m);
  }
};

#endif  // ASTRAEA_X86_SIMD

// ---------------------------------------------------------------------------------------------
// Driver.

struct Job {
  const QActs* a;
  const int8_t* w;
  const uint16_t* s;
  int64_t rows, cols;
  const float* bias;
  float* y;
};

#ifdef ASTRAEA_X86_SIMD

// How many row blocks ahead the kernels prefetch (see Mk::pf_begin).
constexpr int64_t kPrefetchAhead = 3;

// Rows [r0, r1) of y for tokens [t0, t1), in R-row x TT-token micro-kernel calls.
template <class Isa>
void item_simd(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int64_t nb = j.cols / kBlock;
  for (int64_t t = t0; t < t1; t += Isa::kTT) {
    const int64_t tt = std::min<int64_t>(Isa::kTT, t1 - t);
    Mk m{j.a, t, nullptr, nullptr, j.cols, nullptr, nullptr, j.rows, nullptr, nullptr};
    int64_t r = r0;
    auto at = [&](int64_t row) {
      m.w = j.w + row * j.cols;
      m.s = j.s + row * nb;
      m.bias = j.bias ? j.bias + row : nullptr;
      m.y = j.y + t * j.rows + row;
      // This call's share of the rows kPrefetchAhead blocks on (past the chunk too: the next
      // chunk is often this thread's next item, and a stray prefetch costs one line of bandwidth).
      const int64_t pf_row = std::min(j.rows, row + kPrefetchAhead * Isa::kR);
      m.pf_begin = reinterpret_cast<const char*>(j.w + pf_row * j.cols);
      m.pf_end = reinterpret_cast<const char*>(j.w + std::min(j.rows, pf_row + Isa::kR) * j.cols);
    };
    for (; r + Isa::kR <= r1; r += Isa::kR) at(r), Isa::template mk<Isa::kR>(tt, m);
    for (; r < r1; ++r) at(r), Isa::template mk<1>(tt, m);
  }
}

#endif  // ASTRAEA_X86_SIMD

void item_scalar(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  rows_scalar(*j.a, j.w, j.s, j.cols, j.bias, j.y, j.rows, r0, r1, t0, t1);
}

using ItemFn = void (*)(const Job&, int64_t, int64_t, int64_t, int64_t);
using QuantizeFn = void (*)(const float* x, int64_t cols, QActs& a, int64_t t);

void quantize_scalar(const float* x, int64_t cols, QActs& a, int64_t t) {
  quantize_token_scalar(x, cols, a.q + t * a.q_stride(), a.d + t * a.d_stride());
}

struct Path {
  ItemFn item;
  QuantizeFn quantize;
  bool corrections;  // needs QActs::corr
};

Path select_path() {
#ifdef ASTRAEA_X86_SIMD
  const SimdLevel level = simd_level();
  if (level == SimdLevel::Avx512 && cpu_has_avx512_vnni()) return {item_simd<Vnni>, Vnni::quantize, Vnni::kCorrections};
  if (level == SimdLevel::Avx512 || level == SimdLevel::Avx2) return {item_simd<Avx2>, Avx2::quantize, Avx2::kCorrections};
#endif
  return {item_scalar, quantize_scalar, false};
}

// One buffer per calling thread, grown as needed and 64-byte aligned.
QActs make_acts(int64_t T, int64_t cols, bool corrections) {
  QActs a;
  a.T = T;
  a.cols = cols;
  a.padded = (cols + kGroupBytes - 1) / kGroupBytes * kGroupBytes;
  const size_t q_bytes = size_t(T * a.padded);
  const size_t d_bytes = size_t(T * a.d_stride()) * 4;
  const size_t corr_bytes = corrections ? d_bytes : 0;
  auto up64 = [](size_t n) { return (n + 63) / 64 * 64; };
  const size_t total = up64(q_bytes) + up64(d_bytes) + up64(corr_bytes) + 64;
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < total) {
    buf.clear();
    buf.shrink_to_fit();
    buf.resize(total);
  }
  uint8_t* p = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  a.q = reinterpret_cast<int8_t*>(p);
  p += up64(q_bytes);
  a.d = reinterpret_cast<float*>(p);
  p += up64(d_bytes);
  if (corrections) a.corr = reinterpret_cast<int32_t*>(p);
  // The padding stays zero: the quantizers, which run after this, write only the cols/32 blocks.
  // A trailing partial group is cleared whole, since packed its missing blocks are interleaved
  // with the present ones.
  const int64_t nb = cols / kBlock, first_pad_block = nb / kGroupBlocks * kGroupBlocks;
  if (a.padded != cols) {
    for (int64_t t = 0; t < T; ++t) {
      std::fill(a.q + t * a.padded + first_pad_block * kBlock, a.q + (t + 1) * a.padded, int8_t(0));
      std::fill(a.d + t * a.d_stride() + nb, a.d + (t + 1) * a.d_stride(), 0.f);
      if (corrections) std::fill(a.corr + t * a.d_stride() + nb, a.corr + (t + 1) * a.d_stride(), 0);
    }
  }
  return a;
}

constexpr int64_t kChunkBytes = 192 * 1024;  // weight bytes per row chunk (stays in L2)
constexpr int64_t kTileBytes = 256 * 1024;   // quantized activation bytes per token tile

}  // namespace

void matmul_q8(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
               ThreadPool& pool) {
  const MatmulOutput out{&w, bias, y};
  matmul_q8_fused(x, T, &out, 1, pool);
}

void matmul_q8_fused(const float* x, int64_t T, const MatmulOutput* outs, int count, ThreadPool& pool) {
  if (count <= 0) return;
  const int64_t cols = outs[0].w->cols;
  for (int i = 0; i < count; ++i) {
    const WeightView& w = *outs[i].w;
    if (w.dtype != DType::Q8_0) throw EngineError(codes::kInvalidArgument, "matmul_q8: the weight is not Q8_0");
    if (T < 0 || w.rows < 0 || w.cols < 0) throw EngineError(codes::kInvalidArgument, "matmul: negative size");
    if (w.cols != cols) throw EngineError(codes::kInvalidArgument, "matmul: fused weights must share their columns and dtype");
    if (w.cols % kBlock != 0)
      throw EngineError(codes::kInvalidArgument, "matmul: a Q8_0 matrix needs cols divisible by 32, got " + std::to_string(w.cols));
    if (T > 0 && w.rows > 0 && (!outs[i].y || (w.cols > 0 && (!x || !w.data || !w.scales))))
      throw EngineError(codes::kInvalidArgument, "matmul: null pointer");
  }
  if (T == 0) return;
  if (cols == 0) {  // empty reduction: y is just the bias
    for (int i = 0; i < count; ++i)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < outs[i].w->rows; ++r) outs[i].y[t * outs[i].w->rows + r] = outs[i].bias ? outs[i].bias[r] : 0.f;
    return;
  }

  // The activations are quantized once for every product.
  const Path path = select_path();
  QActs acts = make_acts(T, cols, path.corrections);
  const int64_t threads = pool.size();
  if (T >= 2 * threads && threads > 1) {
    pool.parallel_for(T, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) path.quantize(x + t * cols, cols, acts, t);
    });
  } else {
    for (int64_t t = 0; t < T; ++t) path.quantize(x + t * cols, cols, acts, t);
  }

  // Row chunks of a multiple of 8 rows, small enough that each thread gets several; token tiles
  // so that a tile's activations (~3 bytes per column per token) stay in L2 next to the chunk.
  // The chunks of all products form one list, claimed dynamically, so a call forks and joins once.
  struct Chunk {
    int output;
    int64_t r0, r1;
  };
  std::vector<Chunk> chunks;
  std::vector<Job> jobs;
  const int64_t row_bytes = cols + cols / kBlock * 2;
  for (int i = 0; i < count; ++i) {
    const WeightView& w = *outs[i].w;
    jobs.push_back(Job{&acts, static_cast<const int8_t*>(w.data), w.scales, w.rows, w.cols, outs[i].bias, outs[i].y});
    int64_t chunk = std::max<int64_t>(8, kChunkBytes / row_bytes / 8 * 8);
    chunk = std::min(chunk, std::max<int64_t>(8, w.rows / (threads * 4) / 8 * 8));
    for (int64_t r0 = 0; r0 < w.rows; r0 += chunk) chunks.push_back({i, r0, std::min(w.rows, r0 + chunk)});
  }
  const int64_t n_chunks = int64_t(chunks.size());
  const int64_t tile = std::max<int64_t>(12, std::min<int64_t>(60, kTileBytes / (3 * cols)));
  const int64_t n_tiles = (T + tile - 1) / tile;
  const int64_t n_items = n_chunks * n_tiles;

  std::atomic<int64_t> next_item{0};
  auto worker = [&] {
    for (int64_t it = next_item.fetch_add(1, std::memory_order_relaxed); it < n_items;
         it = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const Chunk& c = chunks[size_t(it % n_chunks)];  // tile-major: a tile meets every chunk
      const int64_t t0 = it / n_chunks * tile;
      path.item(jobs[size_t(c.output)], c.r0, c.r1, t0, std::min(T, t0 + tile));
    }
  };
  if (n_items <= 1 || threads == 1) {
    worker();
    return;
  }
  pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) worker();
  });
}

void pack_q8_quants(int8_t* quants, int64_t rows, int64_t cols, ThreadPool& pool) {
  if (rows < 0 || cols < 0 || cols % kBlock != 0)
    throw EngineError(codes::kInvalidArgument, "pack_q8_quants: a Q8_0 matrix needs cols divisible by 32, got " + std::to_string(cols));
  if (rows == 0 || cols == 0) return;
  if (!quants) throw EngineError(codes::kInvalidArgument, "pack_q8_quants: null pointer");
  pool.parallel_for(rows, std::max<int64_t>(1, (int64_t(1) << 16) / cols), [&](int64_t begin, int64_t end) {
    std::vector<int8_t> row(static_cast<size_t>(cols));  // this thread's copy of the planar row
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(row.data(), quants + r * cols, size_t(cols));
      pack_row(row.data(), cols, quants + r * cols);
    }
  });
}

void unpack_q8_quants(const int8_t* packed, int64_t rows, int64_t cols, int8_t* planar) {
  if (rows < 0 || cols < 0 || cols % kBlock != 0)
    throw EngineError(codes::kInvalidArgument, "unpack_q8_quants: a Q8_0 matrix needs cols divisible by 32, got " + std::to_string(cols));
  for (int64_t r = 0; r < rows; ++r) unpack_row(packed + r * cols, cols, planar + r * cols);
}

}  // namespace astraea
