// Seeded dummy weights written on the device, with the CPU backend's formula (core/weights.cc).
// The arithmetic is spelled out in round-to-nearest intrinsics so nvcc cannot contract it into
// a fused multiply-add, which would round differently from the CPU.
#include "core/random.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

__device__ __forceinline__ float dummy_value(uint64_t tensor_seed, int64_t i, float amplitude, float center) {
  const uint64_t r = mix64(tensor_seed + uint64_t(i) * 0xD1B54A32D192ED03ull);
  const float unit = __fmul_rn(float(r >> 40), 1.0f / 16777216.0f);
  return __fadd_rn(center, __fmul_rn(amplitude, __fsub_rn(__fmul_rn(2.0f, unit), 1.0f)));
}

template <typename T>
__global__ void dummy_fill_kernel(T* dst, int64_t count, uint64_t tensor_seed, float amplitude, float center) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    store(dst + i, dummy_value(tensor_seed, i, amplitude, center));
}

}  // namespace

cudaError_t dummy_fill(void* dst, TableDType dtype, int64_t count, uint64_t tensor_seed, float amplitude, float center,
                       cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const unsigned grid = blocks_for(count, 256) < 65535u ? blocks_for(count, 256) : 65535u;
  if (dtype == TableDType::F32) {
    dummy_fill_kernel<<<grid, 256, 0, stream>>>(static_cast<float*>(dst), count, tensor_seed, amplitude, center);
  } else {
    dummy_fill_kernel<<<grid, 256, 0, stream>>>(static_cast<__nv_bfloat16*>(dst), count, tensor_seed, amplitude, center);
  }
  return launch_status();
}

}  // namespace astraea::cuda
