// Matmul against Q8_0 weights: int8 quants with one F16 scale per 32 weights of a row.
//
// The numbers are exactly GGUF's Q8_0 (d in F16, q = roundf(w/d)); only the arrangement is our own.
// GGUF interleaves them as 34-byte blocks {F16 d, int8 q[32]}; a [rows][cols] matrix here is two
// arrays, cols a multiple of 32:
//   quants  int8    rows · cols bytes, each row packed as below
//   scales  F16     [rows][cols/32]     planar: scales[r][i] is block i's d
// w[r][32i + j] ≈ f16_to_f32(scales[r][i]) · (quant j of block i of row r).
//
// Packed quants. Each row is cut into groups of 16 blocks (512 columns) and a trailing group of
// g = (cols/32) mod 16 blocks when that is not zero; a group of g blocks takes the row's next 32·g
// bytes, and inside it quant j (0-31) of the group's block b (0 ≤ b < g) sits at byte
//   (j/4)·(4g) + 4b + (j mod 4).
// So in a whole group, 64 bytes hold 4 consecutive quants of each of the 16 blocks: one vpdpbusd
// over them adds 4 products of block b to int32 lane b, 8 of them give each block its exact dot
// product in its own lane, and the float work (convert, times 16 weight scales, fma with 16
// activation scales) comes once per 16 blocks. Planar rows (quant j of block i at byte 32i + j),
// which the loaders produce and tensorData exports, are packed once at load by
// pack_q8_quants() and unpacked for export by unpack_q8_quants(). The scales stay planar: 16 of a
// group come in one 32-byte load.
//
// The activations are quantized too, per token and per 32-block, as llama.cpp's Q8_0 dot does:
// dx = max|x| / 127, qx = round-to-nearest-even(x · 127/max|x|), so every block's dot product is an
// exact integer sum, scaled once by d·dx. That adds a relative error of at most 1/254 per
// activation element (half a step of 127), roughly 0.2-0.3% RMS on each output next to the
// weights' own rounding of the same size; a block holding a NaN or an infinity yields NaN.
//
// Summation order. Every path computes each block's integer dot exactly and the same activation
// quants and scales; they differ only in how the F32 terms dot·d·dx of the blocks are summed:
//   * scalar: in block order, sum += dot · (d · dx);
//   * AVX-512 VNNI: lane b of an F32 accumulator adds (dot · d) · dx (one fma) of block b of every
//     group in turn, then the 16 lanes are summed pairwise;
//   * AVX2: the same with 8 lanes, one accumulator for both halves of each group (blocks b and b+8
//     land in lane b), then the 8 lanes are summed pairwise.
#pragma once
#include <cstdint>

#include "core/kernels/matmul.h"
#include "core/thread_pool.h"

namespace astraea {

// y[t*rows + r] = sum_k x[t*cols + k] * w[r][k] (+ bias[r]), as matmul() but for w.dtype == Q8_0
// with packed quants (matmul() forwards here). Throws EngineError(INVALID_ARGUMENT) on negative
// sizes, null pointers for non-empty inputs, a missing scales array or cols not a multiple of 32.
void matmul_q8(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
               ThreadPool& pool);

// Several Q8_0 products of the same x, as matmul_fused() (which forwards here): x is quantized
// once, and one fork-join covers the row chunks of every weight. The weights must all be Q8_0 with
// the same cols (else INVALID_ARGUMENT).
void matmul_q8_fused(const float* x, int64_t T, const MatmulOutput* outs, int count, ThreadPool& pool);

// Rearranges rows · cols planar quants into the packed layout, in place, rows in parallel on the
// pool (a row of scratch per thread). cols must be a multiple of 32 (else INVALID_ARGUMENT).
void pack_q8_quants(int8_t* quants, int64_t rows, int64_t cols, ThreadPool& pool);

// Writes the planar form of rows · cols packed quants to `planar` (which must not overlap them).
void unpack_q8_quants(const int8_t* packed, int64_t rows, int64_t cols, int8_t* planar);

}  // namespace astraea
