// KV block movement between the device pool and the pinned host pool, and within the device
// pool. A block is one contiguous span in both pools (core/kv_cache.h's layout), so each pair is
// one asynchronous copy; runs of consecutive ids on both sides are merged into one larger copy,
// which is what the block manager's allocation order mostly produces.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

cudaError_t copy_pairs(const __nv_bfloat16* src_pool, __nv_bfloat16* dst_pool, int64_t block_elems, const int32_t* pairs,
                       int64_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  const size_t block_bytes = size_t(block_elems) * sizeof(__nv_bfloat16);
  for (int64_t i = 0; i < count;) {
    const int32_t src = pairs[2 * i], dst = pairs[2 * i + 1];
    int64_t run = 1;
    while (i + run < count && pairs[2 * (i + run)] == src + run && pairs[2 * (i + run) + 1] == dst + run) ++run;
    ASTRAEA_CUDA_TRY(cudaMemcpyAsync(dst_pool + int64_t(dst) * block_elems, src_pool + int64_t(src) * block_elems,
                                     size_t(run) * block_bytes, kind, stream));
    i += run;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t swap_out_blocks(const __nv_bfloat16* device_pool, __nv_bfloat16* host_pool, int64_t block_elems,
                            const int32_t* pairs, int64_t count, cudaStream_t stream) {
  return copy_pairs(device_pool, host_pool, block_elems, pairs, count, cudaMemcpyDeviceToHost, stream);
}

cudaError_t swap_in_blocks(const __nv_bfloat16* host_pool, __nv_bfloat16* device_pool, int64_t block_elems,
                           const int32_t* pairs, int64_t count, cudaStream_t stream) {
  return copy_pairs(host_pool, device_pool, block_elems, pairs, count, cudaMemcpyHostToDevice, stream);
}

cudaError_t copy_blocks(__nv_bfloat16* device_pool, int64_t block_elems, const int32_t* pairs, int64_t count,
                        cudaStream_t stream) {
  return copy_pairs(device_pool, device_pool, block_elems, pairs, count, cudaMemcpyDeviceToDevice, stream);
}

cudaError_t stage_blocks(const __nv_bfloat16* device_pool, __nv_bfloat16* staging, int64_t block_elems,
                         const int32_t* pairs, int64_t count, cudaStream_t stream) {
  const size_t block_bytes = size_t(block_elems) * sizeof(__nv_bfloat16);
  for (int64_t i = 0; i < count; ++i)
    ASTRAEA_CUDA_TRY(cudaMemcpyAsync(staging + i * block_elems, device_pool + int64_t(pairs[2 * i]) * block_elems, block_bytes,
                                     cudaMemcpyDeviceToDevice, stream));
  return cudaSuccess;
}

cudaError_t write_staged_to_host(const __nv_bfloat16* staging, __nv_bfloat16* host_pool, int64_t block_elems,
                                 const int32_t* pairs, int64_t count, cudaStream_t stream) {
  const size_t block_bytes = size_t(block_elems) * sizeof(__nv_bfloat16);
  for (int64_t i = 0; i < count; ++i)
    ASTRAEA_CUDA_TRY(cudaMemcpyAsync(host_pool + int64_t(pairs[2 * i + 1]) * block_elems, staging + i * block_elems, block_bytes,
                                     cudaMemcpyDeviceToHost, stream));
  return cudaSuccess;
}

}  // namespace astraea::cuda
