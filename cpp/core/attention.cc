#include "core/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/kernels/attention_block.h"
#include "core/kernels/vec.h"
#include "core/thread_pool.h"

namespace astraea {

std::vector<int64_t> slot_mapping(const AttentionSequence* seqs, int64_t num_seqs, int64_t total_tokens,
                                  int64_t block_size) {
  std::vector<int64_t> slots(static_cast<size_t>(total_tokens));
  for (int64_t s = 0; s < num_seqs; ++s) {
    const AttentionSequence& seq = seqs[s];
    for (int64_t i = 0; i < seq.num_tokens; ++i) {
      const int64_t pos = seq.start_position + i;
      slots[size_t(seq.first_token + i)] = int64_t(seq.blocks[pos / block_size]) * block_size + pos % block_size;
    }
  }
  return slots;
}

void write_kv(const float* k, const float* v, const int64_t* slots, int64_t num_tokens, KvCache& cache, int64_t layer) {
  const int64_t hd = cache.head_dim(), kvh = cache.num_kv_heads(), bs = cache.block_size();
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t block = slots[t] / bs, slot = slots[t] % bs;
    for (int64_t g = 0; g < kvh; ++g) {
      const int64_t offset = g * cache.head_stride() + slot * hd;
      const float* k_src = k + (t * kvh + g) * hd;
      const float* v_src = v + (t * kvh + g) * hd;
      if (cache.dtype() == DType::BF16) {
        narrow_bf16(k_src, static_cast<uint16_t*>(cache.keys(block, layer, offset)), hd);
        narrow_bf16(v_src, static_cast<uint16_t*>(cache.values(block, layer, offset)), hd);
      } else {
        std::memcpy(cache.keys(block, layer, offset), k_src, size_t(hd) * 4);
        std::memcpy(cache.values(block, layer, offset), v_src, size_t(hd) * 4);
      }
    }
  }
}

namespace {

// Attends the query heads that share one KV head (a GQA group) for one token, one block of keys
// at a time, so each key and value row is read once for the whole group.
struct GroupAttention {
  int64_t group, hd, bs;
  float scale;
  std::vector<float> scores, max_score, denom, acc;
  std::vector<float> wide_keys, wide_values;  // a BF16 block's rows, widened once for the whole group (fallback)

  GroupAttention(int64_t group_size, int64_t head_dim, int64_t block_size)
      : group(group_size), hd(head_dim), bs(block_size), scale(float(1.0 / std::sqrt(double(head_dim)))),
        scores(size_t(group_size * block_size)), max_score(size_t(group_size)), denom(size_t(group_size)),
        acc(size_t(group_size * head_dim)) {}

  void run(const float* q /* [group][hd] */, int64_t first_pos, int64_t last_pos, const int32_t* blocks,
           KvCache& cache, int64_t layer, int64_t kv_head, float* out /* [group][hd] */) {
    std::fill(max_score.begin(), max_score.end(), -INFINITY);
    std::fill(denom.begin(), denom.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);
    const OnlineSoftmax state{max_score.data(), denom.data(), acc.data()};
    for (int64_t pos = first_pos; pos <= last_pos;) {
      const int64_t block = blocks[pos / bs];
      const int64_t slot0 = pos % bs;
      const int64_t n = std::min(bs - slot0, last_pos - pos + 1);
      const int64_t offset = kv_head * cache.head_stride() + slot0 * hd;
      const void* keys = cache.keys(block, layer, offset);
      const void* values = cache.values(block, layer, offset);
      if (cache.dtype() == DType::BF16) {
        const auto* k16 = static_cast<const uint16_t*>(keys);
        const auto* v16 = static_cast<const uint16_t*>(values);
        if (attend_block_bf16(q, group, hd, k16, v16, n, scale, scores.data(), state)) {
          pos += n;
          continue;
        }
        // No kernel for BF16 here: widened into L1-sized scratch (one block: at most block_size x
        // head_dim), so each element is widened once for every head of the group.
        wide_keys.resize(size_t(bs * hd));  // only where no kernel reads BF16 itself
        wide_values.resize(size_t(bs * hd));
        widen_bf16(k16, wide_keys.data(), n * hd);
        widen_bf16(v16, wide_values.data(), n * hd);
        keys = wide_keys.data();
        values = wide_values.data();
      }
      attend_block(q, group, hd, static_cast<const float*>(keys), static_cast<const float*>(values), n, scale,
                   scores.data(), state);
      pos += n;
    }
    for (int64_t h = 0; h < group; ++h) {
      const float inv = 1.0f / denom[size_t(h)];
      for (int64_t d = 0; d < hd; ++d) out[h * hd + d] = acc[size_t(h * hd + d)] * inv;
    }
  }
};

}  // namespace

void paged_attention(const float* q, const AttentionSequence* seqs, int64_t num_seqs, int64_t total_tokens,
                     KvCache& cache, int64_t layer, const ModelConfig& c, float* out, ThreadPool& pool) {
  const int64_t kvh = c.num_kv_heads, group = c.num_heads / c.num_kv_heads, hd = c.head_dim;
  // Map each flattened token to its sequence once, so work items are (token, kv head) pairs.
  std::vector<int32_t> seq_of_token(static_cast<size_t>(total_tokens));
  for (int64_t s = 0; s < num_seqs; ++s)
    for (int64_t i = 0; i < seqs[s].num_tokens; ++i) seq_of_token[size_t(seqs[s].first_token + i)] = int32_t(s);

  const int64_t items = total_tokens * kvh;
  const int64_t grain = std::max<int64_t>(1, items / (int64_t(pool.size()) * 8));
  pool.parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    GroupAttention attend(group, hd, cache.block_size());
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / kvh, g = item % kvh;
      const AttentionSequence& seq = seqs[seq_of_token[size_t(t)]];
      const int64_t pos = seq.start_position + (t - seq.first_token);
      const int64_t first = c.sliding_window > 0 ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
      const int64_t offset = t * c.num_heads * hd + g * group * hd;
      attend.run(q + offset, first, pos, seq.blocks, cache, layer, g, out + offset);
    }
  });
}

}  // namespace astraea
