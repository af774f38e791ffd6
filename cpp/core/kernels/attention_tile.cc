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

// AVX2: 8 lanes and 16 registers, so the 16 rows run as two halves of 8 and the 16 keys as two
// runs of 8 (16 scores would not stay in registers), each run folded into the running softmax as
// the AVX-512 kernel folds its 16. The order within a row is still fixed by the row alone.
constexpr int kHalf = 8;
constexpr int kChunk2 = 4;  // output dimensions at once: 4 accumulators beside 8 weights

ASTRAEA_AVX2 inline __m256 exp_or_zero256(__m256 x) {
  return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ), exp256(x));
}

// Rows [r0, r0 + 8) of the tile against keys [j0, j0 + 8).
ASTRAEA_AVX2 void rows8_keys8_avx2(const float* q_t, int64_t hd, const float* keys, const float* values, const int32_t* lo,
                                   const int32_t* hi, float scale, RowsSoftmax st, int r0, int j0) {
  const __m256i vlo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + r0));
  const __m256i vhi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + r0));
  // Nothing to do where no row's range meets these keys (its state would come back unchanged).
  const __m256i first = _mm256_set1_epi32(j0), end = _mm256_set1_epi32(j0 + kHalf);
  const __m256i meets = _mm256_and_si256(_mm256_cmpgt_epi32(end, vlo), _mm256_cmpgt_epi32(vhi, first));
  if (_mm256_testz_si256(meets, _mm256_cmpgt_epi32(vhi, vlo))) return;

  __m256 s[kHalf];
  for (int j = 0; j < kHalf; ++j) s[j] = _mm256_setzero_ps();
  for (int64_t d = 0; d < hd; ++d) {
    const __m256 qd = _mm256_loadu_ps(q_t + d * kRows + r0);
    for (int j = 0; j < kHalf; ++j) s[j] = _mm256_fmadd_ps(qd, _mm256_set1_ps(keys[(j0 + j) * hd + d]), s[j]);
  }
  const __m256 minus_inf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(scale);
  const __m256 old_max = _mm256_loadu_ps(st.max_score + r0);
  __m256 new_max = old_max;
  for (int j = 0; j < kHalf; ++j) {
    const __m256i vj = _mm256_set1_epi32(j0 + j);
    const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, vj), _mm256_cmpgt_epi32(_mm256_add_epi32(vj, _mm256_set1_epi32(1)), vhi));
    s[j] = _mm256_blendv_ps(_mm256_mul_ps(s[j], vscale), minus_inf, _mm256_castsi256_ps(out));
    new_max = _mm256_max_ps(new_max, s[j]);
  }
  const __m256 rescale = exp_or_zero256(_mm256_sub_ps(old_max, new_max));
  __m256 sum = _mm256_setzero_ps();
  for (int j = 0; j < kHalf; ++j) {
    s[j] = exp_or_zero256(_mm256_sub_ps(s[j], new_max));
    sum = _mm256_add_ps(sum, s[j]);
  }
  _mm256_storeu_ps(st.denom + r0, _mm256_fmadd_ps(_mm256_loadu_ps(st.denom + r0), rescale, sum));
  _mm256_storeu_ps(st.max_score + r0, new_max);
  for (int64_t d0 = 0; d0 < hd; d0 += kChunk2) {
    __m256 a[kChunk2];
    for (int c = 0; c < kChunk2; ++c) a[c] = _mm256_mul_ps(_mm256_loadu_ps(st.acc + (d0 + c) * kRows + r0), rescale);
    for (int j = 0; j < kHalf; ++j)
      for (int c = 0; c < kChunk2; ++c) a[c] = _mm256_fmadd_ps(s[j], _mm256_set1_ps(values[(j0 + j) * hd + d0 + c]), a[c]);
    for (int c = 0; c < kChunk2; ++c) _mm256_storeu_ps(st.acc + (d0 + c) * kRows + r0, a[c]);
  }
}

ASTRAEA_AVX2 void rows16_avx2(const float* q_t, int64_t hd, const float* keys, const float* values, const int32_t* lo,
                              const int32_t* hi, float scale, RowsSoftmax st) {
  for (int r0 = 0; r0 < kRows; r0 += kHalf)
    for (int j0 = 0; j0 < kKeys; j0 += kHalf) rows8_keys8_avx2(q_t, hd, keys, values, lo, hi, scale, st, r0, j0);
}

}  // namespace

#endif  // ASTRAEA_X86_SIMD

bool has_rows16_kernel(int64_t hd) {
#ifdef ASTRAEA_X86_SIMD
  return simd_level() >= SimdLevel::Avx2 && hd % kChunk == 0;
#else
  (void)hd;
  return false;
#endif
}

void attend_rows16(const float* q_t, int64_t hd, const float* keys, const float* values, const int32_t* lo, const int32_t* hi,
                   float scale, RowsSoftmax state) {
#ifdef ASTRAEA_X86_SIMD
  if (!has_rows16_kernel(hd)) return;
  if (simd_level() == SimdLevel::Avx512) rows16_avx512(q_t, hd, keys, values, lo, hi, scale, state);
  else rows16_avx2(q_t, hd, keys, values, lo, hi, scale, state);
#endif
}

}  // namespace astraea
