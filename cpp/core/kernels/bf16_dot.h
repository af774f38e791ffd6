// Products of BF16 weights with AVX-512 BF16's dot-product instruction (vdpbf16ps), for matmul on
// CPUs that have it (cpu_has_avx512_bf16()): the GEMV of one token, and the register-blocked GEMM
// of a batch whose activations are rounded to BF16 (ModelOptions::activations).
#pragma once
#include <cstdint>

namespace astraea {

// x split into two BF16 terms for the GEMV: hi = bf16(x), lo = bf16(x - hi), each padded with
// zeros to a multiple of 32 (`padded` = (cols + 31) / 32 * 32 entries). lo may be null: x rounded
// to BF16, one term.
void split_bf16_terms(const float* x, int64_t cols, uint16_t* hi, uint16_t* lo);

// y[r] = W[r]·x (+ bias[r]) for rows [r0, r1) of a BF16 matrix with K columns, x given as its
// two terms (x_lo null: x is x_hi alone). Only to be called where cpu_has_avx512_bf16() is true.
void gemv_bf16_dot_rows(const uint16_t* x_hi, const uint16_t* x_lo, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t r0, int64_t r1);

// y[t][r] = W[r]·x[t] (+ bias[r]) for tokens t < T and rows [r0, r1) of a BF16 matrix with K
// columns, x in BF16 with a row stride of ldx (>= K rounded up to 32, zero past K), y with a row
// stride of ldy. [prefetch, prefetch_end) is a byte range (the caller's next work item) to pull
// into cache over the call. Only to be called where cpu_has_avx512_bf16() is true.
void gemm_bf16_dot_rows(const uint16_t* x, int64_t ldx, int64_t T, const uint16_t* W, int64_t K, const float* bias,
                        float* y, int64_t ldy, int64_t r0, int64_t r1, const char* prefetch, const char* prefetch_end);

}  // namespace astraea
