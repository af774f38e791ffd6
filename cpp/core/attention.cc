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

// Up to this many consecutive new tokens of one sequence are attended together, block by block:
// each block's keys and values (a few KB for one KV head) are read from memory once for all of
// them and stay in L1 between them. Attended one token at a time, a prompt of P tokens read every
// block of its context P times over — most of a long prefill's time. Each token still folds the
// same blocks in the same order with the same row counts, so its result is exactly what it was
// alone.
constexpr int64_t kQueryTile = 16;

// Attends the query heads that share one KV head (a GQA group) for a tile of consecutive tokens of
// one sequence, one block of keys at a time, so each key and value row is read once for the whole
// group and the whole tile.
struct TileAttention {
  int64_t group, hd, bs;
  float scale;
  std::vector<float> scores, max_score, denom, acc;  // the running softmax of each token of the tile
  std::vector<float> wide_keys, wide_values;          // a BF16 block's rows, widened once for the tile (fallback)

  TileAttention(int64_t group_size, int64_t head_dim, int64_t block_size)
      : group(group_size), hd(head_dim), bs(block_size), scale(float(1.0 / std::sqrt(double(head_dim)))),
        scores(size_t(group_size * block_size)), max_score(size_t(kQueryTile * group_size)),
        denom(size_t(kQueryTile * group_size)), acc(size_t(kQueryTile * group_size * head_dim)) {}

  // Tokens i = 0..nq-1 at positions pos0 + i; token i's queries [group][hd] at q + i * stride, its
  // output likewise at out + i * stride. window 0: no sliding window.
  void run(const float* q, int64_t stride, int64_t nq, int64_t pos0, int64_t window, const int32_t* blocks,
           KvCache& cache, int64_t layer, int64_t kv_head, float* out) {
    std::fill(max_score.begin(), max_score.end(), -INFINITY);
    std::fill(denom.begin(), denom.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);
    const auto first_of = [&](int64_t pos) { return window > 0 ? std::max<int64_t>(0, pos - window + 1) : int64_t(0); };
    const int64_t last = pos0 + nq - 1;
    const int64_t head = kv_head * cache.head_stride();
    const int64_t span = bs * hd * int64_t(cache.element_bytes());  // one KV head's keys (or values) in a block
    for (int64_t b = first_of(pos0) / bs; b <= last / bs; ++b) {
      const int64_t b0 = b * bs;
      const void* keys = cache.keys(blocks[b], layer, head);
      const void* values = cache.values(blocks[b], layer, head);
      // The next block's rows are a few KB somewhere else in the pool, where the hardware
      // prefetchers, which follow one address stream, cannot guess them: asked for now, they arrive
      // while this block is attended (docs/performance.md, "Attention prefetch").
      if (b < last / bs) {
        prefetch_span(cache.keys(blocks[b + 1], layer, head), span);
        prefetch_span(cache.values(blocks[b + 1], layer, head), span);
      }
      bool widened = false;
      for (int64_t i = 0; i < nq; ++i) {
        // Token i sees positions [first_of(pos), pos]: of this block, rows [s, e).
        const int64_t pos = pos0 + i;
        const int64_t s = std::max(b0, first_of(pos)), e = std::min(b0 + bs, pos + 1);
        if (s >= e) continue;
        const int64_t row = s - b0, n = e - s;
        const OnlineSoftmax state{max_score.data() + i * group, denom.data() + i * group, acc.data() + i * group * hd};
        const float* qi = q + i * stride;
        if (cache.dtype() == DType::BF16 && !widened) {
          const auto* k16 = static_cast<const uint16_t*>(keys);
          const auto* v16 = static_cast<const uint16_t*>(values);
          if (attend_block_bf16(qi, group, hd, k16 + row * hd, v16 + row * hd, n, scale, scores.data(), state)) continue;
          // No kernel for BF16 here: the block's rows widened into L1-sized scratch once for the tile.
          const int64_t rows = std::min(bs, last + 1 - b0);
          wide_keys.resize(size_t(bs * hd));  // only where no kernel reads BF16 itself
          wide_values.resize(size_t(bs * hd));
          widen_bf16(k16, wide_keys.data(), rows * hd);
          widen_bf16(v16, wide_values.data(), rows * hd);
          keys = wide_keys.data();
          values = wide_values.data();
          widened = true;
        }
        attend_block(qi, group, hd, static_cast<const float*>(keys) + row * hd, static_cast<const float*>(values) + row * hd, n,
                     scale, scores.data(), state);
      }
    }
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t h = 0; h < group; ++h) {
        const float inv = 1.0f / denom[size_t(i * group + h)];
        for (int64_t d = 0; d < hd; ++d) out[i * stride + h * hd + d] = acc[size_t((i * group + h) * hd + d)] * inv;
      }
  }
};

// A run of consecutive new tokens of one sequence, attended together.
struct QueryTile {
  int32_t seq;
  int32_t first;  // its first token's index within the sequence's new tokens
  int32_t count;
};

}  // namespace

void paged_attention(const float* q, const AttentionSequence* seqs, int64_t num_seqs, KvCache& cache, int64_t layer,
                     const ModelConfig& c, float* out, ThreadPool& pool) {
  const int64_t kvh = c.num_kv_heads, group = c.num_heads / c.num_kv_heads, hd = c.head_dim;
  // Work items are (tile, kv head) pairs; a decode step's tiles are its sequences' single tokens.
  std::vector<QueryTile> tiles;
  for (int64_t s = 0; s < num_seqs; ++s)
    for (int64_t i = 0; i < seqs[s].num_tokens; i += kQueryTile)
      tiles.push_back({int32_t(s), int32_t(i), int32_t(std::min(kQueryTile, seqs[s].num_tokens - i))});

  const int64_t items = int64_t(tiles.size()) * kvh;
  const int64_t grain = std::max<int64_t>(1, items / (int64_t(pool.size()) * 8));
  const int64_t stride = c.num_heads * hd;
  pool.parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    TileAttention attend(group, hd, cache.block_size());
    for (int64_t item = begin; item < end; ++item) {
      const QueryTile& tile = tiles[size_t(item / kvh)];
      const int64_t g = item % kvh;
      const AttentionSequence& seq = seqs[tile.seq];
      const int64_t t = seq.first_token + tile.first;
      const int64_t offset = t * stride + g * group * hd;
      attend.run(q + offset, stride, tile.count, seq.start_position + tile.first, c.sliding_window, seq.blocks, cache, layer, g,
                 out + offset);
    }
  });
}

}  // namespace astraea
