#include "core/kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/errors.h"
#include "core/kernels/cpu_features.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define ASTRAEA_X86_SIMD 1
// GCC 12 warns -Wuninitialized inside its own AVX-512 intrinsics (the _mm512_undefined_ps()
// idiom, GCC PR 105593); the warning is attributed to header lines, so silencing it around the
// include keeps -Wall output clean without hiding warnings in this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define ASTRAEA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define ASTRAEA_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

// Layout of the work. The weight is [rows][cols] with cols (the reduction dimension) contiguous,
// so each output is a dot product along a contiguous weight row. A micro-kernel computes an
// R-rows x TT-tokens block of y for the whole reduction: per step of one vector of cols it widens
// R weight vectors once and multiplies each by TT token vectors, so a weight element read from
// memory feeds TT FMAs and an x element feeds R FMAs. That reuse is what turns batched decode
// from memory-bound into compute-bound.
//
// Around the micro-kernel: a work item is (row chunk, token tile). Row chunks are small (about
// 128 KB of weight) so the two threads balance and a chunk's weight stays in cache while all
// token blocks of the tile pass over it; token tiles (<= 64 tokens) keep the tile's x in L2 for
// long prompts. Items are ordered tile-major so a thread keeps reusing the same x tile while it
// streams different weight rows.

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
};

// Computes rows [r0, r1) of y for tokens [t0, t1).
using PanelFn = void (*)(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1);

// Splits n tokens into the fewest blocks of at most max_tt, sized as evenly as possible, so a
// batch of 8 with max 6 runs as 4+4 rather than 6+2 (a 2-token block reuses each widened weight
// vector only twice).
struct TokenBlocks {
  int64_t count, base, extra;  // the first `extra` blocks get base+1 tokens
  TokenBlocks(int64_t n, int64_t max_tt) {
    count = (n + max_tt - 1) / max_tt;
    base = n / count;
    extra = n % count;
  }
  int64_t size(int64_t i) const { return base + (i < extra ? 1 : 0); }
};

// A byte range for a micro-kernel to software-prefetch, spread evenly over its reduction loop.
struct Prefetch {
  const char* begin = nullptr;
  const char* end = nullptr;
  // Cache lines to issue per vector step so the whole range is covered by the end of the loop.
  int64_t per_step(int64_t steps) const {
    const int64_t lines = (end - begin + 63) / 64;
    return steps > 0 ? (lines + steps - 1) / steps : 0;
  }
};

// Splits one contiguous range into `parts` consecutive Prefetch slices of whole cache lines.
struct PrefetchPlan {
  const char* base;
  int64_t lines, parts;
  PrefetchPlan(const void* p, int64_t bytes, int64_t n)
      : base(static_cast<const char*>(p)), lines(bytes > 0 ? (bytes + 63) / 64 : 0), parts(n) {}
  Prefetch slice(int64_t i) const {
    Prefetch pf;
    pf.begin = base + (lines * i / parts) * 64;
    pf.end = base + (lines * (i + 1) / parts) * 64;
    return pf;
  }
};

// ---------------------------------------------------------------------------------------------
// Scalar fallback: portable, used on CPUs without AVX2+FMA+F16C and on non-x86 builds.

template <DType DT>
inline float widen(const void* p, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(p)[i];
  else if constexpr (DT == DType::F16) return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  else return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

inline float dot_scalar(const float* a, const float* b, int64_t n) {
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

template <DType DT>
void panel_scalar(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
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
    for (int64_t t = t0; t < t1; ++t) j.y[t * j.rows + r] = dot_scalar(j.x + t * K, wr, K) + b;
  }
}

#ifdef ASTRAEA_X86_SIMD

// ---------------------------------------------------------------------------------------------
// AVX-512: 16 floats per vector, 32 registers. Main block 4 rows x 6 tokens = 24 accumulators,
// plus 6 x vectors and one weight vector in flight (31 registers, no spills). The column tail is
// one masked step, so no scalar clean-up and no reads past the end of a row.

constexpr int kTT512 = 6;

template <DType DT>
ASTRAEA_AVX512 inline __m512 load_w512(const void* p, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(p) + i);
  } else {
    const __m256i h =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i));
    if constexpr (DT == DType::F16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType DT>
ASTRAEA_AVX512 inline __m512 load_w512_mask(const void* p, int64_t i, __mmask16 m) {
  if constexpr (DT == DType::F32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i);
    if constexpr (DT == DType::F16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// Horizontal sums of four vectors as one 4-float vector: cheaper than four separate reductions
// and the result lands contiguously, matching y's layout (consecutive rows of one token).
ASTRAEA_AVX512 inline __m128 reduce4_512(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab =
      _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd =
      _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  // 128-bit lane i now holds four partial sums of input i.
  __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));
  s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, s));
}

// y[t*ldy + r] = dot(x[t*ldx ...], w row r) + bias[r] for r < R, t < TT. w points at row 0 of
// the block, x at token 0, y at (token 0, row 0); bias (may be null) at row 0.
template <DType DT, int R, int TT>
ASTRAEA_AVX512 void mk512(const float* x, int64_t ldx, const void* w, int64_t K,
                          const float* bias, float* y, int64_t ldy, Prefetch pf) {
  using E = std::conditional_t<DT == DType::F32, float, uint16_t>;
  const E* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = static_cast<const E*>(w) + r * K;
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();

  const char* pf_next = pf.begin;
  const int64_t pf_per_step = pf.per_step(K / 16);
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    for (int64_t i = 0; i < pf_per_step && pf_next < pf.end; ++i, pf_next += 64)
      _mm_prefetch(pf_next, _MM_HINT_T0);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_loadu_ps(x + t * ldx + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w512<DT>(wr[r], k);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (k < K) {
    const __mmask16 m = __mmask16((1u << unsigned(K - k)) - 1u);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x + t * ldx + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w512_mask<DT>(wr[r], k, m);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }

  for (int t = 0; t < TT; ++t) {
    float* yt = y + t * ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      __m128 s = reduce4_512(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
      if (bias) s = _mm_add_ps(s, _mm_loadu_ps(bias + r));
      _mm_storeu_ps(yt + r, s);
    }
    for (; r < R; ++r) yt[r] = _mm512_reduce_add_ps(acc[r][t]) + (bias ? bias[r] : 0.f);
  }
}

template <DType DT, int R>
ASTRAEA_AVX512 void mk512_tt(int64_t tt, const float* x, int64_t ldx, const void* w, int64_t K,
                             const float* bias, float* y, int64_t ldy, Prefetch pf) {
  switch (tt) {
    case 1: return mk512<DT, R, 1>(x, ldx, w, K, bias, y, ldy, pf);
    case 2: return mk512<DT, R, 2>(x, ldx, w, K, bias, y, ldy, pf);
    case 3: return mk512<DT, R, 3>(x, ldx, w, K, bias, y, ldy, pf);
    case 4: return mk512<DT, R, 4>(x, ldx, w, K, bias, y, ldy, pf);
    case 5: return mk512<DT, R, 5>(x, ldx, w, K, bias, y, ldy, pf);
    default: return mk512<DT, R, 6>(x, ldx, w, K, bias, y, ldy, pf);
  }
}

template <DType DT>
ASTRAEA_AVX512 void panel_avx512(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  using E = std::conditional_t<DT == DType::F32, float, uint16_t>;
  const E* W = static_cast<const E*>(j.w);
  const int64_t K = j.cols, ldy = j.rows;
  const float* b = j.bias;
  if (t1 - t0 == 1) {
    // GEMV: memory-bound; 8 rows give 8 independent FMA chains and 8 concurrent weight streams.
    const float* x = j.x + t0 * K;
    float* y = j.y + t0 * ldy;
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8)
      mk512<DT, 8, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy, Prefetch{});
    for (; r + 4 <= r1; r += 4)
      mk512<DT, 4, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy, Prefetch{});
    for (; r < r1; ++r) mk512<DT, 1, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy, Prefetch{});
    return;
  }
  const TokenBlocks tb(t1 - t0, kTT512);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    // While these 4 rows meet every token block, pull the next 4 rows toward L1, a slice per
    // token block, so their DRAM latency overlaps compute instead of stalling the first block.
    const int64_t next_rows = std::min<int64_t>(4, r1 - (r + 4));
    const PrefetchPlan plan(W + (r + 4) * K, next_rows * K * int64_t(sizeof(E)), tb.count);
    int64_t t = t0;
    for (int64_t i = 0; i < tb.count; ++i) {
      const int64_t n = tb.size(i);
      mk512_tt<DT, 4>(n, j.x + t * K, K, W + r * K, K, b ? b + r : b, j.y + t * ldy + r, ldy,
                      plan.slice(i));
      t += n;
    }
  }
  for (; r < r1; ++r) {
    int64_t t = t0;
    for (int64_t i = 0; i < tb.count; ++i) {
      const int64_t n = tb.size(i);
      mk512_tt<DT, 1>(n, j.x + t * K, K, W + r * K, K, b ? b + r : b, j.y + t * ldy + r, ldy,
                      Prefetch{});
      t += n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2: 8 floats per vector, 16 registers. Main block 4 rows x 3 tokens = 12 accumulators + 3 x
// vectors + 1 weight vector. AVX2 has no 16-bit masked load, so the column tail (< 8) is copied
// into zero-padded stack buffers and run as one more full step.

constexpr int kTT256 = 3;

template <DType DT>
ASTRAEA_AVX2 inline __m256 load_w256(const void* p, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
  } else {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
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
ASTRAEA_AVX2 void mk256(const float* x, int64_t ldx, const void* w, int64_t K, const float* bias,
                        float* y, int64_t ldy) {
  using E = std::conditional_t<DT == DType::F32, float, uint16_t>;
  const E* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = static_cast<const E*>(w) + r * K;
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();

  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + k);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w256<DT>(wr[r], k);
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
    float* yt = y + t * ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) {
      __m128 s = reduce4_256(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
      if (bias) s = _mm_add_ps(s, _mm_loadu_ps(bias + r));
      _mm_storeu_ps(yt + r, s);
    }
    for (; r < R; ++r) yt[r] = reduce1_256(acc[r][t]) + (bias ? bias[r] : 0.f);
  }
}

template <DType DT, int R>
ASTRAEA_AVX2 void mk256_tt(int64_t tt, const float* x, int64_t ldx, const void* w, int64_t K,
                           const float* bias, float* y, int64_t ldy) {
  switch (tt) {
    case 1: return mk256<DT, R, 1>(x, ldx, w, K, bias, y, ldy);
    case 2: return mk256<DT, R, 2>(x, ldx, w, K, bias, y, ldy);
    default: return mk256<DT, R, 3>(x, ldx, w, K, bias, y, ldy);
  }
}

template <DType DT>
ASTRAEA_AVX2 void panel_avx2(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  using E = std::conditional_t<DT == DType::F32, float, uint16_t>;
  const E* W = static_cast<const E*>(j.w);
  const int64_t K = j.cols, ldy = j.rows;
  const float* b = j.bias;
  if (t1 - t0 == 1) {
    const float* x = j.x + t0 * K;
    float* y = j.y + t0 * ldy;
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) mk256<DT, 8, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy);
    for (; r + 4 <= r1; r += 4) mk256<DT, 4, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy);
    for (; r < r1; ++r) mk256<DT, 1, 1>(x, K, W + r * K, K, b ? b + r : b, y + r, ldy);
    return;
  }
  const TokenBlocks tb(t1 - t0, kTT256);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    int64_t t = t0;
    for (int64_t i = 0; i < tb.count; ++i) {
      const int64_t n = tb.size(i);
      mk256_tt<DT, 4>(n, j.x + t * K, K, W + r * K, K, b ? b + r : b, j.y + t * ldy + r, ldy);
      t += n;
    }
  }
  for (; r < r1; ++r) {
    int64_t t = t0;
    for (int64_t i = 0; i < tb.count; ++i) {
      const int64_t n = tb.size(i);
      mk256_tt<DT, 1>(n, j.x + t * K, K, W + r * K, K, b ? b + r : b, j.y + t * ldy + r, ldy);
      t += n;
    }
  }
}

#endif  // ASTRAEA_X86_SIMD

PanelFn select_panel(SimdLevel level, DType dt) {
#ifdef ASTRAEA_X86_SIMD
  if (level == SimdLevel::Avx512) {
    switch (dt) {
      case DType::F32: return panel_avx512<DType::F32>;
      case DType::F16: return panel_avx512<DType::F16>;
      case DType::BF16: return panel_avx512<DType::BF16>;
    }
  }
  if (level == SimdLevel::Avx2) {
    switch (dt) {
      case DType::F32: return panel_avx2<DType::F32>;
      case DType::F16: return panel_avx2<DType::F16>;
      case DType::BF16: return panel_avx2<DType::BF16>;
    }
  }
#else
  (void)level;
#endif
  switch (dt) {
    case DType::F32: return panel_scalar<DType::F32>;
    case DType::F16: return panel_scalar<DType::F16>;
    case DType::BF16: return panel_scalar<DType::BF16>;
  }
  return nullptr;
}

// Weight bytes per row chunk: small enough that a chunk stays in L2 next to an x tile while all
// its token blocks pass over it, and that two threads get many chunks to balance.
constexpr int64_t kChunkBytes = 128 * 1024;
// Tokens per tile: 64 tokens x 4 KB (cols=1024) of x is 256 KB, comfortably in L2.
constexpr int64_t kTokenTile = 64;

}  // namespace

void matmul(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
            ThreadPool& pool) {
  if (T < 0 || w.rows < 0 || w.cols < 0)
    throw EngineError(codes::kInvalidArgument, "matmul: negative size");
  if (T == 0 || w.rows == 0) return;
  if (!y || (w.cols > 0 && (!x || !w.data)))
    throw EngineError(codes::kInvalidArgument, "matmul: null pointer");
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
    throw EngineError(codes::kInvalidArgument, "matmul: unsupported weight dtype");
  if (w.cols == 0) {  // empty reduction: y is just the bias
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < w.rows; ++r) y[t * w.rows + r] = bias ? bias[r] : 0.f;
    return;
  }

  const PanelFn panel = select_panel(simd_level(), w.dtype);
  const Job job{x, w.data, bias, y, T, w.rows, w.cols};

  const int64_t row_bytes = w.cols * int64_t(dtype_size(w.dtype));
  // Multiple of 8 rows so every chunk but the last runs only the full-width micro-kernels.
  int64_t chunk = std::max<int64_t>(8, (kChunkBytes / row_bytes) / 8 * 8);
  // At least ~4 chunks per thread when the matrix is small, for balance.
  const int64_t threads = pool.size();
  const int64_t balanced = std::max<int64_t>(8, (w.rows / (threads * 4)) / 8 * 8);
  chunk = std::min(chunk, balanced);
  const int64_t n_chunks = (w.rows + chunk - 1) / chunk;

  const TokenBlocks tiles(T, kTokenTile);
  const int64_t n_items = n_chunks * tiles.count;

  pool.parallel_for(n_items, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t ti = item / n_chunks, ci = item % n_chunks;
      // Tile ti starts after ti tiles; the first `extra` tiles are one longer.
      const int64_t t0 = ti * tiles.base + std::min(ti, tiles.extra);
      const int64_t t1 = t0 + tiles.size(ti);
      const int64_t r0 = ci * chunk, r1 = std::min(w.rows, r0 + chunk);
      panel(job, r0, r1, t0, t1);
    }
  });
}

}  // namespace astraea
