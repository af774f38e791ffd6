// The SwiGLU middle: silu(gate) * up, into BF16 for the down projection.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

__global__ void silu_mul_kernel(const float* gate, const float* up, int64_t n, __nv_bfloat16* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    store(out + i, g / (1.f + __expf(-g)) * up[i]);
  }
}

}  // namespace

cudaError_t silu_mul(const float* gate, const float* up, int64_t n, __nv_bfloat16* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const unsigned grid = blocks_for(n, 256) < 65535u ? blocks_for(n, 256) : 65535u;
  silu_mul_kernel<<<grid, 256, 0, stream>>>(gate, up, n, out);
  return launch_status();
}

}  // namespace astraea::cuda
