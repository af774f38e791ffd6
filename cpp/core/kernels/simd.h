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

// e^x for 16 lanes: x = n·ln2 + r with |r| <= ln2/2, e^r by its Taylor series to degree 7
// (relative error ~1e-8, below F32 rounding), then scaled by 2^n. Inputs below -87 give ~1e-38.
ASTRAEA_AVX512 inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 in two parts, so the
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);     // reduction is exact
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace astraea

#endif
