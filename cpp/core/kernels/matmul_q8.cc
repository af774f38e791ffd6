// Q8_0 matmul kernels: AVX-512 VNNI, AVX2, scalar. Layout and error: see matmul_q8.h. Over 500
// lines on purpose, like matmul.cc: the three paths share the activation layout, the job split and
// the dispatch — one algorithm in three instruction sets.
//
// Each path has two halves: an activation quantizer (x -> int8 per 32-block) and a micro-kernel
// computing an R-rows x TT-tokens block of y. The driver at the bottom is shared: it quantizes all
// T tokens once (once for all the products of a fused call), then splits rows into chunks (and
// long prompts into token tiles) claimed dynamically by the pool's threads, as matmul.cc does.
// At T=1 the GEMV streams ~1.06 bytes per weight (quant + 2/32 of a scale) instead of BF16's 2;
// at T>1 each weight vector, loaded and prepared once, is reused for TT tokens.
#include "core/kernels/matmul_q8.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/errors.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/simd.h"

namespace astraea {

namespace {

constexpr int64_t kBlock = kQ8BlockSize;

// The quantized activations of T tokens. Rows are padded to a multiple of 64 columns (two blocks,
// one AVX-512 step) with zero quants, zero scales and zero corrections, so the kernels never need
// a partial x load.
struct QActs {
  int64_t T = 0, cols = 0, padded = 0;  // padded: a multiple of 64
  int8_t* q = nullptr;                  // [T][padded]
  float* d = nullptr;                   // [T][padded/32] block scales dx
  // VNNI path only: vpdpbusd multiplies unsigned by signed bytes, so the kernel feeds it
  // (w + 128) as unsigned and starts each int32 lane at -128·(sum of the lane's 4 x quants),
  // which cancels the offset exactly. lane_d holds each lane's block scale (8 lanes per block).
  int32_t* corr = nullptr;  // [T][padded/4]
  float* lane_d = nullptr;  // [T][padded/4]
  int64_t q_stride() const { return padded; }
  int64_t d_stride() const { return padded / kBlock; }
  int64_t lane_stride() const { return padded / 4; }
};

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
// Scalar kernel: one exact integer dot per block, scaled and summed in F32 in block order.

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
        int32_t dot = 0;
        for (int64_t i = b * kBlock; i < (b + 1) * kBlock; ++i) dot += int32_t(wr[i]) * int32_t(xq[i]);
        sum += float(dot) * (dw[size_t(b)] * xd[b]);
      }
      y[t * ldy + r] = sum + (bias ? bias[r] : 0.f);
    }
  }
}

#ifdef ASTRAEA_X86_SIMD

#define ASTRAEA_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

ASTRAEA_AVX512 inline __m128 fold_512(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Four horizontal sums as one 4-float vector (lane i = sum of input i): each input folded to
// 128 bits, then two rounds of pairwise adds.
ASTRAEA_AVX512 inline __m128 hsum4_512(__m512 a, __m512 b, __m512 c, __m512 d) {
  return _mm_hadd_ps(_mm_hadd_ps(fold_512(a), fold_512(b)), _mm_hadd_ps(fold_512(c), fold_512(d)));
}

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI. One step covers 64 columns (two blocks): vpdpbusd turns 64 byte products into
// 16 int32 lanes, lanes 0-7 from the first block and 8-15 from the second; each lane is converted
// to F32 and multiplied by its block's weight scale and activation scale. The 16 weight scales of
// a 512-column stretch are loaded and widened once; each step spreads two of them over the lane
// halves with one permute.

ASTRAEA_AVX512_VNNI void quantize_token_vnni(const float* x, int64_t cols, int8_t* q, float* d,
                                             int32_t* corr, float* lane_d) {
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
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kBlock), qb);
    d[b] = db;
    // Sum of each lane's 4 quants (1 x q, unsigned x signed), times -128.
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, qb);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr + b * 8), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
    _mm256_storeu_ps(lane_d + b * 8, _mm256_set1_ps(db));
  }
}

// Arguments of one micro-kernel call: R weight rows from w (stride ld_w quants, ld_s scales),
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

// Cache lines to prefetch per step so that [begin, end) is covered in `steps` steps.
inline int64_t prefetch_per_step(const Mk& m, int64_t steps) {
  const int64_t lines = m.pf_end > m.pf_begin ? (m.pf_end - m.pf_begin + 63) / 64 : 0;
  return (lines + steps - 1) / std::max<int64_t>(steps, 1);
}

template <int R, int TT>
ASTRAEA_AVX512_VNNI void mk_vnni(const Mk& m) {
  const QActs& a = *m.a;
  const int64_t nb = m.cols / kBlock;
  const int8_t* xq[TT];
  const int32_t* xc[TT];
  const float* xd[TT];
  for (int t = 0; t < TT; ++t) {
    xq[t] = a.q + (m.t + t) * a.q_stride();
    xc[t] = a.corr + (m.t + t) * a.lane_stride();
    xd[t] = a.lane_d + (m.t + t) * a.lane_stride();
  }
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  const __m512i idx0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i two = _mm512_set1_epi32(2);
  const char* pf = m.pf_begin;
  const int64_t pf_step = prefetch_per_step(m, (nb + 1) / 2);

  for (int64_t sb = 0; sb < nb; sb += 16) {
    const int64_t nblk = std::min<int64_t>(16, nb - sb);
    const __mmask16 smask = __mmask16((1u << unsigned(nblk)) - 1u);
    __m512 sv[R];
    for (int r = 0; r < R; ++r)
      sv[r] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(smask, m.s + r * nb + sb));
    __m512i idx = idx0;
    for (int64_t j = 0; j < nblk; j += 2, idx = _mm512_add_epi32(idx, two)) {
      const int64_t col = (sb + j) * kBlock;
      // A last odd block loads 32 bytes; the upper half reads as 0x80 (0 after the flip) against
      // the zero padding of x, and its scale lane is 0.
      const __mmask64 wmask = nblk - j >= 2 ? ~__mmask64(0) : __mmask64(0xFFFFFFFFu);
      for (int64_t i = 0; i < pf_step && pf < m.pf_end; ++i, pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
      __m512i wv[R];
      __m512 dw[R];
      for (int r = 0; r < R; ++r) {
        wv[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(wmask, m.w + r * m.cols + col), flip);
        dw[r] = _mm512_permutexvar_ps(idx, sv[r]);
      }
      for (int t = 0; t < TT; ++t) {
        const __m512i xv = _mm512_loadu_si512(xq[t] + col);
        const __m512i cv = _mm512_loadu_si512(xc[t] + col / 4);
        const __m512 dv = _mm512_loadu_ps(xd[t] + col / 4);
        for (int r = 0; r < R; ++r) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(cv, wv[r], xv));
          acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dot, dw[r]), dv, acc[r][t]);
        }
      }
    }
  }

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
  static constexpr int kR = 4;       // rows per block at T > 1 and in the GEMV
  static constexpr int64_t kTT = 3;  // 12 accumulators + 4 scale, 4 weight, 4 spread-scale vectors
  static void quantize(const float* x, int64_t cols, QActs& a, int64_t t) {
    quantize_token_vnni(x, cols, a.q + t * a.q_stride(), a.d + t * a.d_stride(), a.corr + t * a.lane_stride(),
                        a.lane_d + t * a.lane_stride());
  }
  template <int R>
  static void mk(int64_t tt, const Mk& m) {
    switch (tt) {
      case 1: return mk_vnni<R, 1>(m);
      case 2: return mk_vnni<R, 2>(m);
      default: return mk_vnni<R, 3>(m);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// AVX2 (also the AVX-512 path on CPUs without VNNI). One step is one block: vpmaddubsw needs an
// unsigned operand, so it multiplies |w| by x with w's sign moved onto it (|products| <= 128·127,
// pairs <= 32512: no saturation), vpmaddwd with ones sums to 8 int32 lanes, and the block's
// scales d·dx multiply their F32 conversion.

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
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kBlock), qb);
    d[b] = db;
  }
}

ASTRAEA_AVX2 inline float hsum_256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R, int TT>
ASTRAEA_AVX2 void mk_avx2(const Mk& m) {
  const QActs& a = *m.a;
  const int64_t nb = m.cols / kBlock;
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  const __m256i ones16 = _mm256_set1_epi16(1);
  const char* pf = m.pf_begin;
  const int64_t pf_step = prefetch_per_step(m, nb);
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t i = 0; i < pf_step && pf < m.pf_end; ++i, pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
    __m256i wv[R], aw[R];
    float dw[R];
    for (int r = 0; r < R; ++r) {
      wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m.w + r * m.cols + b * kBlock));
      aw[r] = _mm256_abs_epi8(wv[r]);
      dw[r] = _cvtsh_ss(m.s[r * nb + b]);
    }
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q + (m.t + t) * a.q_stride() + b * kBlock));
      const float dx = a.d[(m.t + t) * a.d_stride() + b];
      for (int r = 0; r < R; ++r) {
        const __m256i pairs = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(xv, wv[r]));
        const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones16));
        acc[r][t] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw[r] * dx), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < R; ++r) m.y[t * m.ldy + r] = hsum_256(acc[r][t]) + (m.bias ? m.bias[r] : 0.f);
}

struct Avx2 {
  static constexpr int kR = 2;       // 16 registers: 6 accumulators, 2 weight and 2 |weight|
  static constexpr int64_t kTT = 3;  // vectors, x, ones and temporaries
  static void quantize(const float* x, int64_t cols, QActs& a, int64_t t) {
    quantize_token_avx2(x, cols, a.q + t * a.q_stride(), a.d + t * a.d_stride());
  }
  template <int R>
  static void mk(int64_t tt, const Mk& m) {
    switch (tt) {
      case 1: return mk_avx2<R, 1>(m);
      case 2: return mk_avx2<R, 2>(m);
      default: return mk_avx2<R, 3>(m);
    }
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
  bool lanes;  // needs QActs::corr and lane_d
};

Path select_path() {
#ifdef ASTRAEA_X86_SIMD
  const SimdLevel level = simd_level();
  if (level == SimdLevel::Avx512 && cpu_has_avx512_vnni()) return {item_simd<Vnni>, Vnni::quantize, true};
  if (level == SimdLevel::Avx512 || level == SimdLevel::Avx2) return {item_simd<Avx2>, Avx2::quantize, false};
#endif
  return {item_scalar, quantize_scalar, false};
}

// One buffer per calling thread, grown as needed and 64-byte aligned.
QActs make_acts(int64_t T, int64_t cols, bool lanes) {
  QActs a;
  a.T = T;
  a.cols = cols;
  a.padded = (cols + 63) / 64 * 64;
  const size_t q_bytes = size_t(T * a.padded);
  const size_t d_bytes = size_t(T * a.d_stride()) * 4;
  const size_t lane_bytes = lanes ? size_t(T * a.lane_stride()) * 4 : 0;
  auto up64 = [](size_t n) { return (n + 63) / 64 * 64; };
  const size_t total = up64(q_bytes) + up64(d_bytes) + 2 * up64(lane_bytes) + 64;
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
  if (lanes) {
    a.corr = reinterpret_cast<int32_t*>(p);
    p += up64(lane_bytes);
    a.lane_d = reinterpret_cast<float*>(p);
  }
  // The padding columns stay zero: the quantizers write only [0, cols).
  if (a.padded != cols) {
    for (int64_t t = 0; t < T; ++t) {
      std::fill(a.q + t * a.padded + cols, a.q + (t + 1) * a.padded, int8_t(0));
      std::fill(a.d + t * a.d_stride() + cols / kBlock, a.d + (t + 1) * a.d_stride(), 0.f);
      if (lanes) {
        std::fill(a.corr + t * a.lane_stride() + cols / 4, a.corr + (t + 1) * a.lane_stride(), 0);
        std::fill(a.lane_d + t * a.lane_stride() + cols / 4, a.lane_d + (t + 1) * a.lane_stride(), 0.f);
      }
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
  QActs acts = make_acts(T, cols, path.lanes);
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

}  // namespace astraea
