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
struct WeightView {
  const void* data;
  DType dtype;
  int64_t rows;
  int64_t cols;
};

// y[t*rows + r] = sum_k x[t*cols + k] * w[r][k] (+ bias[r] if bias != nullptr), for t < T, r < rows.
// x, y and bias are F32 and must not overlap y. Work is split over rows (and, for long prompts,
// over token tiles) on `pool`, so that at T=1 both cores stream disjoint parts of the weight, and
// at larger T every weight element loaded from memory is reused across many tokens.
// Throws EngineError(INVALID_ARGUMENT) on negative sizes or null pointers for non-empty inputs.
void matmul(const float* x, int64_t T, const WeightView& w, const float* bias, float* y,
            ThreadPool& pool);

}  // namespace astraea
