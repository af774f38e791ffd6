// Attention over the paged KV cache, and writing new keys/values into it.
#pragma once
#include <cstdint>
#include <vector>

#include "core/kv_cache.h"
#include "core/model_config.h"

namespace astraea {

class ThreadPool;

// The new tokens of one sequence and where its context lives.
struct AttentionSequence {
  int64_t first_token;  // index of its first new token in the flattened batch
  int64_t num_tokens;
  int64_t start_position;
  const int32_t* blocks;  // its block table
};

// The cache slot (block * block_size + offset) of every new token, from its sequence's block table.
// Computed once per step and used by every layer's write_kv.
std::vector<int64_t> slot_mapping(const AttentionSequence* seqs, int64_t num_seqs, int64_t total_tokens,
                                  int64_t block_size);

// Stores k and v ([token][kv_head * head_dim], RoPE already applied to k) of each token into
// its slot.
void write_kv(const float* k, const float* v, const int64_t* slots, int64_t num_tokens, KvCache& cache, int64_t layer);

// out[token][head * head_dim] = softmax(q·K^T / sqrt(head_dim)) V over each token's visible
// context: positions [max(0, p - window + 1), p] for a token at position p (no window: from 0).
void paged_attention(const float* q, const AttentionSequence* seqs, int64_t num_seqs, KvCache& cache, int64_t layer,
                     const ModelConfig& config, float* out, ThreadPool& pool);

}  // namespace astraea
