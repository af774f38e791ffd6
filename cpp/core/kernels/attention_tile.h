// Attention for a tile of query rows at once — several new tokens of one sequence times the query
// heads of one GQA group — against up to 16 keys, folded into each row's running softmax. A
// prefill's attention is this: every block of the context met by many rows. Rows run in the lanes
// of a vector (16 at a time), so a score is one multiply-add per head dimension, the softmax of 16
// rows is a few vector operations, and nothing is summed across lanes — where the one-token kernel
// (attention_block.h) spends most of a long prefill waiting on the latency of its chains.
#pragma once
#include <cstdint>

namespace astraea {

// The running softmax of 16 rows, transposed: lane r is row r.
struct RowsSoftmax {
  float* max_score;  // [16], -inf before the first keys
  float* denom;      // [16], 0 before the first keys
  float* acc;        // [head_dim][16], 0 before the first keys; unnormalised output
};

// Whether this CPU has attend_rows16's kernel for this head size (AVX-512, or AVX2 as two halves of
// 8 lanes; head_dim a multiple of 8); where not, the caller attends row by row (attention_block.h).
bool has_rows16_kernel(int64_t head_dim);

// q_t: the 16 rows' queries transposed, [head_dim][16] (zero for unused rows). keys, values: 16
// rows of head_dim F32 values each, finite and zero past the keys actually there. Row r attends
// keys [lo[r], hi[r]) (lo >= hi: none; its state is left as it was). Each row's scores and sums
// are taken in a fixed order (its own dimensions in turn, then key by key), so a row's result does
// not depend on which other rows share its tile. Only where has_rows16_kernel(head_dim).
void attend_rows16(const float* q_t, int64_t head_dim, const float* keys, const float* values, const int32_t* lo,
                   const int32_t* hi, float scale, RowsSoftmax state);

}  // namespace astraea
