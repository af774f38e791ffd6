// cuBLAS behind cuda/gemm.h. Row-major [rows][in] · [out][in]ᵀ = [rows][out] is, seen column-
// major, outᵀ (out × rows) = W (out × in) · inᵀ (in × rows): W is the column-major in × out
// matrix transposed (CUBLAS_OP_T, lda = in), inᵀ is column-major as stored (CUBLAS_OP_N,
// ldb = in), and C has ldc = out. BF16 operands, F32 output and compute; cuBLAS picks the
// tensor-core path for these types. Built only where cuBLAS is found.
#include <cublas_v2.h>

#include "cuda/gemm.h"

namespace astraea::cuda {
namespace {

class CublasGemm final : public Gemm {
 public:
  CublasGemm(cublasHandle_t handle) : handle_(handle) {}
  ~CublasGemm() override { cublasDestroy(handle_); }

  cudaError_t run(const __nv_bfloat16* in, int64_t rows, int64_t in_features, const __nv_bfloat16* weight,
                  int64_t out_features, float* out, bool accumulate) override {
    if (rows == 0) return cudaSuccess;
    const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
    const cublasStatus_t status =
        cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, int(out_features), int(rows), int(in_features), &alpha, weight,
                     CUDA_R_16BF, int(in_features), in, CUDA_R_16BF, int(in_features), &beta, out, CUDA_R_32F,
                     int(out_features), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status == CUBLAS_STATUS_SUCCESS) return cudaSuccess;
    last_error_ = std::string("cublasGemmEx: ") + cublasGetStatusString(status);
    return cudaErrorUnknown;
  }

  std::string last_error() const override { return last_error_; }

 private:
  cublasHandle_t handle_;
  std::string last_error_;
};

}  // namespace

std::unique_ptr<Gemm> create_gemm(cudaStream_t stream, std::string& error) {
  cublasHandle_t handle = nullptr;
  cublasStatus_t status = cublasCreate(&handle);
  if (status == CUBLAS_STATUS_SUCCESS) status = cublasSetStream(handle, stream);
  if (status != CUBLAS_STATUS_SUCCESS) {
    error = std::string("cuBLAS could not start: ") + cublasGetStatusString(status);
    if (handle) cublasDestroy(handle);
    return nullptr;
  }
  return std::make_unique<CublasGemm>(handle);
}

}  // namespace astraea::cuda
