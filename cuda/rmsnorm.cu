// Residual add fused with RMSNorm: one block per row reads x (and the residual) once, writes the
// updated x and its normalised BF16 copy for the next matrix product.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

__global__ void add_rmsnorm_kernel(float* x, const float* residual, const float* weight, int64_t hidden, float eps,
                                   __nv_bfloat16* out) {
  const int64_t row = blockIdx.x;
  float* xr = x + row * hidden;
  const float* rr = residual ? residual + row * hidden : nullptr;
  float squares = 0.f;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = xr[i];
    if (rr) {
      v += rr[i];
      xr[i] = v;
    }
    squares += v * v;
  }
  const float scale = rsqrtf(block_sum(squares) / float(hidden) + eps);
  // Each thread rereads only what it wrote, so no barrier is needed between the passes.
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) store(out + row * hidden + i, xr[i] * scale * weight[i]);
}

}  // namespace

cudaError_t add_rmsnorm(float* x, const float* residual, const float* weight, int64_t rows, int64_t hidden, float eps,
                        __nv_bfloat16* out, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  add_rmsnorm_kernel<<<unsigned(rows), 512, 0, stream>>>(x, residual, weight, hidden, eps, out);
  return launch_status();
}

}  // namespace astraea::cuda
