// Token embedding: a row gather, widened to the F32 residual stream.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

template <typename T>
__global__ void embedding_kernel(const T* table, const int32_t* tokens, int64_t hidden, float* out) {
  const int64_t t = blockIdx.x;
  const T* row = table + int64_t(tokens[t]) * hidden;
  float* dst = out + t * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = load(row + i);
}

}  // namespace

cudaError_t embedding(const void* table, TableDType dtype, const int32_t* tokens, int64_t num_tokens, int64_t hidden,
                      float* out, cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  if (dtype == TableDType::F32) {
    embedding_kernel<<<unsigned(num_tokens), 256, 0, stream>>>(static_cast<const float*>(table), tokens, hidden, out);
  } else {
    embedding_kernel<<<unsigned(num_tokens), 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(table), tokens, hidden, out);
  }
  return launch_status();
}

}  // namespace astraea::cuda
