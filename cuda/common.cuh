// Shared by the CUDA kernels: error handling that never aborts (every launcher returns a
// cudaError_t the caller turns into an EngineError), and BF16 loads and stores in F32.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace astraea::cuda {

// Returns from the enclosing function with the error of a failed CUDA call.
#define ASTRAEA_CUDA_TRY(call)                 \
  do {                                         \
    const cudaError_t status_ = (call);        \
    if (status_ != cudaSuccess) return status_; \
  } while (0)

// The error of the launch just made (a bad configuration), without waiting for the kernel.
inline cudaError_t launch_status() { return cudaGetLastError(); }

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// Blocks of `threads` covering n items.
inline unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

// Sum over a block of at most 1024 threads (a multiple of 32); every thread gets the total.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // `partial` may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = lane < warps ? partial[lane] : 0.f;
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

}  // namespace astraea::cuda
