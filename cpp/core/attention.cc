#include "core/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/kernels/attention_block.h"
#include "core/kernels/attention_tile.h"
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
// block of its context P times over — most of a long prefill's time. Where the CPU has the rows
// kernel (core/kernels/attention_tile.h), a tile of two or more tokens runs its query rows in the
// lanes of a vector; each row's sums keep one order whatever else is in its tile, so a token's
// result does not depend on how a prompt was split into tiles (or chunks, or what the prefix cache
// held) — only on whether it was attended in a tile or alone, which differ by rounding.
constexpr int64_t kQueryTile = 16;

// The first position a token at pos sees (window 0: no sliding window).
int64_t first_visible(int64_t pos, int64_t window) { return window > 0 ? std::max<int64_t>(0, pos - window + 1) : int64_t(0); }

// Asks for one KV head's keys and values in a block ahead of their use. A sequence's next block is
// a few KB somewhere else in the pool, where the hardware prefetchers, which follow one address
// stream, cannot guess it: asked for while the current block is attended, it arrives in time
// (docs/performance.md, "Attention prefetch"). Always inlined, as prefetch_span says why.
__attribute__((always_inline)) inline void prefetch_block(KvCache& cache, int32_t block, int64_t layer, int64_t head_offset) {
  const int64_t bytes = cache.head_stride() * int64_t(cache.element_bytes());
  prefetch_span(cache.keys(block, layer, head_offset), bytes);
  prefetch_span(cache.values(block, layer, head_offset), bytes);
}

// Attends the query heads that share one KV head (a GQA group) for a tile of consecutive tokens of
// one sequence, one block of keys at a time, so each key and value row is read once for the whole
// group and the whole tile.
struct TileAttention {
  int64_t group, hd, bs;
  float scale;
  std::vector<float> scores, max_score, denom, acc;  // the running softmax of each token of the tile
  std::vector<float> wide_keys, wide_values;          // a BF16 block's rows, widened once for the tile (fallback)
  // The rows path (attend_rows16): queries transposed, 16 rows per group; each row group's running
  // softmax, transposed likewise; 16 keys and values as F32; each row's key range in them.
  std::vector<float> q_t, max_t, denom_t, acc_t, keys16, values16;
  std::vector<int32_t> lo, hi;

  TileAttention(int64_t group_size, int64_t head_dim, int64_t block_size)
      : group(group_size), hd(head_dim), bs(block_size), scale(float(1.0 / std::sqrt(double(head_dim)))),
        scores(size_t(group_size * block_size)), max_score(size_t(kQueryTile * group_size)),
        denom(size_t(kQueryTile * group_size)), acc(size_t(kQueryTile * group_size * head_dim)) {}

  // Tokens i = 0..nq-1 at positions pos0 + i; token i's queries [group][hd] at q + i * stride, its
  // output likewise at out + i * stride. window 0: no sliding window.
  void run(const float* q, int64_t stride, int64_t nq, int64_t pos0, int64_t window, const int32_t* blocks,
           KvCache& cache, int64_t layer, int64_t kv_head, float* out) {
    if (nq > 1 && has_rows16_kernel(hd)) return run_rows(q, stride, nq, pos0, window, blocks, cache, layer, kv_head, out);
    std::fill(max_score.begin(), max_score.end(), -INFINITY);
    std::fill(denom.begin(), denom.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);
    const int64_t last = pos0 + nq - 1;
    const int64_t head = kv_head * cache.head_stride();
    for (int64_t b = first_visible(pos0, window) / bs; b <= last / bs; ++b) {
      const int64_t b0 = b * bs;
      const void* keys = cache.keys(blocks[b], layer, head);
      const void* values = cache.values(blocks[b], layer, head);
      if (b < last / bs) prefetch_block(cache, blocks[b + 1], layer, head);
      bool widened = false;
      for (int64_t i = 0; i < nq; ++i) {
        // Token i sees positions [first_visible(pos), pos]: of this block, rows [s, e).
        const int64_t pos = pos0 + i;
        const int64_t s = std::max(b0, first_visible(pos, window)), e = std::min(b0 + bs, pos + 1);
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

  // A tile of several tokens: its nq * group query rows in the lanes of attend_rows16, 16 keys of
  // the context at a time. Each key and value is widened (or copied) once for the whole tile.
  void run_rows(const float* q, int64_t stride, int64_t nq, int64_t pos0, int64_t window, const int32_t* blocks,
                KvCache& cache, int64_t layer, int64_t kv_head, float* out) {
    constexpr int64_t kLanes = 16;
    const int64_t rows = nq * group, groups = (rows + kLanes - 1) / kLanes;
    q_t.assign(size_t(groups * hd * kLanes), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < hd; ++d)
        q_t[size_t(((r / kLanes) * hd + d) * kLanes + r % kLanes)] = q[(r / group) * stride + (r % group) * hd + d];
    max_t.assign(size_t(groups * kLanes), -INFINITY);
    denom_t.assign(size_t(groups * kLanes), 0.0f);
    acc_t.assign(size_t(groups * hd * kLanes), 0.0f);
    keys16.resize(size_t(kLanes * hd));
    values16.resize(size_t(kLanes * hd));
    lo.resize(size_t(groups * kLanes));
    hi.resize(size_t(groups * kLanes));

    const int64_t last = pos0 + nq - 1;
    const int64_t head = kv_head * cache.head_stride();
    const bool bf16 = cache.dtype() == DType::BF16;
    for (int64_t b = first_visible(pos0, window) / bs; b <= last / bs; ++b) {
      if (b < last / bs) prefetch_block(cache, blocks[b + 1], layer, head);
      for (int64_t k0 = b * bs; k0 < std::min((b + 1) * bs, last + 1); k0 += kLanes) {
        const int64_t m = std::min({kLanes, (b + 1) * bs - k0, last + 1 - k0});  // keys here, at positions k0..
        const int64_t row0 = k0 - b * bs;
        if (bf16) {
          widen_bf16(static_cast<const uint16_t*>(cache.keys(blocks[b], layer, head)) + row0 * hd, keys16.data(), m * hd);
          widen_bf16(static_cast<const uint16_t*>(cache.values(blocks[b], layer, head)) + row0 * hd, values16.data(), m * hd);
        } else {
          std::memcpy(keys16.data(), static_cast<const float*>(cache.keys(blocks[b], layer, head)) + row0 * hd, size_t(m * hd) * 4);
          std::memcpy(values16.data(), static_cast<const float*>(cache.values(blocks[b], layer, head)) + row0 * hd,
                      size_t(m * hd) * 4);
        }
        std::fill(keys16.begin() + m * hd, keys16.end(), 0.0f);  // past the keys there: zero, never stale
        std::fill(values16.begin() + m * hd, values16.end(), 0.0f);
        for (int64_t g = 0; g < groups; ++g) {
          bool any = false;
          for (int64_t lane = 0; lane < kLanes; ++lane) {
            const int64_t r = g * kLanes + lane, pos = pos0 + r / group;
            const int64_t s = std::max(k0, first_visible(pos, window)), e = std::min(k0 + m, pos + 1);
            const bool sees = r < rows && s < e;
            lo[size_t(r)] = sees ? int32_t(s - k0) : 0;
            hi[size_t(r)] = sees ? int32_t(e - k0) : 0;
            any = any || sees;
          }
          if (!any) continue;
          const RowsSoftmax state{max_t.data() + g * kLanes, denom_t.data() + g * kLanes, acc_t.data() + g * hd * kLanes};
          attend_rows16(q_t.data() + g * hd * kLanes, hd, keys16.data(), values16.data(), lo.data() + g * kLanes,
                        hi.data() + g * kLanes, scale, state);
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t g = r / kLanes, lane = r % kLanes;
      const float inv = 1.0f / denom_t[size_t(r)];
      float* o = out + (r / group) * stride + (r % group) * hd;
      for (int64_t d = 0; d < hd; ++d) o[d] = acc_t[size_t((g * hd + d) * kLanes + lane)] * inv;
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
