// The BF16 GEMV (one token) with AVX-512 BF16's dot-product instruction, for matmul's T = 1 path
// on CPUs that have it (cpu_has_avx512_bf16()).
#pragma once
#include <cstdint>

namespace astraea {

// x split into two BF16 terms for the kernel: hi = bf16(x), lo = bf16(x - hi), each padded with
// zeros to a multiple of 32 (`padded` = (cols + 31) / 32 * 32 entries).
void split_bf16_terms(const float* x, int64_t cols, uint16_t* hi, uint16_t* lo);

// y[r] = W[r]·x (+ bias[r]) for rows [r0, r1) of a BF16 matrix with K columns, x given as its
// two terms. Only to be called where cpu_has_avx512_bf16() is true.
void gemv_bf16_dot_rows(const uint16_t* x_hi, const uint16_t* x_lo, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t r0, int64_t r1);

}  // namespace astraea
