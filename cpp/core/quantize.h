// Quantizing weights to Q8_0 (the numbers of GGUF's Q8_0; the planar layout of
// core/kernels/matmul_q8.h). Per block of 32 consecutive values of a row:
//   d = max|w| / 127,  q = roundf(w · (1/d)) (half away from zero; q = 0 when d = 0),
// with d stored as F16 (rounded to nearest even) and q computed from the unrounded F32 d, as
// GGUF's reference quantizer does, so a file quantized either way holds the same bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/dtype.h"

namespace astraea {

class ThreadPool;

// One row of n values (n a multiple of 32) into quants[n] and scales[n/32] (F16 bits). Returns
// false, leaving the outputs unspecified, if a value is NaN or infinite.
bool quantize_row_q8_0(const float* src, int64_t n, int8_t* quants, uint16_t* scales);

// A [rows][cols] matrix stored as F32, F16 or BF16 (src may be unaligned), widened row by row and
// quantized into quants[rows][cols] and scales[rows][cols/32], split over `pool`. Throws
// EngineError: UNSUPPORTED_MODEL when cols is not a multiple of 32, INVALID_WEIGHTS when a value
// is not finite; `what` names the tensor in the message.
void quantize_matrix_q8_0(const void* src, DType dtype, int64_t rows, int64_t cols, int8_t* quants, uint16_t* scales,
                          ThreadPool& pool, const std::string& what);

// Row r of a matrix as F32: the callback returns a pointer to its values, its own or written into
// `scratch` (cols floats).
using Q8RowSource = std::function<const float*(int64_t r, float* scratch)>;

// rows × cols values, given a row at a time by `row_values`, quantized as quantize_matrix_q8_0 does
// (same checks, same errors), split over `pool`.
void quantize_rows_q8_0(int64_t rows, int64_t cols, int8_t* quants, uint16_t* scales, ThreadPool& pool,
                        const std::string& what, const Q8RowSource& row_values);

// The check quantize_matrix_q8_0 makes first, for callers that want to fail before doing work.
void require_q8_0_shape(int64_t cols, const std::string& what);

}  // namespace astraea
