// Batched matmul kernels (AVX-512, AVX2, scalar). Over 500 lines on purpose: the three paths share
// the job layout, the tiling and the dispatch — one algorithm, three instruction sets (details below).
#include "core/kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/errors.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/bf16_dot.h"
#include "core/kernels/bf16_panels.h"
#include "core/kernels/matmul_q8.h"
#include "core/kernels/vec.h"

#include "core/kernels/simd.h"

// How the work is laid out, and why.
//
// The weight is [rows][cols] with cols (the reduction dimension) contiguous, so every output is a
// dot product along a contiguous weight row. A micro-kernel computes an R-rows x TT-tokens block
// of y: per vector step along cols it loads TT token vectors and R weight vectors, widening each
// weight vector once and using it for TT FMAs. At T=1 it is a GEMV instead (gemv_rows: one row
// after the other, one sequential stream), bound by how fast the weight streams from DRAM, and the
// weights of a fused call (q, k, v; gate, up) share one fork-join (matmul_fused). At T>1 each
// weight byte fetched from DRAM feeds T FMAs, so the
// work becomes compute-bound, and then it matters where the operands come from:
//
//  * x block in L1. Inside a work item the loops run k-block -> token block -> row block, so the
//    TT x rows of one k-block (at most kKBlock floats each, 24 KB for 6 tokens) stay in L1 while
//    the weight streams past from L2. A weight vector (R of them per step) costs 1/TT of an x
//    vector per FMA, so streaming the weight is the cheaper side.
//  * weight chunk in L2. A work item covers a row chunk of about kChunkBytes, which stays in L2
//    while every token block of the tile passes over it.
//  * next chunk on its way from DRAM. Each thread claims its next item before it starts the
//    current one and software-prefetches that item's weight chunk, spread evenly over the current
//    item's micro-kernel calls, so part of the DRAM transfer overlaps compute. (Measured on Zen:
//    worth ~10% at T=4..8 and neutral at T>=32; a core cannot keep enough software prefetches in
//    flight to hide DRAM completely, so the first pass over a chunk still runs near memory speed.)
//    Claiming stays dynamic, so a descheduled thread does not hold up work.
//  * x rows padded (make_job) so the TT token rows of a block do not share an L1 set.
//  * x tile in L2. Long prompts are cut into token tiles of about kTileBytes of x; items are
//    ordered tile-major, so a tile is reused across all row chunks while the weight is re-read
//    once per tile.

namespace astraea {

namespace {

struct Job {
  const float* x;
  const void* w;
  const float* bias;
  float* y;
  int64_t T;
  int64_t rows;
  int64_t cols;
  int64_t ldx;  // floats between consecutive tokens of x (>= cols; padded, see make_job)
  const uint16_t* x_hi = nullptr;  // BF16 with AVX-512 BF16, T = 1 or in panels: x as BF16 terms (split_bf16_terms)
  const uint16_t* x_lo = nullptr;  // null with activations rounded to BF16: x_hi is x
  const uint16_t* x_bf16 = nullptr;  // T > 1, activations rounded to BF16, AVX-512 BF16: x in BF16
  int64_t ld_bf16 = 0;  // between tokens of x_hi, x_lo and x_bf16
};

// A byte range for a micro-kernel to software-prefetch, spread evenly over its reduction loop.
struct Prefetch {
  const char* begin = nullptr;
  const char* end = nullptr;
  // Cache lines to issue per vector step so the whole range is covered by the end of the loop.
  int64_t per_step(int64_t steps) const {
    const int64_t lines = (end - begin + 63) / 64;
    return lines <= 0 ? 0 : (lines + std::max<int64_t>(steps, 1) - 1) / std::max<int64_t>(steps, 1);
  }
};

// Splits one contiguous range into `parts` consecutive slices of whole cache lines.
struct PrefetchPlan {
  const char* base;
  int64_t lines, parts;
  PrefetchPlan(Prefetch range, int64_t n)
      : base(range.begin),
        lines(range.end > range.begin ? (range.end - range.begin + 63) / 64 : 0),
        parts(std::max<int64_t>(n, 1)) {}
  Prefetch slice(int64_t i) const {
    Prefetch pf;
    if (lines == 0) return pf;
    pf.begin = base + (lines * i / parts) * 64;
    pf.end = base + (lines * (i + 1) / parts) * 64;
    return pf;
  }
};

// Splits the reduction (n columns) into the fewest blocks of at most max_len, of nearly equal
// size, every block but the last a multiple of `align` so that only the last one has a partial
// (masked) vector step.
struct Blocks {
  int64_t count, len;
  int64_t n;
  Blocks(int64_t n_, int64_t max_len, int64_t align = 1) : n(n_) {
    count = (n + max_len - 1) / max_len;
    len = (n + count - 1) / count;
    len = (len + align - 1) / align * align;
    count = (n + len - 1) / len;
  }
  int64_t begin(int64_t i) const { return i * len; }
  int64_t size(int64_t i) const { return std::min(len, n - i * len); }
};

// Splits n tokens into the fewest blocks of at most max_tt, sizes differing by at most one, so a
// batch of 8 with blocks of at most 6 runs as 4+4 rather than 6+2 (a 2-token block reuses each
// widened weight vector only twice).
struct TokenBlocks {
  int64_t count, base, extra;  // the first `extra` blocks get base+1 tokens
  TokenBlocks(int64_t n, int64_t max_tt) {
    count = (n + max_tt - 1) / max_tt;
    base = n / count;
    extra = n % count;
  }
  int64_t begin(int64_t i) const { return i * base + std::min(i, extra); }
  int64_t size(int64_t i) const { return base + (i < extra ? 1 : 0); }
};

// The reduction is cut into blocks of at most this many columns so that a token block's x slice
// (6 tokens x 1024 floats = 24 KB) stays in a 32-48 KB L1 while the row blocks pass over it.
constexpr int64_t kKBlock = 1024;

// Arguments of one micro-kernel call. x points at (token 0, column 0 of the k-block), w at
// (row 0, same column), y at (token 0, row 0). If accumulate, the sums are added to y (a later
// k-block); otherwise y is overwritten with sums + bias (bias may be null).
struct MkArgs {
  const float* x;
  int64_t ldx;
  const void* w;
  int64_t ldw;
  int64_t klen;
  const float* bias;
  bool accumulate;
  float* y;
  int64_t ldy;
  Prefetch pf;
};

template <DType DT>
using Elem = std::conditional_t<DT == DType::F32, float, uint16_t>;

// ---------------------------------------------------------------------------------------------
// Scalar fallback: portable, used on CPUs without AVX2+FMA+F16C and on non-x86 builds.

template <DType DT>
inline float widen(const void* p, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(p)[i];
  else if constexpr (DT == DType::F16) return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  else return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

template <DType DT>
void item_scalar(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1, Prefetch) {
  const int64_t K = j.cols;
  // Widen each weight row once and reuse it for every token of the tile.
  std::vector<float> row(DT == DType::F32 ? 0 : size_t(K));
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr;
    if constexpr (DT == DType::F32) {
      wr = static_cast<const float*>(j.w) + r * K;
    } else {
      const void* src = static_cast<const uint16_t*>(j.w) + r * K;
      for (int64_t k = 0; k < K; ++k) row[size_t(k)] = widen<DT>(src, k);
      wr = row.data();
    }
    const float b = j.bias ? j.bias[r] : 0.f;
    for (int64_t t = t0; t < t1; ++t) j.y[t * j.rows + r] = dot_f32(j.x + t * j.ldx, wr, K) + b;
  }
}

#ifdef ASTRAEA_X86_SIMD

// ---------------------------------------------------------------------------------------------
// AVX-512: 16 floats per vector, 32 registers. Main block 4 rows x 6 tokens = 24 accumulators
// + 4 widened weight vectors + 1 x vector = 29 registers, no spills. (Measured against 6x4, 8x3,
// 5x5, 3x8 and 2x12 on Zen: 4x6 was best or tied everywhere.) The column tail is one masked
// step, so there is no scalar clean-up and no read past the end of a row.

template <DType DT>
ASTRAEA_AVX512 inline __m512 load_w512(const Elem<DT>* p) {
  if constexpr (DT == DType::F32) {
    return _mm512_loadu_ps(p);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (DT == DType::F16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType DT>
ASTRAEA_AVX512 inline __m512 load_w512_mask(const Elem<DT>* p, __mmask16 m) {
  if constexpr (DT == DType::F32) {
    return _mm512_maskz_loadu_ps(m, p);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if constexpr (DT == DType::F16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType DT, int R, int TT>
ASTRAEA_AVX512 void mk512(const MkArgs& a) {
  const Elem<DT>* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = static_cast<const Elem<DT>*>(a.w) + r * a.ldw;
  const float* x = a.x;
  const int64_t ldx = a.ldx, K = a.klen;
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();

  const char* pf = a.pf.begin;
  const int64_t pf_step = a.pf.per_step(K / 16);
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    for (int64_t i = 0; i < pf_step && pf < a.pf.end; ++i, pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
    // Widen the R weight vectors once, then stream the token vectors past them.
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load_w512<DT>(wr[r] + k);
    for (int t = 0; t < TT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * ldx + k);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (k < K) {
    const __mmask16 m = __mmask16((1u << unsigned(K - k)) - 1u);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x + t * ldx + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w512_mask<DT>(wr[r] + k, m);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }

  for (int t = 0; t < TT; ++t) {
    float* yt = a.y + t * a.ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      __m128 s = reduce4_512(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
      if (a.accumulate) s = _mm_add_ps(s, _mm_loadu_ps(yt + r));
      else if (a.bias) s = _mm_add_ps(s, _mm_loadu_ps(a.bias + r));
      _mm_storeu_ps(yt + r, s);
    }
    for (; r < R; ++r) {
      const float s = _mm512_reduce_add_ps(acc[r][t]);
      yt[r] = a.accumulate ? yt[r] + s : s + (a.bias ? a.bias[r] : 0.f);
    }
  }
}

struct Avx512 {
  static constexpr int kR = 4;
  static constexpr int64_t kTT = 6;

  template <DType DT, int R>
  ASTRAEA_AVX512 static void mk(int64_t tt, const MkArgs& a) {
    switch (tt) {
      case 1: return mk512<DT, R, 1>(a);
      case 2: return mk512<DT, R, 2>(a);
      case 3: return mk512<DT, R, 3>(a);
      case 4: return mk512<DT, R, 4>(a);
      case 5: return mk512<DT, R, 5>(a);
      default: return mk512<DT, R, 6>(a);
    }
  }

  // One token (the GEMV), one weight row: four independent FMA chains.
  template <DType DT>
  ASTRAEA_AVX512 static float dot_row(const float* x, const Elem<DT>* w, int64_t K) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
      a0 = _mm512_fmadd_ps(load_w512<DT>(w + k), _mm512_loadu_ps(x + k), a0);
      a1 = _mm512_fmadd_ps(load_w512<DT>(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
      a2 = _mm512_fmadd_ps(load_w512<DT>(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
      a3 = _mm512_fmadd_ps(load_w512<DT>(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(load_w512<DT>(w + k), _mm512_loadu_ps(x + k), a0);
    if (k < K) {
      const __mmask16 m = __mmask16((1u << unsigned(K - k)) - 1u);
      a1 = _mm512_fmadd_ps(load_w512_mask<DT>(w + k, m), _mm512_maskz_loadu_ps(m, x + k), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }

};

// ---------------------------------------------------------------------------------------------
// AVX2: 8 floats per vector, 16 registers. Main block 4 rows x 3 tokens = 12 accumulators + 3 x
// vectors + 1 weight vector. AVX2 has no 16-bit masked load, so the column tail (< 8) is copied
// into zero-padded stack buffers and run as one more full step.

template <DType DT>
ASTRAEA_AVX2 inline __m256 load_w256(const Elem<DT>* p) {
  if constexpr (DT == DType::F32) {
    return _mm256_loadu_ps(p);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (DT == DType::F16) return _mm256_cvtph_ps(h);
    else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

ASTRAEA_AVX2 inline __m128 reduce4_256(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

ASTRAEA_AVX2 inline float reduce1_256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <DType DT, int R, int TT>
ASTRAEA_AVX2 void mk256(const MkArgs& a) {
  const Elem<DT>* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = static_cast<const Elem<DT>*>(a.w) + r * a.ldw;
  const float* x = a.x;
  const int64_t ldx = a.ldx, K = a.klen;
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();

  const char* pf = a.pf.begin;
  const int64_t pf_step = a.pf.per_step(K / 8);
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int64_t i = 0; i < pf_step && pf < a.pf.end; ++i, pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + k);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w256<DT>(wr[r] + k);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (k < K) {
    const int64_t rem = K - k;
    alignas(32) float xt[TT][8];
    alignas(32) float wt[R][8];
    for (int t = 0; t < TT; ++t)
      for (int i = 0; i < 8; ++i) xt[t][i] = i < rem ? x[t * ldx + k + i] : 0.f;
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < 8; ++i) wt[r][i] = i < rem ? widen<DT>(wr[r], k + i) : 0.f;
    for (int r = 0; r < R; ++r) {
      const __m256 wv = _mm256_load_ps(wt[r]);
      for (int t = 0; t < TT; ++t)
        acc[r][t] = _mm256_fmadd_ps(wv, _mm256_load_ps(xt[t]), acc[r][t]);
    }
  }

  for (int t = 0; t < TT; ++t) {
    float* yt = a.y + t * a.ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      __m128 s = reduce4_256(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
      if (a.accumulate) s = _mm_add_ps(s, _mm_loadu_ps(yt + r));
      else if (a.bias) s = _mm_add_ps(s, _mm_loadu_ps(a.bias + r));
      _mm_storeu_ps(yt + r, s);
    }
    for (; r < R; ++r) {
      const float s = reduce1_256(acc[r][t]);
      yt[r] = a.accumulate ? yt[r] + s : s + (a.bias ? a.bias[r] : 0.f);
    }
  }
}

struct Avx2 {
  static constexpr int kR = 4;
  static constexpr int64_t kTT = 3;

  template <DType DT, int R>
  ASTRAEA_AVX2 static void mk(int64_t tt, const MkArgs& a) {
    switch (tt) {
      case 1: return mk256<DT, R, 1>(a);
      case 2: return mk256<DT, R, 2>(a);
      default: return mk256<DT, R, 3>(a);
    }
  }

  // One token (the GEMV), one weight row: four independent FMA chains; the tail (< 8) through
  // zero-padded buffers, as in mk256. 16-bit weights prefetch the line 1 KB ahead of each step's
  // one line (32 weights): on a Zen 3 (AVX2 only, ~33 GB/s), BF16 batch-1 decode steps were
  // 4-18% shorter in six of six interleaved pairs (2, 4 and 8 KB gained less). F32 weights stream at the
  // bandwidth without it, and were no faster with it (docs/performance.md, "A real AVX2 machine").
  static constexpr int64_t kAvx2GemvPrefetchBytes = 1024;
  template <DType DT>
  ASTRAEA_AVX2 static float dot_row(const float* x, const Elem<DT>* w, int64_t K) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      if constexpr (DT != DType::F32) _mm_prefetch(reinterpret_cast<const char*>(w + k) + kAvx2GemvPrefetchBytes, _MM_HINT_T0);
      a0 = _mm256_fmadd_ps(load_w256<DT>(w + k), _mm256_loadu_ps(x + k), a0);
      a1 = _mm256_fmadd_ps(load_w256<DT>(w + k + 8), _mm256_loadu_ps(x + k + 8), a1);
      a2 = _mm256_fmadd_ps(load_w256<DT>(w + k + 16), _mm256_loadu_ps(x + k + 16), a2);
      a3 = _mm256_fmadd_ps(load_w256<DT>(w + k + 24), _mm256_loadu_ps(x + k + 24), a3);
    }
    for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(load_w256<DT>(w + k), _mm256_loadu_ps(x + k), a0);
    if (k < K) {
      alignas(32) float xt[8], wt[8];
      for (int i = 0; i < 8; ++i) {
        xt[i] = k + i < K ? x[k + i] : 0.f;
        wt[i] = k + i < K ? widen<DT>(w, k + i) : 0.f;
      }
      a1 = _mm256_fmadd_ps(_mm256_load_ps(wt), _mm256_load_ps(xt), a1);
    }
    return reduce1_256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  }

};

#endif  // ASTRAEA_X86_SIMD

// ---------------------------------------------------------------------------------------------
// Driver shared by the SIMD paths. `Isa` supplies the micro-kernels:
//   Isa::kTT                      largest token block
//   Isa::template mk<DT, R>(tt, MkArgs)   R = 4 or 1 rows, tt <= kTT tokens
//   Isa::template dot_row<DT>(x, w, K)    one row, one token (gemv_rows)

// T=1 over rows [r0, r1), one row after the other. The rows of a chunk are contiguous, so the
// weights stream as one sequential run. (Eight rows at a time, reusing each x vector for eight
// FMAs, read eight interleaved streams of one row's length each — 1.5 KB for a BF16 row of 768 —
// and the hardware prefetcher ramps up on every one of them: measured on Zen 4 from DRAM, 10.4
// GB/s on one core against 16.0 row by row, 17.7 against 28.6 on two; x stays in L1 either way.)
template <class Isa, DType DT>
void gemv_rows(const float* x, const Elem<DT>* W, int64_t K, const float* bias, float* y, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) y[r] = Isa::template dot_row<DT>(x, W + r * K, K) + (bias ? bias[r] : 0.f);
}

template <class Isa, DType DT>
void item_simd(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1, Prefetch next) {
  const Elem<DT>* W = static_cast<const Elem<DT>*>(j.w);
  const int64_t K = j.cols, ldy = j.rows;
#ifdef ASTRAEA_X86_SIMD
  if constexpr (DT == DType::BF16 && std::is_same_v<Isa, Avx512>) {
    if (j.x_bf16)
      return gemm_bf16_dot_rows(j.x_bf16 + t0 * j.ld_bf16, j.ld_bf16, t1 - t0, W, K, j.bias, j.y + t0 * ldy, ldy, r0, r1,
                                next.begin, next.end);
  }
#endif
  if (t1 - t0 == 1) {
    // GEMV: one pass over the weight; hardware prefetchers handle the sequential streams.
#ifdef ASTRAEA_X86_SIMD
    if constexpr (DT == DType::BF16 && std::is_same_v<Isa, Avx512>) {
      if (j.x_hi) return gemv_bf16_dot_rows(j.x_hi, j.x_lo, W, K, j.bias, j.y + t0 * ldy, r0, r1);
    }
#endif
    gemv_rows<Isa, DT>(j.x + t0 * j.ldx, W, K, j.bias, j.y + t0 * ldy, r0, r1);
    return;
  }
  const TokenBlocks tb(t1 - t0, Isa::kTT);
  const Blocks kb(K, kKBlock, 16);
  constexpr int kR = Isa::kR;
  const int64_t nR = (r1 - r0) / kR, n1 = (r1 - r0) % kR;
  const PrefetchPlan plan(next, kb.count * tb.count * (nR + n1));
  int64_t call = 0;
  for (int64_t b = 0; b < kb.count; ++b) {
    const int64_t k0 = kb.begin(b);
    for (int64_t i = 0; i < tb.count; ++i) {
      const int64_t t = t0 + tb.begin(i), tt = tb.size(i);
      MkArgs a;
      a.x = j.x + t * j.ldx + k0;
      a.ldx = j.ldx;
      a.ldw = K;
      a.klen = kb.size(b);
      a.accumulate = b > 0;
      a.ldy = ldy;
      int64_t r = r0;
      for (; r + kR <= r1; r += kR) {
        a.w = W + r * K + k0;
        a.bias = j.bias ? j.bias + r : nullptr;
        a.y = j.y + t * ldy + r;
        a.pf = plan.slice(call++);
        Isa::template mk<DT, kR>(tt, a);
      }
      for (; r < r1; ++r) {
        a.w = W + r * K + k0;
        a.bias = j.bias ? j.bias + r : nullptr;
        a.y = j.y + t * ldy + r;
        a.pf = plan.slice(call++);
        Isa::template mk<DT, 1>(tt, a);
      }
    }
  }
}

// Computes rows [r0, r1) of y for tokens [t0, t1), prefetching `next` (another item's weight).
using ItemFn = void (*)(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1,
                        Prefetch next);

// A BF16 weight in panels (bf16_panels.h): x as BF16 terms where make_x made them (AVX-512 BF16),
// else F32 x on the portable kernel (the SIMD level lowered under a model packed for it).
void item_panels(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1, Prefetch next) {
  const uint32_t* P = static_cast<const uint32_t*>(j.w);
  const int64_t ldy = j.rows, ld = j.ld_bf16;
  if (j.x_hi)
    return gemm_bf16_panels(j.x_hi + t0 * ld, j.x_lo ? j.x_lo + t0 * ld : nullptr, ld, t1 - t0, P, j.cols, j.bias,
                            j.y + t0 * ldy, ldy, r0, r1, next.begin, next.end);
  gemm_bf16_panels_portable(j.x + t0 * j.ldx, j.ldx, t1 - t0, P, j.cols, j.bias, j.y + t0 * ldy, ldy, r0, r1);
}

ItemFn select_item(SimdLevel level, DType dt) {
#ifdef ASTRAEA_X86_SIMD
  if (level == SimdLevel::Avx512) {
    switch (dt) {
      case DType::F32: return item_simd<Avx512, DType::F32>;
      case DType::F16: return item_simd<Avx512, DType::F16>;
      case DType::BF16: return item_simd<Avx512, DType::BF16>;
      case DType::Q8_0: break;  // matmul_q8's
    }
  }
  if (level == SimdLevel::Avx2) {
    switch (dt) {
      case DType::F32: return item_simd<Avx2, DType::F32>;
      case DType::F16: return item_simd<Avx2, DType::F16>;
      case DType::BF16: return item_simd<Avx2, DType::BF16>;
      case DType::Q8_0: break;
    }
  }
#else
  (void)level;
#endif
  switch (dt) {
    case DType::F32: return item_scalar<DType::F32>;
    case DType::F16: return item_scalar<DType::F16>;
    case DType::BF16: return item_scalar<DType::BF16>;
    case DType::Q8_0: break;
  }
  return nullptr;
}

// When cols*4 is a multiple of 4 KB (hidden sizes usually are), the same column of consecutive
// tokens falls in the same L1 set, and a micro-kernel reading 6-12 token rows at once evicts its
// own data (L1 is 8-12 way). Copying x with a row stride of cols + 16 floats (one cache line
// more) spreads the token rows over different sets. The copy is O(T*cols), tiny next to the
// O(T*cols*rows) product; at T=1 there is only one row and nothing to fix, but the BF16 GEMV with
// AVX-512 BF16 reads x as two BF16 terms (dot_bf16_row), made here once per call. With activations
// rounded to BF16 (x_dtype), x is made BF16 here: one term for the GEMV, BF16 rows (the same
// padding) for the batched dot-product kernel, or — without AVX-512 BF16 — F32 rows holding the
// rounded values. A weight in panels takes x as BF16 terms (one rounded, or two) at every T.
// The buffers are the calling thread's: the workers read them only inside this call.
Job make_x(const float* x, int64_t T, int64_t cols, DType dtype, DType x_dtype, bool panels, SimdLevel level) {
  Job j{x, nullptr, nullptr, nullptr, T, 0, cols, cols};
  const bool round_x = x_dtype == DType::BF16;
  const bool bf16_dot = dtype == DType::BF16 && level == SimdLevel::Avx512 && cpu_has_avx512_bf16();
  if (bf16_dot && (T == 1 || round_x || panels)) {
    thread_local std::vector<uint16_t> hi, lo;
    const int64_t padded = (cols + 31) / 32 * 32, ld = T == 1 ? padded : padded + 32;
    hi.resize(size_t(T * ld));
    if (!round_x) lo.resize(hi.size());
    for (int64_t t = 0; t < T; ++t)
      split_bf16_terms(x + t * cols, cols, hi.data() + t * ld, round_x ? nullptr : lo.data() + t * ld);
    j.x_hi = hi.data();
    j.x_lo = round_x ? nullptr : lo.data();
    j.ld_bf16 = ld;
    if (T > 1 && !panels) j.x_bf16 = hi.data();  // the rows' batched kernel (round_x here)
    return j;
  }
  if (T == 1 && !round_x) return j;
  const int64_t ldx = T == 1 ? cols : (cols + 15) / 16 * 16 + 16;
  thread_local std::vector<float> buf;
  const size_t need = size_t(T * ldx) + 16;
  if (buf.size() < need) {
    buf.clear();
    buf.shrink_to_fit();
    buf.resize(need);
  }
  // 64-byte align so every token row starts on a cache line.
  float* dst = buf.data();
  dst += (16 - (reinterpret_cast<uintptr_t>(dst) / 4) % 16) % 16;
  for (int64_t t = 0; t < T; ++t) {
    if (round_x) {
      for (int64_t k = 0; k < cols; ++k) dst[t * ldx + k] = bf16_to_f32(f32_to_bf16(x[t * cols + k]));
    } else {
      std::copy(x + t * cols, x + (t + 1) * cols, dst + t * ldx);
    }
  }
  j.x = dst;
  j.ldx = ldx;
  return j;
}

// Weight bytes per row chunk: the current chunk, the next one being prefetched and an x tile
// must share a 1 MB L2 (512 KB on older cores still holds the two chunks).
constexpr int64_t kChunkBytes = 192 * 1024;
// x bytes per token tile (see the layout notes at the top).
constexpr int64_t kTileBytes = 256 * 1024;

// One weight's share of a fused call: its job and how its rows are cut into chunks.
struct Part {
  Job job;
  int64_t chunk, n_chunks, first_item;
};

void check_product(const float* x, int64_t T, const MatmulOutput& out, int64_t cols, DType dtype, DType x_dtype, bool panels) {
  const WeightView& w = *out.w;
  if (T < 0 || w.rows < 0 || w.cols < 0) throw EngineError(codes::kInvalidArgument, "matmul: negative size");
  if (w.cols != cols || w.dtype != dtype || w.x_dtype != x_dtype || w.panels != panels)
    throw EngineError(codes::kInvalidArgument, "matmul: fused weights must share their columns, dtype, layout and activation dtype");
  if (w.panels && w.dtype != DType::BF16) throw EngineError(codes::kInvalidArgument, "matmul: only BF16 weights come in panels");
  if (T > 0 && w.rows > 0 && (!out.y || (w.cols > 0 && (!x || !w.data))))
    throw EngineError(codes::kInvalidArgument, "matmul: null pointer");
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
    throw EngineError(codes::kInvalidArgument, "matmul: unsupported weight dtype");
}

}  // namespace

void matmul(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
            ThreadPool& pool) {
  const MatmulOutput out{&w, bias, y};
  matmul_fused(x, T, &out, 1, pool);
}

void matmul_fused(const float* x, int64_t T, const MatmulOutput* outs, int n, ThreadPool& pool) {
  if (n <= 0) return;
  const WeightView& first = *outs[0].w;
  if (first.x_dtype != DType::F32 && (first.x_dtype != DType::BF16 || first.dtype != DType::BF16))
    throw EngineError(codes::kInvalidArgument, "matmul: activations are F32, or BF16 under BF16 weights");
  if (first.dtype == DType::Q8_0) return matmul_q8_fused(x, T, outs, n, pool);  // its own kernels and checks
  for (int i = 0; i < n; ++i) check_product(x, T, outs[i], first.cols, first.dtype, first.x_dtype, first.panels);
  if (T == 0) return;
  if (first.cols == 0) {  // empty reduction: y is just the bias
    for (int i = 0; i < n; ++i)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < outs[i].w->rows; ++r) outs[i].y[t * outs[i].w->rows + r] = outs[i].bias ? outs[i].bias[r] : 0.f;
    return;
  }

  const SimdLevel level = simd_level();
  const ItemFn item = first.panels ? item_panels : select_item(level, first.dtype);
  const Job x_job = make_x(x, T, first.cols, first.dtype, first.x_dtype, first.panels, level);
  const int64_t row_bytes = first.cols * int64_t(dtype_size(first.dtype));
  // Where row r's weight starts (r a chunk boundary): in panels, after the panels of rows [0, r).
  const int64_t align = first.panels ? kPanelRows : 8;
  auto byte_at = [&](int64_t r) { return first.panels ? int64_t(bf16_panel_bytes(r, first.cols)) : r * row_bytes; };
  const int64_t threads = pool.size();
  const int64_t tile_max = std::max<int64_t>(16, std::min<int64_t>(64, kTileBytes / (first.cols * 4)));
  const TokenBlocks tiles(T, tile_max);

  // Row chunks are multiples of 8 rows (whole panels of 64 in panels) so all but the last run
  // only full-width micro-kernels, and small enough that each thread gets several (balance when
  // one thread is slowed down).
  // The weights of a fused call (q, k and v; gate and up) share one pool of items, so the
  // threads fork and join once for all of them.
  std::vector<Part> parts;
  parts.reserve(size_t(n));
  int64_t n_items = 0, all_rows = 0;
  for (int i = 0; i < n; ++i) all_rows += outs[i].w->rows;
  for (int i = 0; i < n; ++i) {
    const WeightView& w = *outs[i].w;
    if (w.rows == 0) continue;
    Part p;
    p.job = x_job;
    p.job.w = w.data;
    p.job.bias = outs[i].bias;
    p.job.y = outs[i].y;
    p.job.rows = w.rows;
    p.chunk = std::max<int64_t>(align, kChunkBytes / row_bytes / align * align);
    p.chunk = std::min(p.chunk, std::max<int64_t>(align, all_rows / (threads * 4) / align * align));
    p.n_chunks = (w.rows + p.chunk - 1) / p.chunk;
    p.first_item = n_items;
    n_items += p.n_chunks * tiles.count;
    parts.push_back(p);
  }
  if (n_items == 0) return;
  const bool prefetch = T > 1;  // a GEMV streams; hardware prefetch does better than software

  struct Bounds {
    const Part* part;
    int64_t r0, r1, t0, t1;
  };
  auto bounds = [&](int64_t it) {
    size_t k = 0;
    while (k + 1 < parts.size() && parts[k + 1].first_item <= it) ++k;
    const Part& p = parts[k];
    const int64_t local = it - p.first_item;
    const int64_t ti = local / p.n_chunks, ci = local % p.n_chunks;  // tile-major
    Bounds b{&p, ci * p.chunk, std::min(p.job.rows, (ci + 1) * p.chunk), tiles.begin(ti), tiles.begin(ti) + tiles.size(ti)};
    return b;
  };

  std::atomic<int64_t> next_item{0};
  auto claim = [&] { return next_item.fetch_add(1, std::memory_order_relaxed); };
  auto worker = [&] {
    int64_t cur = claim();
    while (cur < n_items) {
      // Claim the next item before running this one, so its weight can be prefetched meanwhile;
      // but not near the end, where holding an item back would leave another thread idle.
      int64_t nxt = -1;
      if (prefetch && next_item.load(std::memory_order_relaxed) + threads < n_items) nxt = claim();
      Prefetch pf;
      if (nxt >= 0 && nxt < n_items) {
        const Bounds b = bounds(nxt);
        pf.begin = static_cast<const char*>(b.part->job.w) + byte_at(b.r0);
        pf.end = static_cast<const char*>(b.part->job.w) + byte_at(b.r1);
      }
      const Bounds b = bounds(cur);
      item(b.part->job, b.r0, b.r1, b.t0, b.t1, pf);
      cur = nxt >= 0 ? nxt : claim();
    }
  };
  if (n_items == 1 || threads == 1) {
    worker();
    return;
  }
  pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) worker();
  });
}

}  // namespace astraea
