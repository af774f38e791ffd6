// RoPE fused with the paged-cache write: q is rotated into BF16 for attention, k is rotated and v
// copied straight into the cache slots the step's slot mapping names — one pass, no K/V staging.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

__global__ void rope_tables_kernel(const int32_t* positions, int64_t num_tokens, const float* inv_freq, int64_t half,
                                   float* cos_out, float* sin_out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= num_tokens * half) return;
  const double angle = double(positions[i / half]) * double(inv_freq[i % half]);
  double s, c;
  sincos(angle, &s, &c);
  cos_out[i] = float(c);
  sin_out[i] = float(s);
}

// One block per token; threads stride over (head, j) pairs of the first half of head_dim.
__global__ void rope_write_kv_kernel(const float* q, const float* k, const float* v, int64_t num_heads,
                                     const float* cos_table, const float* sin_table, const int64_t* slot_mapping,
                                     PagedKv cache, int64_t layer, __nv_bfloat16* q_out) {
  const int64_t t = blockIdx.x;
  const int64_t hd = cache.head_dim, half = hd / 2, kv_heads = cache.num_kv_heads;
  const float* cs = cos_table + t * half;
  const float* sn = sin_table + t * half;
  for (int64_t i = threadIdx.x; i < num_heads * half; i += blockDim.x) {
    const int64_t h = i / half, j = i % half;
    const float* src = q + (t * num_heads + h) * hd;
    __nv_bfloat16* dst = q_out + (t * num_heads + h) * hd;
    const float a = src[j], b = src[j + half];
    store(dst + j, a * cs[j] - b * sn[j]);
    store(dst + j + half, b * cs[j] + a * sn[j]);
  }
  const int64_t slot_id = slot_mapping[t];
  const int64_t block = slot_id / cache.block_size, slot = slot_id % cache.block_size;
  // [layer][K|V][kv_head][slot][head_dim] within the block.
  __nv_bfloat16* keys = cache.pool + block * cache.block_elems() + layer * 2 * kv_heads * cache.block_size * hd;
  __nv_bfloat16* values = keys + kv_heads * cache.block_size * hd;
  for (int64_t i = threadIdx.x; i < kv_heads * half; i += blockDim.x) {
    const int64_t h = i / half, j = i % half;
    const float* src = k + (t * kv_heads + h) * hd;
    __nv_bfloat16* dst = keys + (h * cache.block_size + slot) * hd;
    const float a = src[j], b = src[j + half];
    store(dst + j, a * cs[j] - b * sn[j]);
    store(dst + j + half, b * cs[j] + a * sn[j]);
  }
  for (int64_t i = threadIdx.x; i < kv_heads * hd; i += blockDim.x) {
    const int64_t h = i / hd, d = i % hd;
    store(values + (h * cache.block_size + slot) * hd + d, v[(t * kv_heads + h) * hd + d]);
  }
}

}  // namespace

cudaError_t rope_tables(const int32_t* positions, int64_t num_tokens, const float* inv_freq, int64_t half, float* cos,
                        float* sin, cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  rope_tables_kernel<<<blocks_for(num_tokens * half, 256), 256, 0, stream>>>(positions, num_tokens, inv_freq, half, cos, sin);
  return launch_status();
}

cudaError_t rope_write_kv(const float* q, const float* k, const float* v, int64_t num_tokens, int64_t num_heads,
                          const float* cos, const float* sin, const int64_t* slot_mapping, const PagedKv& cache,
                          int64_t layer, __nv_bfloat16* q_out, cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  rope_write_kv_kernel<<<unsigned(num_tokens), 256, 0, stream>>>(q, k, v, num_heads, cos, sin, slot_mapping, cache, layer, q_out);
  return launch_status();
}

}  // namespace astraea::cuda
