#include "core/kernels/attention_block.h"

#include <algorithm>
#include <cmath>

#include "core/kernels/cpu_features.h"
#include "core/kernels/vec.h"

#include "core/kernels/simd.h"

namespace astraea {

namespace {

// Any head size, any SIMD level: one dot and one axpy per key and head.
void attend_block_generic(const float* q, int64_t group, int64_t hd, const float* keys, const float* values, int64_t n,
                          float scale, float* scores, OnlineSoftmax st) {
  for (int64_t h = 0; h < group; ++h) {
    float* sc = scores + h * n;
    float block_max = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      sc[j] = dot_f32(q + h * hd, keys + j * hd, hd) * scale;
      block_max = std::max(block_max, sc[j]);
    }
    const float new_max = std::max(st.max_score[h], block_max);
    const float rescale = std::exp(st.max_score[h] - new_max);  // 0 on the first block
    float* a = st.acc + h * hd;
    if (rescale != 1.0f) scale_f32(rescale, a, hd);
    st.denom[h] *= rescale;
    for (int64_t j = 0; j < n; ++j) {
      const float w = std::exp(sc[j] - new_max);
      st.denom[h] += w;
      axpy_f32(w, values + j * hd, a, hd);
    }
    st.max_score[h] = new_max;
  }
}

#ifdef ASTRAEA_X86_SIMD

// 16 keys or values of either cache dtype as F32.
ASTRAEA_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
ASTRAEA_AVX512 inline __m512 load16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));  // BF16 is F32's top half
}

// Head sizes that are a multiple of 16. Each key row is loaded once for the whole group; the
// probabilities of 16 keys are computed in one vector; each head's output chunk stays in a
// register while the block's values stream past. Keys and values are F32 or BF16 (widened in
// registers as they are loaded).
template <class KV>
ASTRAEA_AVX512 void attend_block_avx512(const float* q, int64_t group, int64_t hd, const KV* keys, const KV* values,
                                        int64_t n, float scale, float* scores, OnlineSoftmax st) {
  for (int64_t j = 0; j < n; ++j) {
    const KV* k = keys + j * hd;
    for (int64_t h = 0; h < group; ++h) {
      const float* qh = q + h * hd;
      __m512 s = _mm512_mul_ps(_mm512_loadu_ps(qh), load16(k));
      for (int64_t d = 16; d < hd; d += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(qh + d), load16(k + d), s);
      scores[h * n + j] = _mm512_reduce_add_ps(s) * scale;
    }
  }
  for (int64_t h = 0; h < group; ++h) {
    float* sc = scores + h * n;
    float block_max = -INFINITY;
    for (int64_t j = 0; j < n; ++j) block_max = std::max(block_max, sc[j]);
    const float new_max = std::max(st.max_score[h], block_max);
    const float rescale = std::exp(st.max_score[h] - new_max);  // 0 on the first block
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1);
      const __m512 p = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sc + j), _mm512_set1_ps(new_max)));
      _mm512_mask_storeu_ps(sc + j, m, p);
      sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, p));
    }
    st.denom[h] = st.denom[h] * rescale + _mm512_reduce_add_ps(sum);
    st.max_score[h] = new_max;
    const __m512 vr = _mm512_set1_ps(rescale);
    float* a = st.acc + h * hd;
    for (int64_t d = 0; d < hd; d += 16) {
      __m512 out = _mm512_mul_ps(_mm512_loadu_ps(a + d), vr);
      for (int64_t j = 0; j < n; ++j) out = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), load16(values + j * hd + d), out);
      _mm512_storeu_ps(a + d, out);
    }
  }
}

#endif  // ASTRAEA_X86_SIMD

}  // namespace

void attend_block(const float* q, int64_t group, int64_t hd, const float* keys, const float* values, int64_t n,
                  float scale, float* scores, OnlineSoftmax state) {
#ifdef ASTRAEA_X86_SIMD
  if (simd_level() == SimdLevel::Avx512 && hd % 16 == 0)
    return attend_block_avx512(q, group, hd, keys, values, n, scale, scores, state);
#endif
  attend_block_generic(q, group, hd, keys, values, n, scale, scores, state);
}

bool attend_block_bf16(const float* q, int64_t group, int64_t hd, const uint16_t* keys, const uint16_t* values, int64_t n,
                       float scale, float* scores, OnlineSoftmax state) {
#ifdef ASTRAEA_X86_SIMD
  if (simd_level() == SimdLevel::Avx512 && hd % 16 == 0) {
    attend_block_avx512(q, group, hd, keys, values, n, scale, scores, state);
    return true;
  }
#endif
  return false;
}

}  // namespace astraea
