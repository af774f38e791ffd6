#include "core/quantize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "core/errors.h"
#include "core/thread_pool.h"

namespace astraea {

bool quantize_row_q8_0(const float* src, int64_t n, int8_t* quants, uint16_t* scales) {
  for (int64_t b = 0; b < n / kQ8BlockSize; ++b) {
    const float* x = src + b * kQ8BlockSize;
    float amax = 0.f;
    for (int64_t i = 0; i < kQ8BlockSize; ++i) {
      if (!std::isfinite(x[i])) return false;
      amax = std::max(amax, std::fabs(x[i]));
    }
    const float d = amax / 127.f;
    const float inv = d != 0.f ? 1.f / d : 0.f;
    for (int64_t i = 0; i < kQ8BlockSize; ++i) quants[b * kQ8BlockSize + i] = int8_t(std::roundf(x[i] * inv));
    scales[b] = f32_to_f16(d);
  }
  return true;
}

void require_q8_0_shape(int64_t cols, const std::string& what) {
  if (cols % kQ8BlockSize != 0)
    throw EngineError(codes::kUnsupportedModel, what + " has " + std::to_string(cols) +
                                                    " columns; Q8_0 weights need a multiple of 32 (load it as f32, f16 or bf16)");
}

void quantize_rows_q8_0(int64_t rows, int64_t cols, int8_t* quants, uint16_t* scales, ThreadPool& pool,
                        const std::string& what, const Q8RowSource& row_values) {
  require_q8_0_shape(cols, what);
  std::atomic<int64_t> bad_row{rows};  // the first non-finite row found, rows if none
  pool.parallel_for(rows, std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> scratch(static_cast<size_t>(cols));
    for (int64_t r = b; r < e; ++r) {
      if (!quantize_row_q8_0(row_values(r, scratch.data()), cols, quants + r * cols, scales + r * (cols / kQ8BlockSize))) {
        int64_t seen = bad_row.load();
        while (r < seen && !bad_row.compare_exchange_weak(seen, r)) {
        }
        return;
      }
    }
  });
  if (bad_row.load() < rows)
    throw EngineError(codes::kInvalidWeights, what + " holds a NaN or an infinity in row " + std::to_string(bad_row.load()) +
                                                  " (weights must be finite to be quantized)");
}

void quantize_matrix_q8_0(const void* src, DType dtype, int64_t rows, int64_t cols, int8_t* quants, uint16_t* scales,
                          ThreadPool& pool, const std::string& what) {
  require_q8_0_shape(cols, what);
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw EngineError(codes::kInvalidArgument, what + ": only F32, F16 or BF16 can be quantized to Q8_0");
  quantize_rows_q8_0(rows, cols, quants, scales, pool, what, [&](int64_t r, float* scratch) -> const float* {
    if (dtype == DType::F32) {
      const float* values = static_cast<const float*>(src) + r * cols;
      if (reinterpret_cast<uintptr_t>(values) % alignof(float) == 0) return values;
      std::memcpy(scratch, values, size_t(cols) * 4);  // a mapping may be unaligned
      return scratch;
    }
    for (int64_t k = 0; k < cols; ++k) scratch[k] = load_element(src, dtype, size_t(r * cols + k));
    return scratch;
  });
}

}  // namespace astraea
