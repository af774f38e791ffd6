// Device check of cuda/gemm_cublas.cu against a host reference in double: the projection shapes
// of Llama-3-8B at 1, 37 and 256 rows, fresh random BF16 inputs, the output poisoned first, and
// accumulation into an existing output (the residual add). Needs cuBLAS; run by bench/cuda/run.sh.
//   nvcc -std=c++17 -I. -Icpp -O2 -arch=sm_90 cuda/gemm_cublas.cu cuda/harness/gemm_check.cu -lcublas -o gemm_check
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cuda/gemm.h"
#include "cuda/harness/device_util.cuh"

using astraea::cuda::check::rng;
using astraea::cuda::check::to_device;

namespace {

std::vector<__nv_bfloat16> random_bf16(size_t n, float scale) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<__nv_bfloat16> v(n);
  for (auto& x : v) x = __float2bfloat16_rn(d(rng));
  return v;
}

}  // namespace

int main() {
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  std::string error;
  auto gemm = astraea::cuda::create_gemm(stream, error);
  if (!gemm) {
    std::printf("gemm_check: %s\n", error.c_str());
    return 1;
  }
  int passed = 0, failed = 0;
  struct Shape { int64_t in, out; const char* name; };
  for (const Shape shape : {Shape{4096, 4096, "q/o proj"}, Shape{4096, 1024, "k/v proj"}, Shape{4096, 14336, "gate/up"},
                            Shape{14336, 4096, "down"}}) {
    for (const int64_t rows : {int64_t(1), int64_t(37), int64_t(256)}) {
      for (const bool accumulate : {false, true}) {
        if (accumulate && rows != 37) continue;
        auto in = random_bf16(size_t(rows * shape.in), 1.f);
        auto weight = random_bf16(size_t(shape.out * shape.in), float(1.0 / std::sqrt(double(shape.in))));
        std::vector<float> start(size_t(rows * shape.out));
        for (auto& x : start) x = accumulate ? std::normal_distribution<float>(0.f, 1.f)(rng) : NAN;  // NaN: poisoned
        auto* d_in = to_device(in);
        auto* d_w = to_device(weight);
        auto* d_out = to_device(start);
        const cudaError_t status = gemm->run(d_in, rows, shape.in, d_w, shape.out, d_out, accumulate);
        if (status != cudaSuccess) {
          std::printf("gemm_check: %s (%s)\n", gemm->last_error().c_str(), cudaGetErrorString(status));
          return 1;
        }
        CHECK_CUDA(cudaStreamSynchronize(stream));
        std::vector<float> out(start.size());
        CHECK_CUDA(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
        double diff = 0, norm = 0;
        bool finite = true;
        const int64_t row_step = rows > 64 ? 8 : 1;  // every 8th row of the big batch keeps the host reference short
        for (int64_t r = 0; r < rows; r += row_step)
          for (int64_t o = 0; o < shape.out; ++o) {
            double ref = accumulate ? double(start[size_t(r * shape.out + o)]) : 0.0;
            for (int64_t i = 0; i < shape.in; ++i)
              ref += double(__bfloat162float(in[size_t(r * shape.in + i)])) * __bfloat162float(weight[size_t(o * shape.in + i)]);
            const double got = out[size_t(r * shape.out + o)];
            finite = finite && std::isfinite(got);
            diff += (got - ref) * (got - ref);
            norm += ref * ref;
          }
        const double rel = std::sqrt(diff / norm);
        const bool ok = finite && rel <= 1e-3;  // F32 accumulation of exact BF16 products
        (ok ? passed : failed)++;
        std::printf("gemm %-9s %5lldx%-5lld rows %3lld%s rel err %.3e %s\n", shape.name, (long long)shape.in,
                    (long long)shape.out, (long long)rows, accumulate ? " +=" : "   ", rel, ok ? "ok" : "FAIL");
        cudaFree(d_in), cudaFree(d_w), cudaFree(d_out);
      }
    }
  }
  std::printf("gemm_check: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
