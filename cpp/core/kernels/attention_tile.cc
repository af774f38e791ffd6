#include "core/kernels/attention_tile.h"

#include <cmath>

#include "core/kernels/cpu_features.h"
#include "core/kernels/simd.h"

namespace astraea {

namespace {

constexpr int kRows = 16;  // lanes
constexpr int kKeys = 16;  // keys per call
constexpr int kChunk = 8;  // head dimensions of the output accumulated at once

}  // namespace

#ifdef ASTRAEA_X86_SIMD

namespace {

// e^x, and exactly 0 where exp512 would give its floor of ~1e-38 for a key outside the row's range
// (x = -inf) or a number for a row that has seen no key yet (x = -inf - -inf, NaN): such a row's
// weights, sum and rescale are all 0, and its state stays as it was.
ASTRAEA_AVX512 inline __m512 exp_or_zero(__m512 x) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), exp512(x));
}

ASTRAEA_AVX512 void rows16_avx512(const float* q_t, int64_t hd, const float* keys, const float* values, const int32_t* lo,
                                  const int32_t* hi, float scale, RowsSoftmax st) {
  // Scores, key by key: s[j] lane r = q_r . k_j, one chain per (row, key) over the dimensions in order.
  __m512 s[kKeys];
  for (int j = 0; j < kKeys; ++j) s[j] = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; ++d) {
    const __m512 qd = _mm512_loadu_ps(q_t + d * kRows);
    for (int j = 0; j < kKeys; ++j) s[j] = _mm512_fmadd_ps(qd, _mm512_set1_ps(keys[j * hd + d]), s[j]);
  }
  // Keys outside a row's range score -inf; the block's maximum, with the running one, per row.
  const __m512i vlo = _mm512_loadu_si512(lo), vhi = _mm512_loadu_si512(hi);
  const __m512 minus_inf = _mm512_set1_ps(-INFINITY), vscale = _mm512_set1_ps(scale);
  const __m512 old_max = _mm512_loadu_ps(st.max_score);
  __m512 new_max = old_max;
  for (int j = 0; j < kKeys; ++j) {
    const __m512i vj = _mm512_set1_epi32(j);
    const __mmask16 in = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmplt_epi32_mask(vj, vhi);
    s[j] = _mm512_mask_mul_ps(minus_inf, in, s[j], vscale);
    new_max = _mm512_max_ps(new_max, s[j]);
  }
  const __m512 rescale = exp_or_zero(_mm512_sub_ps(old_max, new_max));
  __m512 sum = _mm512_setzero_ps();
  for (int j = 0; j < kKeys; ++j) {
    s[j] = exp_or_zero(_mm512_sub_ps(s[j], new_max));  // now the row's weight for key j
    sum = _mm512_add_ps(sum, s[j]);
  }
  _mm512_storeu_ps(st.denom, _mm512_fmadd_ps(_mm512_loadu_ps(st.denom), rescale, sum));
  _mm512_storeu_ps(st.max_score, new_max);
  // Output, eight dimensions at a time: acc[d] lane r += sum_j p_rj v_j[d], key by key.
  for (int64_t d0 = 0; d0 < hd; d0 += kChunk) {
    __m512 a[kChunk];
    for (int c = 0; c < kChunk; ++c) a[c] = _mm512_mul_ps(_mm512_loadu_ps(st.acc + (d0 + c) * kRows), rescale);
    for (int j = 0; j < kKeys; ++j)
      for (int c = 0; c < kChunk; ++c) a[c] = _mm512_fmadd_ps(s[j], _mm512_set1_ps(values[j * hd + d0 + c]), a[c]);
    for (int c = 0; c < kChunk; ++c) _mm512_storeu_ps(st.acc + (d0 + c) * kRows, a[c]);
  }
}

}  // namespace

#endif  // ASTRAEA_X86_SIMD

bool has_rows16_kernel(int64_t hd) {
#ifdef ASTRAEA_X86_SIMD
  return simd_level() == SimdLevel::Avx512 && hd % kChunk == 0;
#else
  return false;
#endif
}

void attend_rows16(const float* q_t, int64_t hd, const float* keys, const float* values, const int32_t* lo, const int32_t* hi,
                   float scale, RowsSoftmax state) {
#ifdef ASTRAEA_X86_SIMD
  if (has_rows16_kernel(hd)) rows16_avx512(q_t, hd, keys, values, lo, hi, scale, state);
#endif
}

}  // namespace astraea
