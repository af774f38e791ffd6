// The F32 FMA peak of one core with AVX2: ten independent chains in registers. Run two at once
// to see whether the two vCPUs share a core's FMA units (on the Zen 3 VM they did not):
//   g++ -O2 -mavx2 -mfma docs/results/issue-23/avx2/fma_peak.cc -o /tmp/fma && (/tmp/fma & /tmp/fma & wait)
#include <immintrin.h>
#include <chrono>
#include <cstdio>
int main() {
  __m256 a0 = _mm256_set1_ps(0e-3f); __m256 a1 = _mm256_set1_ps(1e-3f); __m256 a2 = _mm256_set1_ps(2e-3f); __m256 a3 = _mm256_set1_ps(3e-3f); __m256 a4 = _mm256_set1_ps(4e-3f); __m256 a5 = _mm256_set1_ps(5e-3f); __m256 a6 = _mm256_set1_ps(6e-3f); __m256 a7 = _mm256_set1_ps(7e-3f); __m256 a8 = _mm256_set1_ps(8e-3f); __m256 a9 = _mm256_set1_ps(9e-3f);
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-6f);
  double best = 1e9; const long n = 100000000;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) { a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c); a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c); a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c); a9 = _mm256_fmadd_ps(a9, b, c); }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  std::printf("%.1f GFLOP/s (one core, F32 FMA, AVX2) [%g]\n", n * 10.0 * 16 / best / 1e9, a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0]);
}
