// Matrix products for the forward pass: activations [rows][in] (BF16) times a weight stored as
// Hugging Face does, [out][in] (BF16), into [rows][out] in F32 (F32 accumulation). The one
// implementation, cuda/gemm_cublas.cu, is the only file that needs cuBLAS, so every other CUDA
// source compiles (and is compile-checked in CI) on machines without it.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>

namespace astraea::cuda {

class Gemm {
 public:
  virtual ~Gemm() = default;
  // out = in · weightᵀ (+ out when accumulate), all on `stream` (bound at creation).
  virtual cudaError_t run(const __nv_bfloat16* in, int64_t rows, int64_t in_features, const __nv_bfloat16* weight,
                          int64_t out_features, float* out, bool accumulate) = 0;
  // The library's message for the last failure ("" if none): cuBLAS status codes are not cudaError_t.
  virtual std::string last_error() const = 0;
};

// nullptr with `error` set when the library cannot start (no GPU, no cuBLAS at run time).
std::unique_ptr<Gemm> create_gemm(cudaStream_t stream, std::string& error);

}  // namespace astraea::cuda
