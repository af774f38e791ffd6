// Single-threaded F32 vector helpers for attention and norms. They are called on short vectors
// (a head dimension, a hidden row) many times per step, so they never touch the thread pool; they
// dispatch on simd_level() like matmul. Pointers may be unaligned. Sums may be reordered relative
// to a sequential loop (several accumulators), which changes rounding but not accuracy.
#pragma once
#include <cstdint>

namespace astraea {

float dot_f32(const float* a, const float* b, int64_t n);
// y += alpha * x. x and y must not overlap unless they are the same pointer.
void axpy_f32(float alpha, const float* x, float* y, int64_t n);
// y *= alpha.
void scale_f32(float alpha, float* y, int64_t n);
// gate = silu(gate) * up, the SwiGLU activation: silu(g) = g / (1 + e^-g).
void silu_mul_f32(float* gate, const float* up, int64_t n);
// dst = src widened from BF16 (exact).
void widen_bf16(const uint16_t* src, float* dst, int64_t n);
// dst = src rounded to BF16, to nearest even (NaN stays NaN), as f32_to_bf16 in core/dtype.h.
void narrow_bf16(const float* src, uint16_t* dst, int64_t n);

// Asks for the cache lines of [p, p + bytes) to be loaded ahead of their use (a hint: nothing is
// read now, and an address that is not mapped is not an error). Always inlined, and so must be any
// helper that wraps it: GCC finds a function that only prefetches "pure", and drops a call to it
// whose result is unused — prefetches and all (a wrapper that was not inlined lost the attention
// prefetch's whole gain, with no warning).
__attribute__((always_inline)) inline void prefetch_span(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i);
}

}  // namespace astraea
