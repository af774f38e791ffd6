// One block of keys and values for the query heads of one GQA group, folded into a running
// (online) softmax. Attention calls this once per KV block, so the state carries across blocks.
#pragma once
#include <cstdint>

namespace astraea {

struct OnlineSoftmax {
  float* max_score;  // [group], -inf before the first block
  float* denom;      // [group], 0 before the first block
  float* acc;        // [group][head_dim], 0 before the first block; unnormalised output
};

// q: [group][head_dim]; keys, values: n rows of head_dim (contiguous); scores: scratch of group*n.
void attend_block(const float* q, int64_t group, int64_t head_dim, const float* keys, const float* values, int64_t n,
                  float scale, float* scores, OnlineSoftmax state);

// The same over BF16 keys and values, widened in registers, where a kernel for them exists (AVX-512
// with head_dim a multiple of 16, AVX2 with a multiple of 8); returns false, having done nothing,
// where not: the caller widens the block and calls attend_block.
bool attend_block_bf16(const float* q, int64_t group, int64_t head_dim, const uint16_t* keys, const uint16_t* values,
                       int64_t n, float scale, float* scores, OnlineSoftmax state);

}  // namespace astraea
