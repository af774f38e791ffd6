#include "core/kernels/attention_block.h"

#include <algorithm>
#include <cmath>

#include "core/kernels/cpu_features.h"
#include "core/kernels/vec.h"

#include "core/kernels/simd.h"

namespace astraea {

namespace {

// A head's running maximum after a block's n scores, and the factor its earlier sums are scaled
// by (0 on the first block, when the old maximum is -inf).
struct NewMax {
  float max, rescale;
};
inline NewMax fold_max(const float* scores, int64_t n, float old_max) {
  float m = old_max;
  for (int64_t j = 0; j < n; ++j) m = std::max(m, scores[j]);
  return {m, std::exp(old_max - m)};
}

// Any head size, any SIMD level: one dot and one axpy per key and head.
void attend_block_generic(const float* q, int64_t group, int64_t hd, const float* keys, const float* values, int64_t n,
                          float scale, float* scores, OnlineSoftmax st) {
  for (int64_t h = 0; h < group; ++h) {
    float* sc = scores + h * n;
    for (int64_t j = 0; j < n; ++j) sc[j] = dot_f32(q + h * hd, keys + j * hd, hd) * scale;
    const auto [new_max, rescale] = fold_max(sc, n, st.max_score[h]);
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

// (a.L0 + a.L1, a.L2 + a.L3, b.L0 + b.L1, b.L2 + b.L3), L the 128-bit lanes.
ASTRAEA_AVX512 inline __m512 fold_lanes(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

// The sums of 16 vectors' lanes, in one vector (lane j: the sum of v[j]'s 16 lanes): a transpose
// folded into the additions, 45 shuffles and adds where 16 horizontal sums take ~130.
ASTRAEA_AVX512 inline __m512 sum16(const __m512* v) {
  __m512 quads[4];  // quads[g], each 128-bit lane L: the sums of v[4g..4g+3]'s lane-L elements
  for (int g = 0; g < 4; ++g) {
    const __m512* w = v + 4 * g;
    // (w0[0]+w0[2], w1[0]+w1[2], w0[1]+w0[3], w1[1]+w1[3]) per 128-bit lane, and likewise w2, w3.
    const __m512 p01 = _mm512_add_ps(_mm512_unpacklo_ps(w[0], w[1]), _mm512_unpackhi_ps(w[0], w[1]));
    const __m512 p23 = _mm512_add_ps(_mm512_unpacklo_ps(w[2], w[3]), _mm512_unpackhi_ps(w[2], w[3]));
    quads[g] = _mm512_add_ps(_mm512_shuffle_ps(p01, p23, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(p01, p23, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Add the four 128-bit lanes of each quad: pairs of lanes, then the pairs.
  return fold_lanes(fold_lanes(quads[0], quads[1]), fold_lanes(quads[2], quads[3]));
}

// Head sizes that are a multiple of 16. The scores of 16 keys come out of one sum16 per head, not
// 16 horizontal sums (those were most of the kernel's time at decode); the probabilities of 16
// keys are computed in one vector; each head's output chunk stays in a register while the block's
// values stream past. Keys and values are F32 or BF16 (widened in registers as they are loaded).
template <class KV>
ASTRAEA_AVX512 void attend_block_avx512(const float* q, int64_t group, int64_t hd, const KV* keys, const KV* values,
                                        int64_t n, float scale, float* scores, OnlineSoftmax st) {
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = std::min<int64_t>(16, n - j0);
    for (int64_t h = 0; h < group; ++h) {
      const float* qh = q + h * hd;
      __m512 dots[16];
      for (int64_t j = 0; j < 16; ++j) {
        if (j >= m) {
          dots[j] = _mm512_setzero_ps();
          continue;
        }
        const KV* k = keys + (j0 + j) * hd;
        __m512 s = _mm512_mul_ps(_mm512_loadu_ps(qh), load16(k));
        for (int64_t d = 16; d < hd; d += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(qh + d), load16(k + d), s);
        dots[j] = s;
      }
      const __mmask16 mask = m == 16 ? __mmask16(0xFFFF) : __mmask16((1u << m) - 1);
      _mm512_mask_storeu_ps(scores + h * n + j0, mask, _mm512_mul_ps(sum16(dots), vscale));
    }
  }
  for (int64_t h = 0; h < group; ++h) {
    float* sc = scores + h * n;
    const auto [new_max, rescale] = fold_max(sc, n, st.max_score[h]);
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
      // Four sums over every fourth value row: in one chain each multiply-add waited out the last
      // one's latency, which bounded a prefill's attention (its rows are in L1); four overlap.
      __m512 out[4] = {_mm512_mul_ps(_mm512_loadu_ps(a + d), vr), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      int64_t j = 0;
      for (; j + 4 <= n; j += 4)
        for (int u = 0; u < 4; ++u)
          out[u] = _mm512_fmadd_ps(_mm512_set1_ps(sc[j + u]), load16(values + (j + u) * hd + d), out[u]);
      for (; j < n; ++j) out[0] = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), load16(values + j * hd + d), out[0]);
      _mm512_storeu_ps(a + d, _mm512_add_ps(_mm512_add_ps(out[0], out[1]), _mm512_add_ps(out[2], out[3])));
    }
  }
}

// AVX2: the same kernel in 8 lanes, for CPUs without AVX-512 (head sizes a multiple of 8).
ASTRAEA_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
ASTRAEA_AVX2 inline __m256 load8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Lane j: the sum of v[j]'s 8 lanes (two rounds of pairwise adds per 128-bit half, then the halves).
ASTRAEA_AVX2 inline __m256 sum8(const __m256* v) {
  const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

// Lanes below `count` (0..8) set: the mask of a partial run of keys.
ASTRAEA_AVX2 inline __m256i first_lanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <class KV>
ASTRAEA_AVX2 void attend_block_avx2(const float* q, int64_t group, int64_t hd, const KV* keys, const KV* values, int64_t n,
                                    float scale, float* scores, OnlineSoftmax st) {
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n; j0 += 8) {
    const int64_t m = std::min<int64_t>(8, n - j0);
    for (int64_t h = 0; h < group; ++h) {
      const float* qh = q + h * hd;
      __m256 dots[8];
      for (int64_t j = 0; j < 8; ++j) {
        if (j >= m) {
          dots[j] = _mm256_setzero_ps();
          continue;
        }
        const KV* k = keys + (j0 + j) * hd;
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(qh), load8(k));
        for (int64_t d = 8; d < hd; d += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + d), load8(k + d), s);
        dots[j] = s;
      }
      _mm256_maskstore_ps(scores + h * n + j0, first_lanes(m), _mm256_mul_ps(sum8(dots), vscale));
    }
  }
  for (int64_t h = 0; h < group; ++h) {
    float* sc = scores + h * n;
    const auto [new_max, rescale] = fold_max(sc, n, st.max_score[h]);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) {
      const __m256i m = first_lanes(std::min<int64_t>(8, n - j));
      const __m256 p = _mm256_and_ps(_mm256_castsi256_ps(m), exp256(_mm256_sub_ps(_mm256_maskload_ps(sc + j, m), _mm256_set1_ps(new_max))));
      _mm256_maskstore_ps(sc + j, m, p);
      sum = _mm256_add_ps(sum, p);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    float total = 0;
    for (float x : lanes) total += x;
    st.denom[h] = st.denom[h] * rescale + total;
    st.max_score[h] = new_max;
    const __m256 vr = _mm256_set1_ps(rescale);
    float* a = st.acc + h * hd;
    for (int64_t d = 0; d < hd; d += 8) {
      __m256 out[4] = {_mm256_mul_ps(_mm256_loadu_ps(a + d), vr), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      int64_t j = 0;
      for (; j + 4 <= n; j += 4)
        for (int u = 0; u < 4; ++u)
          out[u] = _mm256_fmadd_ps(_mm256_set1_ps(sc[j + u]), load8(values + (j + u) * hd + d), out[u]);
      for (; j < n; ++j) out[0] = _mm256_fmadd_ps(_mm256_set1_ps(sc[j]), load8(values + j * hd + d), out[0]);
      _mm256_storeu_ps(a + d, _mm256_add_ps(_mm256_add_ps(out[0], out[1]), _mm256_add_ps(out[2], out[3])));
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
  if (simd_level() >= SimdLevel::Avx2 && hd % 8 == 0)
    return attend_block_avx2(q, group, hd, keys, values, n, scale, scores, state);
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
  if (simd_level() >= SimdLevel::Avx2 && hd % 8 == 0) {
    attend_block_avx2(q, group, hd, keys, values, n, scale, scores, state);
    return true;
  }
#endif
  return false;
}

}  // namespace astraea
