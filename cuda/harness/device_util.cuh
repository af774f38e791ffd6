// Shared by the device checks: fail loudly on a CUDA error (a harness may exit; the backend
// never does), fresh randomness per run, and device buffers from host vectors, poisoned or read back.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#define CHECK_CUDA(call)                                                                  \
  do {                                                                                    \
    const cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess) {                                                              \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

namespace astraea::cuda::check {

inline std::mt19937_64 rng(std::random_device{}());

template <typename T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, h.size() * sizeof(T)));
  CHECK_CUDA(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

// Every byte 0xFF: NaN in F32 and BF16, so an element a kernel never writes fails the check.
template <typename T>
T* poisoned(size_t n) {
  T* d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, n * sizeof(T)));
  CHECK_CUDA(cudaMemset(d, 0xFF, n * sizeof(T)));
  return d;
}

template <typename T>
std::vector<T> to_host(const T* d, size_t n) {
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<T> h(n);
  CHECK_CUDA(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

}  // namespace astraea::cuda::check
