#include "core/kernels/bf16_panels.h"

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/kernels/simd.h"
#include "core/thread_pool.h"

namespace astraea {

namespace {

int64_t pairs_of(int64_t cols) { return (cols + 1) / 2; }
int64_t panels_of(int64_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

}  // namespace

size_t bf16_panel_bytes(int64_t rows, int64_t cols) {
  return size_t(panels_of(rows) * pairs_of(cols) * kPanelRows) * sizeof(uint32_t);
}

void pack_bf16_panels(const uint16_t* src, int64_t rows, int64_t cols, uint32_t* dst, ThreadPool& pool) {
  const int64_t pairs = pairs_of(cols);
  pool.parallel_for(panels_of(rows), 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint32_t* out = dst + p * pairs * kPanelRows;
      for (int64_t j = 0; j < pairs; ++j)
        for (int64_t r = 0; r < kPanelRows; ++r) {
          const int64_t row = p * kPanelRows + r, k = 2 * j;
          uint32_t lo = 0, hi = 0;  // padding rows and an odd last column stay zero
          if (row < rows) {
            lo = src[row * cols + k];
            if (k + 1 < cols) hi = src[row * cols + k + 1];
          }
          out[j * kPanelRows + r] = lo | hi << 16;
        }
    }
  });
}

void unpack_bf16_panels(const uint32_t* panels, int64_t cols, int64_t r0, int64_t r1, uint16_t* dst) {
  const int64_t pairs = pairs_of(cols);
  for (int64_t row = r0; row < r1; ++row) {
    const uint32_t* panel = panels + row / kPanelRows * pairs * kPanelRows + row % kPanelRows;
    for (int64_t k = 0; k < cols; ++k) {
      const uint32_t word = panel[k / 2 * kPanelRows];
      dst[(row - r0) * cols + k] = uint16_t(k % 2 ? word >> 16 : word & 0xffffu);
    }
  }
}

void gemm_bf16_panels_portable(const float* x, int64_t ldx, int64_t T, const uint32_t* panels, int64_t cols,
                               const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  const int64_t pairs = pairs_of(cols), whole = cols / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * ldx;
    for (int64_t p = r0 / kPanelRows; p * kPanelRows < r1; ++p) {
      const uint32_t* panel = panels + p * pairs * kPanelRows;
      float acc[kPanelRows] = {};
      for (int64_t j = 0; j < whole; ++j)
        for (int64_t r = 0; r < kPanelRows; ++r) {
          const uint32_t word = panel[j * kPanelRows + r];
          acc[r] += bf16_to_f32(uint16_t(word & 0xffffu)) * xt[2 * j] + bf16_to_f32(uint16_t(word >> 16)) * xt[2 * j + 1];
        }
      if (whole < pairs)  // odd cols: the last pair's second value is padding (x has no element there)
        for (int64_t r = 0; r < kPanelRows; ++r) acc[r] += bf16_to_f32(uint16_t(panel[whole * kPanelRows + r] & 0xffffu)) * xt[cols - 1];
      const int64_t base = p * kPanelRows, n = std::min(kPanelRows, r1 - base);
      for (int64_t r = 0; r < n; ++r) y[t * ldy + base + r] = acc[r] + (bias ? bias[base + r] : 0.f);
    }
  }
}

#ifdef ASTRAEA_X86_SIMD

namespace {

// Columns per k-block: the token block's x rows (6 tokens of 4 KB, 24 KB; twice that with two
// terms, then partly from L2) stay in L1 while a panel's pairs stream past from L2. Only
// matrices wider than 2048 columns have more than one k-block.
constexpr int64_t kKBlockPairs = 1024;

// How far ahead in its own panel the GEMV (one or two tokens) prefetches: without it, batch-1
// decode steps ran 0-17% slower than the rows' GEMV (which prefetches 4 KB ahead) in the model;
// with 2 KB, 4-20% faster (`decode_speed bf16 300 1 bf16 128 bf16|f32`, three interleaved rounds;
// 4 KB and 8 KB alike within noise). At more tokens it cost 3-6% (the next item's prefetch is
// enough there), so they go without.
constexpr int64_t kGemvPrefetchBytes = 2048;

struct PrefetchCursor {
  const char* at;
  const char* end;
  int64_t per_step;  // lines per pair step
};

// One panel's call: pairs [j0, j0 + n) of the panel at `w` (already offset to j0), TT tokens of x
// (token t's pairs at x_hi32[t], x_lo32[t], offset to j0), the first `rows` lanes of y stored.
struct PanelCall {
  const uint32_t* w;
  int64_t n;
  const uint32_t* const* x_hi;
  const uint32_t* const* x_lo;
  float* y;
  int64_t ldy;
  int64_t rows;
  const float* bias;  // the first k-block's: y = sums + bias; later ones add to y
  bool accumulate;
};

ASTRAEA_AVX512_BF16 inline __m512bh broadcast_pair(const uint32_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return (__m512bh)_mm512_set1_epi32(int(v));
}

// 64 rows (4 vectors of 16) x TT tokens: 4·TT accumulators + 4 weights + 1-2 broadcasts ≤ 30
// registers. Two terms: x_lo's products go to accumulators of their own at TT ≤ 2, where the 4·TT
// chains would otherwise wait on vdpbf16ps's latency twice a pair; from TT = 3 there are chains
// enough, and x_lo adds into x_hi's (fewer token blocks: each re-reads the panel from L2).
template <int TT, bool Two>
ASTRAEA_AVX512_BF16 void panel_kernel(const PanelCall& c, PrefetchCursor& pf) {
  constexpr int V = kPanelRows / 16;
  constexpr bool kOwnLo = Two && TT <= 2;
  __m512 hi[V][TT], lo[V][kOwnLo ? TT : 1];
  for (int v = 0; v < V; ++v)
    for (int t = 0; t < TT; ++t) {
      hi[v][t] = _mm512_setzero_ps();
      if constexpr (kOwnLo) lo[v][t] = _mm512_setzero_ps();
    }
  // The cursor in locals (see bf16_dot.cc's micro_kernel: through the reference, GCC stored the
  // accumulators every step).
  const char* pf_at = pf.at;
  const char* const pf_end = pf.end;
  const int64_t pf_step = pf.per_step;
  for (int64_t j = 0; j < c.n; ++j) {
    for (int64_t i = 0; i < pf_step && pf_at < pf_end; ++i, pf_at += 64) _mm_prefetch(pf_at, _MM_HINT_T0);
    if constexpr (TT <= 2) {  // the GEMV: this pair's four lines, kGemvPrefetchBytes on
      const char* ahead = reinterpret_cast<const char*>(c.w + j * kPanelRows) + kGemvPrefetchBytes;
      for (int l = 0; l < 4; ++l) _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
    }
    __m512bh w[V];
    for (int v = 0; v < V; ++v) w[v] = (__m512bh)_mm512_loadu_si512(c.w + j * kPanelRows + 16 * v);
    for (int t = 0; t < TT; ++t) {
      const __m512bh xh = broadcast_pair(c.x_hi[t] + j);
      for (int v = 0; v < V; ++v) hi[v][t] = _mm512_dpbf16_ps(hi[v][t], w[v], xh);
      if constexpr (Two) {
        const __m512bh xl = broadcast_pair(c.x_lo[t] + j);
        for (int v = 0; v < V; ++v) {
          if constexpr (kOwnLo) lo[v][t] = _mm512_dpbf16_ps(lo[v][t], w[v], xl);
          else hi[v][t] = _mm512_dpbf16_ps(hi[v][t], w[v], xl);
        }
      }
    }
  }
  pf.at = pf_at;
  for (int v = 0; v < V; ++v) {
    const int64_t left = c.rows - 16 * v;
    if (left <= 0) break;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << unsigned(left)) - 1u);
    const __m512 b = !c.accumulate && c.bias ? _mm512_maskz_loadu_ps(m, c.bias + 16 * v) : _mm512_setzero_ps();
    for (int t = 0; t < TT; ++t) {
      float* yt = c.y + t * c.ldy + 16 * v;
      __m512 s = hi[v][t];
      if constexpr (kOwnLo) s = _mm512_add_ps(s, lo[v][t]);
      s = _mm512_add_ps(s, c.accumulate ? _mm512_maskz_loadu_ps(m, yt) : b);
      _mm512_mask_storeu_ps(yt, m, s);
    }
  }
}

template <bool Two>
ASTRAEA_AVX512_BF16 void panel_kernel(int64_t tt, const PanelCall& c, PrefetchCursor& pf) {
  switch (tt) {
    case 1: return panel_kernel<1, Two>(c, pf);
    case 2: return panel_kernel<2, Two>(c, pf);
    case 3: return panel_kernel<3, Two>(c, pf);
    case 4: return panel_kernel<4, Two>(c, pf);
    case 5: return panel_kernel<5, Two>(c, pf);
    default: return panel_kernel<6, Two>(c, pf);
  }
}

template <bool Two>
void panels_rows(const uint16_t* x_hi, const uint16_t* x_lo, int64_t ldx, int64_t T, const uint32_t* panels, int64_t cols,
                 const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1, const char* prefetch,
                 const char* prefetch_end) {
  constexpr int64_t kTokens = 6;
  const int64_t pairs = pairs_of(cols), k_blocks = (pairs + kKBlockPairs - 1) / kKBlockPairs;
  const int64_t p0 = r0 / kPanelRows, p1 = panels_of(r1);
  // Token blocks of nearly equal size (8 tokens run as 4 + 4, not 6 + 2).
  const int64_t t_blocks = (T + kTokens - 1) / kTokens, t_base = T / t_blocks, t_extra = T % t_blocks;
  // The next item's weight is prefetched evenly over every pass of the item (one line per pair
  // step at T = 32). bf16_dot.cc's rows do it in the first token block's pass, faster there; in
  // panels that was 15-20% slower at T = 32 from DRAM (panels_ab.cc) and batch-32 decode steps
  // 1-13% slower in six of six interleaved pairs (batch 8 level).
  const int64_t steps = std::max<int64_t>(1, pairs * (p1 - p0) * t_blocks);
  const int64_t lines = prefetch_end > prefetch ? (prefetch_end - prefetch + 63) / 64 : 0;
  PrefetchCursor pf{prefetch, prefetch_end, (lines + steps - 1) / steps};
  const uint32_t* xh[kTokens];
  const uint32_t* xl[kTokens];
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    const int64_t j0 = kb * kKBlockPairs, n = std::min(kKBlockPairs, pairs - j0);
    for (int64_t i = 0, t = 0; i < t_blocks; ++i) {
      const int64_t tt = t_base + (i < t_extra ? 1 : 0);
      for (int64_t u = 0; u < tt; ++u) {
        xh[u] = reinterpret_cast<const uint32_t*>(x_hi + (t + u) * ldx) + j0;
        xl[u] = Two ? reinterpret_cast<const uint32_t*>(x_lo + (t + u) * ldx) + j0 : nullptr;
      }
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t base = p * kPanelRows;
        const PanelCall c{panels + (p * pairs + j0) * kPanelRows, n, xh, xl, y + t * ldy + base, ldy,
                          std::min(kPanelRows, r1 - base), bias ? bias + base : nullptr, kb > 0};
        panel_kernel<Two>(tt, c, pf);
      }
      t += tt;
    }
  }
}

}  // namespace

// Not itself compiled for AVX-512 BF16 (see bf16_dot.cc): only the kernels above are.
void gemm_bf16_panels(const uint16_t* x_hi, const uint16_t* x_lo, int64_t ldx, int64_t T, const uint32_t* panels,
                      int64_t cols, const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1,
                      const char* prefetch, const char* prefetch_end) {
  if (T <= 0 || r1 <= r0) return;
  if (x_lo) panels_rows<true>(x_hi, x_lo, ldx, T, panels, cols, bias, y, ldy, r0, r1, prefetch, prefetch_end);
  else panels_rows<false>(x_hi, x_lo, ldx, T, panels, cols, bias, y, ldy, r0, r1, prefetch, prefetch_end);
}

#else

void gemm_bf16_panels(const uint16_t*, const uint16_t*, int64_t, int64_t, const uint32_t*, int64_t, const float*, float*,
                      int64_t, int64_t, int64_t, const char*, const char*) {}

#endif  // ASTRAEA_X86_SIMD

}  // namespace astraea
