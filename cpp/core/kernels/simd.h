// What every kernel file needs for its SIMD paths: the intrinsics, the per-function target
// attributes (the library is built without -march; see cpu_features.h), and shared vector math.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define ASTRAEA_X86_SIMD 1
// GCC 12 warns -Wuninitialized inside its own AVX-512 intrinsics (the _mm512_undefined_ps()
// idiom, GCC PR 105593); the warning is attributed to header lines, so silencing it around the
// include keeps -Wall output clean without hiding warnings in our files.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define ASTRAEA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define ASTRAEA_AVX2 __attribute__((target("avx2,fma,f16c")))
#define ASTRAEA_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")))

namespace astraea {

// e^x: x = n·ln2 + r with |r| <= ln2/2, e^r by its Taylor series to degree 7 (relative error
// ~1e-8, below F32 rounding), then scaled by 2^n. Inputs are clamped to [-87, 88] (below -87: ~1e-38).
namespace exp_series {
constexpr float kMin = -87.0f, kMax = 88.0f, kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606765330187e-06f;  // ln2 in two parts: exact reduction
// 1/k! from k = 7 down to 0, in Horner's order.
constexpr float kTerms[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
}  // namespace exp_series

// e^x for 16 lanes.
ASTRAEA_AVX512 inline __m512 exp512(__m512 x) {
  using namespace exp_series;
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kMin)), _mm512_set1_ps(kMax));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x));
  __m512 p = _mm512_set1_ps(kTerms[0]);
#pragma GCC unroll 8
  for (int k = 1; k < 8; ++k) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kTerms[k]));
  return _mm512_scalef_ps(p, n);
}

// e^x for 8 lanes, the same way; 2^n is built in the exponent bits, which the clamp keeps normal
// (n in [-126, 127]).
ASTRAEA_AVX2 inline __m256 exp256(__m256 x) {
  using namespace exp_series;
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kMin)), _mm256_set1_ps(kMax));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x));
  __m256 p = _mm256_set1_ps(kTerms[0]);
#pragma GCC unroll 8
  for (int k = 1; k < 8; ++k) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kTerms[k]));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
}

// Horizontal sums of four vectors as one 4-float vector: cheaper than four separate reductions,
// and the result lands contiguously, matching y's layout in the matmul kernels (consecutive rows
// of one token). Callable from the AVX-512 BF16 kernels too (their target is a superset).
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

}  // namespace astraea

#endif
