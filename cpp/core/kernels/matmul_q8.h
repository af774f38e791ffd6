// Matmul against Q8_0 weights: int8 quants with one F16 scale per 32 weights of a row.
//
// Layout (planar, our own): a [rows][cols] matrix is two arrays,
//   quants  int8    [rows][cols]      w[r][k] ≈ f16_to_f32(scales[r][k/32]) · quants[r][k]
//   scales  F16     [rows][cols/32]
// cols must be a multiple of 32. The numbers are exactly GGUF's Q8_0 (d in F16, q = roundf(w/d)),
// only the arrangement differs: GGUF interleaves them as 34-byte blocks {F16 d, int8 q[32]}. Planar
// is the kernels' choice: quant loads are plain 64-byte vector loads (GGUF's blocks straddle cache
// lines and sit 2 bytes off any alignment), and 16 scales come in one 32-byte load. A GGUF Q8_0
// tensor maps over by a de-interleaving copy at load, every byte unchanged: block i of row r goes
// to quants[r][32i .. 32i+31] and scales[r][i].
//
// The activations are quantized too, per token and per 32-block, as llama.cpp's Q8_0 dot does:
// dx = max|x| / 127, qx = round-to-nearest-even(x · 127/max|x|), so every block's dot product is an
// exact integer sum, scaled once by d·dx. That adds a relative error of at most 1/254 per
// activation element (half a step of 127), roughly 0.2-0.3% RMS on each output next to the
// weights' own rounding of the same size; a block holding a NaN or an infinity yields NaN.
#pragma once
#include <cstdint>

#include "core/kernels/matmul.h"
#include "core/thread_pool.h"

namespace astraea {

// y[t*rows + r] = sum_k x[t*cols + k] * w[r][k] (+ bias[r]), as matmul() but for w.dtype == Q8_0
// (matmul() forwards here). Throws EngineError(INVALID_ARGUMENT) on negative sizes, null pointers
// for non-empty inputs, a missing scales array or cols not a multiple of 32.
void matmul_q8(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
               ThreadPool& pool);

// Several Q8_0 products of the same x, as matmul_fused() (which forwards here): x is quantized
// once, and one fork-join covers the row chunks of every weight. The weights must all be Q8_0 with
// the same cols (else INVALID_ARGUMENT).
void matmul_q8_fused(const float* x, int64_t T, const MatmulOutput* outputs, int count, ThreadPool& pool);

}  // namespace astraea
