// Attention over the paged KV cache for every new token of a step (prefill chunks and decode
// alike), GQA, optionally split along the context. One block per (token, KV head, part): one warp
// per query head of the group, each lane holding head_dim / 32 dimensions of q and of its running
// output, an online softmax over the part's positions. The group's warps read the same K/V rows,
// so the repeats come from L1. Correct first: a flash-style prefill kernel that shares K/V tiles
// across query tokens is the next step for long prompts.
#include <cfloat>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

constexpr int64_t kMinPart = 512;  // positions per part at least, when splitting

struct Partial {  // one warp's online-softmax state
  float max, sum;
};

template <int E>  // dimensions per lane: head_dim / 32
__global__ void paged_attention_kernel(const __nv_bfloat16* q, AttentionBatch batch, int64_t num_heads, PagedKv cache,
                                       int64_t layer, int64_t window, float scale, int64_t part_len, float* scratch,
                                       __nv_bfloat16* out) {
  constexpr int HD = 32 * E;
  const int64_t t = blockIdx.x, kv_head = blockIdx.y, part = blockIdx.z, parts = gridDim.z;
  const int lane = threadIdx.x & 31, g = threadIdx.x >> 5;
  const int64_t group = num_heads / cache.num_kv_heads, head = kv_head * group + g;

  const int64_t pos = batch.positions[t];
  const int64_t first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
  const int64_t begin = first + part * part_len;
  const int64_t end = begin + part_len - 1 < pos ? begin + part_len - 1 : pos;  // inclusive

  float qv[E], acc[E];
  const __nv_bfloat16* qrow = q + (t * num_heads + head) * HD + lane * E;
#pragma unroll
  for (int e = 0; e < E; ++e) qv[e] = load(qrow + e) * scale, acc[e] = 0.f;
  float running_max = -FLT_MAX, running_sum = 0.f;

  const int32_t* table = batch.block_ids + batch.block_table_offsets[batch.token_seq[t]];
  const int64_t bs = cache.block_size;
  const int64_t layer_offset = layer * 2 * cache.num_kv_heads * bs * HD, head_offset = kv_head * bs * HD;
  const int64_t values_offset = cache.num_kv_heads * bs * HD;
  for (int64_t p = begin; p <= end; ++p) {
    const __nv_bfloat16* k = cache.pool + int64_t(table[p / bs]) * cache.block_elems() + layer_offset + head_offset +
                             (p % bs) * HD + lane * E;
    float dot = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) dot += qv[e] * load(k + e);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
    const float new_max = fmaxf(running_max, dot);
    const float correction = __expf(running_max - new_max), weight = __expf(dot - new_max);
    running_sum = running_sum * correction + weight;
    const __nv_bfloat16* v = k + values_offset;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[e] = acc[e] * correction + weight * load(v + e);
    running_max = new_max;
  }

  if (parts == 1) {
    const float inv = running_sum > 0.f ? 1.f / running_sum : 0.f;
    __nv_bfloat16* orow = out + (t * num_heads + head) * HD + lane * E;
#pragma unroll
    for (int e = 0; e < E; ++e) store(orow + e, acc[e] * inv);
    return;
  }
  // Part results: [token][head][part] (max, sum), then [token][head][part][HD] unnormalised output.
  const int64_t row = (t * num_heads + head) * parts + part;
  const int64_t rows = batch.num_tokens * num_heads * parts;
  if (lane == 0) scratch[2 * row] = running_max, scratch[2 * row + 1] = running_sum;
  float* orow = scratch + 2 * rows + row * HD + lane * E;
#pragma unroll
  for (int e = 0; e < E; ++e) orow[e] = acc[e];
}

// One block per (token, head), one thread per dimension: rescales every part to the common
// maximum and normalises.
__global__ void combine_parts_kernel(const float* scratch, int64_t num_tokens, int64_t num_heads, int64_t head_dim,
                                     int64_t parts, __nv_bfloat16* out) {
  const int64_t t = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
  const int64_t rows = num_tokens * num_heads * parts, first_row = (t * num_heads + head) * parts;
  float max = -FLT_MAX;
  for (int64_t p = 0; p < parts; ++p)
    if (scratch[2 * (first_row + p) + 1] > 0.f) max = fmaxf(max, scratch[2 * (first_row + p)]);
  float sum = 0.f, value = 0.f;
  for (int64_t p = 0; p < parts; ++p) {
    const float part_sum = scratch[2 * (first_row + p) + 1];
    if (part_sum <= 0.f) continue;  // an empty part (the context is shorter than the split)
    const float w = __expf(scratch[2 * (first_row + p)] - max);
    sum += part_sum * w;
    value += scratch[2 * rows + (first_row + p) * head_dim + d] * w;
  }
  store(out + (t * num_heads + head) * head_dim + d, sum > 0.f ? value / sum : 0.f);
}

template <int E>
cudaError_t launch(const __nv_bfloat16* q, const AttentionBatch& batch, int64_t num_heads, const PagedKv& cache,
                   int64_t layer, int64_t window, int64_t splits, float* scratch, __nv_bfloat16* out, cudaStream_t stream) {
  const int64_t group = num_heads / cache.num_kv_heads;
  const int64_t span = window > 0 && window < batch.max_context ? window : batch.max_context;
  const int64_t part_len = (span + splits - 1) / splits;
  const dim3 grid(unsigned(batch.num_tokens), unsigned(cache.num_kv_heads), unsigned(splits));
  const float scale = float(1.0 / sqrt(double(cache.head_dim)));
  paged_attention_kernel<E><<<grid, unsigned(32 * group), 0, stream>>>(q, batch, num_heads, cache, layer, window, scale,
                                                                      part_len, scratch, out);
  ASTRAEA_CUDA_TRY(launch_status());
  if (splits > 1) {
    combine_parts_kernel<<<dim3(unsigned(batch.num_tokens), unsigned(num_heads)), unsigned(cache.head_dim), 0, stream>>>(
        scratch, batch.num_tokens, num_heads, cache.head_dim, splits, out);
    ASTRAEA_CUDA_TRY(launch_status());
  }
  return cudaSuccess;
}

}  // namespace

int64_t attention_splits(int64_t num_tokens, int64_t num_kv_heads, int64_t max_context, int sm_count) {
  const int64_t blocks = num_tokens * num_kv_heads, wanted = 2 * int64_t(sm_count);
  if (blocks >= wanted) return 1;
  const int64_t by_length = (max_context + kMinPart - 1) / kMinPart;
  const int64_t by_occupancy = (wanted + blocks - 1) / blocks;
  const int64_t splits = by_length < by_occupancy ? by_length : by_occupancy;
  return splits > 1 ? splits : 1;
}

int64_t attention_scratch_floats(int64_t num_tokens, int64_t num_heads, int64_t head_dim, int64_t splits) {
  return splits > 1 ? num_tokens * num_heads * splits * (head_dim + 2) : 0;
}

cudaError_t paged_attention(const __nv_bfloat16* q, const AttentionBatch& batch, int64_t num_heads, const PagedKv& cache,
                            int64_t layer, int64_t window, int64_t splits, float* scratch, __nv_bfloat16* out,
                            cudaStream_t stream) {
  if (batch.num_tokens == 0) return cudaSuccess;
  if (num_heads % cache.num_kv_heads != 0 || num_heads / cache.num_kv_heads > 8 || splits < 1 ||
      (splits > 1 && scratch == nullptr))
    return cudaErrorInvalidValue;
  switch (cache.head_dim) {
    case 32: return launch<1>(q, batch, num_heads, cache, layer, window, splits, scratch, out, stream);
    case 64: return launch<2>(q, batch, num_heads, cache, layer, window, splits, scratch, out, stream);
    case 128: return launch<4>(q, batch, num_heads, cache, layer, window, splits, scratch, out, stream);
    case 256: return launch<8>(q, batch, num_heads, cache, layer, window, splits, scratch, out, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace astraea::cuda
