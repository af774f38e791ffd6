#include "core/kernels/bf16_dot.h"

#include <algorithm>

#include "core/dtype.h"
#include "core/kernels/simd.h"

namespace astraea {

void split_bf16_terms(const float* x, int64_t cols, uint16_t* hi, uint16_t* lo) {
  const int64_t padded = (cols + 31) / 32 * 32;
  for (int64_t k = 0; k < padded; ++k) {  // zero past cols: the masked tail multiplies them by 0
    hi[k] = k < cols ? f32_to_bf16(x[k]) : 0;
    if (lo) lo[k] = k < cols ? f32_to_bf16(x[k] - bf16_to_f32(hi[k])) : 0;
  }
}

#ifdef ASTRAEA_X86_SIMD

namespace {

// How far ahead of its loads the GEMV prefetches the weight row (and the rows after it): 4 KB.
// The hardware prefetchers alone left the two-term loop at ~33 GB/s of weights where the one-term
// loop, with half the instructions between loads, reached ~45; with the prefetch both stream
// alike (`decode_speed bf16 200 1 bf16 128 f32`, five interleaved pairs: 6.44–6.60 → 5.45–5.51 ms a
// step; 2 KB and 8 KB gained less, 16 KB nothing; docs/performance.md, "GEMV prefetch").
constexpr int64_t kGemvPrefetchBytes = 4096;

// The BF16 GEMV with AVX-512 BF16's dot product (vdpbf16ps: per F32 lane, two BF16 products
// added to the accumulator, each an exact product rounded once, like an FMA). It needs x in BF16
// too; rounding x to BF16 would cost 8 bits of its precision, so x is split into two BF16 terms,
// x_hi = bf16(x) and x_lo = bf16(x - x_hi), and each weight pair is dotted with both: x_hi + x_lo
// equals x to within 2^-17 of |x| (F32 keeps 2^-24), where the weights themselves carry BF16's
// 2^-9. One instruction per 32 weights per term, no widening at all. One row at a time (see
// gemv_rows); four accumulators: two 32-column steps of each term. With activations rounded to
// BF16 (TwoTerms false) x_lo is not there.
template <bool TwoTerms>
ASTRAEA_AVX512_BF16 float dot_bf16_row(const uint16_t* xh, const uint16_t* xl, const uint16_t* w, int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    const char* ahead = reinterpret_cast<const char*>(w + k) + kGemvPrefetchBytes;  // the step's two lines, 4 KB on
    _mm_prefetch(ahead, _MM_HINT_T0);
    _mm_prefetch(ahead + 64, _MM_HINT_T0);
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w + k), w1 = (__m512bh)_mm512_loadu_si512(w + k + 32);
    a0 = _mm512_dpbf16_ps(a0, w0, (__m512bh)_mm512_loadu_si512(xh + k));
    a2 = _mm512_dpbf16_ps(a2, w1, (__m512bh)_mm512_loadu_si512(xh + k + 32));
    if constexpr (TwoTerms) {
      a1 = _mm512_dpbf16_ps(a1, w0, (__m512bh)_mm512_loadu_si512(xl + k));
      a3 = _mm512_dpbf16_ps(a3, w1, (__m512bh)_mm512_loadu_si512(xl + k + 32));
    }
  }
  for (; k < K; k += 32) {  // x_hi and x_lo are zero-padded to 32
    const __mmask32 m = K - k >= 32 ? ~__mmask32(0) : __mmask32((1ull << unsigned(K - k)) - 1u);
    const __m512bh w0 = (__m512bh)_mm512_maskz_loadu_epi16(m, w + k);
    a0 = _mm512_dpbf16_ps(a0, w0, (__m512bh)_mm512_loadu_si512(xh + k));
    if constexpr (TwoTerms) a1 = _mm512_dpbf16_ps(a1, w0, (__m512bh)_mm512_loadu_si512(xl + k));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

template <bool TwoTerms>
ASTRAEA_AVX512_BF16 void dot_rows(const uint16_t* xh, const uint16_t* xl, const uint16_t* W, int64_t K, const float* bias,
                                  float* y, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_bf16_row<TwoTerms>(xh, xl, W + r * K, K) + (bias ? bias[r] : 0.f);
}

// The batched product on activations rounded to BF16. The same layout as matmul's F32 micro-kernel
// (core/kernels/matmul.cc: R rows x TT tokens of y per call, the k-block's x rows in L1 while the
// weight chunk streams from L2), but a weight vector is 32 BF16 values dotted as they are loaded:
// no widening, and each instruction does 32 multiply-adds where an F32 FMA does 16 — twice the
// arithmetic per instruction, which is what bounds a batch. 4 x 6 = 24 accumulators + 4 weight
// vectors + 1 x vector: 29 of the 32 registers.
constexpr int kRows = 4;
constexpr int64_t kTokens = 6;
constexpr int64_t kKBlock = 2048;  // columns: 6 token rows of 4 KB stay in L1

struct Block {
  const uint16_t* x;
  int64_t ldx;
  const uint16_t* w;
  int64_t ldw, klen;
  const float* bias;  // the first k-block's: y = sums + bias; later ones add to y
  bool accumulate;
  float* y;
  int64_t ldy;
};

// Software prefetch of the next work item's weight, a few lines per 32-column step.
struct PrefetchCursor {
  const char* at;
  const char* end;
  int64_t per_step;
};

template <int R, int TT>
ASTRAEA_AVX512_BF16 void micro_kernel(const Block& b, PrefetchCursor& pf) {
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  // The cursor in locals: updated through the reference, it kept GCC from holding the
  // accumulators in registers (they were stored to the stack every step).
  const char* pf_at = pf.at;
  const char* const pf_end = pf.end;
  const int64_t pf_step = pf.per_step;
  const uint16_t* w[R];
  for (int r = 0; r < R; ++r) w[r] = b.w + r * b.ldw;
  int64_t k = 0;
  for (; k + 32 <= b.klen; k += 32) {
    for (int64_t i = 0; i < pf_step && pf_at < pf_end; ++i, pf_at += 64) _mm_prefetch(pf_at, _MM_HINT_T0);
    __m512bh wv[R];
    for (int r = 0; r < R; ++r) wv[r] = (__m512bh)_mm512_loadu_si512(w[r] + k);
    for (int t = 0; t < TT; ++t) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(b.x + t * b.ldx + k);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
    }
  }
  if (k < b.klen) {  // the last columns: the weight masked, x zero there
    const __mmask32 m = __mmask32((1ull << unsigned(b.klen - k)) - 1u);
    __m512bh wv[R];
    for (int r = 0; r < R; ++r) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(m, w[r] + k);
    for (int t = 0; t < TT; ++t) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(b.x + t * b.ldx + k);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
    }
  }
  pf.at = pf_at;
  for (int t = 0; t < TT; ++t) {
    float* yt = b.y + t * b.ldy;
    if constexpr (R == 4) {
      __m128 s = reduce4_512(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
      if (b.accumulate) s = _mm_add_ps(s, _mm_loadu_ps(yt));
      else if (b.bias) s = _mm_add_ps(s, _mm_loadu_ps(b.bias));
      _mm_storeu_ps(yt, s);
    } else {
      for (int r = 0; r < R; ++r) {
        const float s = _mm512_reduce_add_ps(acc[r][t]);
        yt[r] = b.accumulate ? yt[r] + s : s + (b.bias ? b.bias[r] : 0.f);
      }
    }
  }
}

template <int R>
ASTRAEA_AVX512_BF16 void micro_kernel(int64_t tt, const Block& b, PrefetchCursor& pf) {
  switch (tt) {
    case 1: return micro_kernel<R, 1>(b, pf);
    case 2: return micro_kernel<R, 2>(b, pf);
    case 3: return micro_kernel<R, 3>(b, pf);
    case 4: return micro_kernel<R, 4>(b, pf);
    case 5: return micro_kernel<R, 5>(b, pf);
    default: return micro_kernel<R, 6>(b, pf);
  }
}

ASTRAEA_AVX512_BF16 void gemm_rows(const uint16_t* x, int64_t ldx, int64_t T, const uint16_t* W, int64_t K,
                                   const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1, const char* prefetch,
                                   const char* prefetch_end) {
  const int64_t k_blocks = (K + kKBlock - 1) / kKBlock;
  // Token blocks of nearly equal size (8 tokens run as 4 + 4, not 6 + 2).
  const int64_t t_blocks = (T + kTokens - 1) / kTokens, t_base = T / t_blocks, t_extra = T % t_blocks;
  const int64_t row_calls = (r1 - r0) / kRows + (r1 - r0) % kRows;
  // The next item's weight is prefetched over the calls of each k-block's first token block, not all:
  // 7-8% faster at T = 32 and 128 from DRAM (docs/results/issue-23/bf16-activations/matmul_ab.cc),
  // where matmul.cc's F32 kernel, with twice the steps, lost 15-20% the same way.
  const int64_t steps = std::max<int64_t>(1, (K + 31) / 32 * row_calls);
  const int64_t lines = prefetch_end > prefetch ? (prefetch_end - prefetch + 63) / 64 : 0;
  PrefetchCursor pf{prefetch, prefetch_end, (lines + steps - 1) / steps};
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const int64_t k0 = kb * kKBlock;
    for (int64_t i = 0, t = 0; i < t_blocks; ++i) {
      const int64_t tt = t_base + (i < t_extra ? 1 : 0);
      Block b{x + t * ldx + k0, ldx, nullptr, K, std::min(kKBlock, K - k0), nullptr, kb > 0, nullptr, ldy};
      int64_t r = r0;
      for (; r + kRows <= r1; r += kRows) {
        b.w = W + r * K + k0;
        b.bias = bias ? bias + r : nullptr;
        b.y = y + t * ldy + r;
        micro_kernel<kRows>(tt, b, pf);
      }
      for (; r < r1; ++r) {
        b.w = W + r * K + k0;
        b.bias = bias ? bias + r : nullptr;
        b.y = y + t * ldy + r;
        micro_kernel<1>(tt, b, pf);
      }
      t += tt;
    }
  }
}

}  // namespace

// Not itself compiled for AVX-512 BF16: only the kernels above are, so this file links into a
// binary that runs anywhere and the instructions execute only where the caller checked for them.
void gemv_bf16_dot_rows(const uint16_t* xh, const uint16_t* xl, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t r0, int64_t r1) {
  if (xl) dot_rows<true>(xh, xl, W, K, bias, y, r0, r1);
  else dot_rows<false>(xh, xl, W, K, bias, y, r0, r1);
}

void gemm_bf16_dot_rows(const uint16_t* x, int64_t ldx, int64_t T, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t ldy, int64_t r0, int64_t r1, const char* prefetch, const char* prefetch_end) {
  gemm_rows(x, ldx, T, W, K, bias, y, ldy, r0, r1, prefetch, prefetch_end);
}

#else

void gemv_bf16_dot_rows(const uint16_t*, const uint16_t*, const uint16_t*, int64_t, const float*, float*, int64_t, int64_t) {}
void gemm_bf16_dot_rows(const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t, const float*, float*, int64_t, int64_t,
                        int64_t, const char*, const char*) {}

#endif  // ASTRAEA_X86_SIMD

}  // namespace astraea
