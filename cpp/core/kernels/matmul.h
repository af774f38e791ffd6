// Matrix multiplication against Linear-layer weights, the engine's hot path.
//
// Weights stay in their stored dtype (often a memory-mapped safetensors file) and are widened to
// F32 in registers, because converting a whole model to F32 up front would double or triple the
// bytes every decode step has to stream from memory. Accumulation is always F32.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace astraea {

// A row-major weight matrix [rows][cols] as stored by Hugging Face nn.Linear ([out][in]).
// data may be unaligned (it can point into a memory-mapped safetensors file).
// For DType::Q8_0, data is the int8 quants (rows · cols bytes, each row packed as
// core/kernels/matmul_q8.h describes) and scales the F16 block scales [rows][cols/32] (cols a multiple of 32; see core/kernels/matmul_q8.h); other dtypes leave
// scales null.
struct WeightView {
  const void* data;
  DType dtype;
  int64_t rows;
  int64_t cols;
  const uint16_t* scales = nullptr;
  // What x is multiplied as: F32, or (BF16 weights only) x rounded to BF16 first, so that a
  // product of BF16 values is exact and AVX-512 BF16's dot product does twice the multiply-adds
  // of an F32 FMA per instruction (ModelOptions::activations). Elsewhere the rounded x is
  // multiplied in F32: the same products, summed in another order.
  DType x_dtype = DType::F32;
  // BF16 only: data holds 64-row panels (core/kernels/bf16_panels.h), not rows. ModelWeights packs
  // its streamed BF16 matrices so on CPUs with AVX-512 BF16.
  bool panels = false;
};

// y[t*rows + r] = sum_k x[t*cols + k] * w[r][k] (+ bias[r] if bias != nullptr), for t < T, r < rows.
// x, y and bias are F32 and must not overlap y. Work is split over rows (and, for long prompts,
// over token tiles) on `pool`, so that at T=1 both cores stream disjoint parts of the weight, and
// at larger T every weight element loaded from memory is reused across many tokens.
// Throws EngineError(INVALID_ARGUMENT) on negative sizes or null pointers for non-empty inputs.
void matmul(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
            ThreadPool& pool);

// One product of a fused call: y = x · wᵀ (+ bias).
struct MatmulOutput {
  const WeightView* w;
  const float* bias;  // may be null
  float* y;
};

// Several products of the same x in one fork-join: q, k and v, or gate and up. The weights must
// share cols and dtype (else INVALID_ARGUMENT). Each y is exactly what matmul() gives alone; the
// threads share one pool of row chunks over all the weights, so a decode step forks and joins once
// where it would three times, and no thread idles at the end of each small matrix.
void matmul_fused(const float* x, int64_t T, const MatmulOutput* outputs, int count, ThreadPool& pool);

}  // namespace astraea
