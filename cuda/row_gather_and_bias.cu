// Row gathers and bias adds: the small glue between the forward pass's matrix products.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

template <typename T>
__global__ void gather_rows_kernel(const T* src, const int32_t* rows, int64_t width, T* dst) {
  const T* from = src + int64_t(rows[blockIdx.x]) * width;
  T* to = dst + int64_t(blockIdx.x) * width;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) to[i] = from[i];
}

__global__ void add_bias_kernel(float* x, const float* bias, int64_t rows, int64_t width) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * width; i += int64_t(gridDim.x) * blockDim.x)
    x[i] += bias[i % width];
}

template <typename T>
cudaError_t gather(const T* src, const int32_t* rows, int64_t n, int64_t width, T* dst, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  gather_rows_kernel<<<unsigned(n), 256, 0, stream>>>(src, rows, width, dst);
  return launch_status();
}

}  // namespace

cudaError_t gather_rows(const float* src, const int32_t* rows, int64_t n, int64_t width, float* dst, cudaStream_t stream) {
  return gather(src, rows, n, width, dst, stream);
}

cudaError_t gather_rows(const __nv_bfloat16* src, const int32_t* rows, int64_t n, int64_t width, __nv_bfloat16* dst,
                        cudaStream_t stream) {
  return gather(src, rows, n, width, dst, stream);
}

cudaError_t add_bias(float* x, const float* bias, int64_t rows, int64_t width, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  const unsigned grid = blocks_for(rows * width, 256) < 65535u ? blocks_for(rows * width, 256) : 65535u;
  add_bias_kernel<<<grid, 256, 0, stream>>>(x, bias, rows, width);
  return launch_status();
}

}  // namespace astraea::cuda
