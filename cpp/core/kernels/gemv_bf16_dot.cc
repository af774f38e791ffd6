#include "core/kernels/gemv_bf16_dot.h"

#include "core/dtype.h"
#include "core/kernels/simd.h"

namespace astraea {

void split_bf16_terms(const float* x, int64_t cols, uint16_t* hi, uint16_t* lo) {
  const int64_t padded = (cols + 31) / 32 * 32;
  for (int64_t k = 0; k < padded; ++k) {  // zero past cols: the masked tail multiplies them by 0
    hi[k] = k < cols ? f32_to_bf16(x[k]) : 0;
    lo[k] = k < cols ? f32_to_bf16(x[k] - bf16_to_f32(hi[k])) : 0;
  }
}

#ifdef ASTRAEA_X86_SIMD

namespace {

// The BF16 GEMV with AVX-512 BF16's dot product (vdpbf16ps: per F32 lane, two BF16 products
// added to the accumulator, each an exact product rounded once, like an FMA). It needs x in BF16
// too; rounding x to BF16 would cost 8 bits of its precision, so x is split into two BF16 terms,
// x_hi = bf16(x) and x_lo = bf16(x - x_hi), and each weight pair is dotted with both: x_hi + x_lo
// equals x to within 2^-17 of |x| (F32 keeps 2^-24), where the weights themselves carry BF16's
// 2^-9. One instruction per 32 weights per term, no widening at all. One row at a time (see
// gemv_rows); four accumulators: x_hi's and x_lo's terms of two 32-column steps.
ASTRAEA_AVX512_BF16 float dot_bf16_row(const uint16_t* xh, const uint16_t* xl, const uint16_t* w, int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w + k), w1 = (__m512bh)_mm512_loadu_si512(w + k + 32);
    a0 = _mm512_dpbf16_ps(a0, w0, (__m512bh)_mm512_loadu_si512(xh + k));
    a1 = _mm512_dpbf16_ps(a1, w0, (__m512bh)_mm512_loadu_si512(xl + k));
    a2 = _mm512_dpbf16_ps(a2, w1, (__m512bh)_mm512_loadu_si512(xh + k + 32));
    a3 = _mm512_dpbf16_ps(a3, w1, (__m512bh)_mm512_loadu_si512(xl + k + 32));
  }
  for (; k < K; k += 32) {  // x_hi and x_lo are zero-padded to 32
    const __mmask32 m = K - k >= 32 ? ~__mmask32(0) : __mmask32((1ull << unsigned(K - k)) - 1u);
    const __m512bh w0 = (__m512bh)_mm512_maskz_loadu_epi16(m, w + k);
    a0 = _mm512_dpbf16_ps(a0, w0, (__m512bh)_mm512_loadu_si512(xh + k));
    a1 = _mm512_dpbf16_ps(a1, w0, (__m512bh)_mm512_loadu_si512(xl + k));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

ASTRAEA_AVX512_BF16 void dot_rows(const uint16_t* xh, const uint16_t* xl, const uint16_t* W, int64_t K, const float* bias,
                                  float* y, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_bf16_row(xh, xl, W + r * K, K) + (bias ? bias[r] : 0.f);
}

}  // namespace

// Not itself compiled for AVX-512 BF16: only the kernels above are, so this file links into a
// binary that runs anywhere and the instructions execute only where the caller checked for them.
void gemv_bf16_dot_rows(const uint16_t* xh, const uint16_t* xl, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t r0, int64_t r1) {
  dot_rows(xh, xl, W, K, bias, y, r0, r1);
}

#else

void gemv_bf16_dot_rows(const uint16_t*, const uint16_t*, const uint16_t*, int64_t, const float*, float*, int64_t, int64_t) {}

#endif  // ASTRAEA_X86_SIMD

}  // namespace astraea
