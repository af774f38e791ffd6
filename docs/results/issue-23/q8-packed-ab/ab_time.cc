// A/B timing of the Q8_0 kernels (layout-independent: any finite byte pattern), built once against
// the kernels before the packed layout and once after; the same code measures both.
//   GEMV T=1 from DRAM (weights rotated over ~1 GB), GEMM T=128 in cache.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/matmul.h"
#include "core/thread_pool.h"

using namespace astraea;
using Clock = std::chrono::steady_clock;

static void fill(std::vector<uint8_t>& v, size_t salt) {
  for (size_t i = 0; i < v.size(); i += 2) v[i] = uint8_t(i * 37 + salt), v[i + 1] = uint8_t((i >> 7) % 60);
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (argc > 3 && std::strcmp(argv[3], "avx2") == 0) force_simd_level_for_testing(SimdLevel::Avx2);
  ThreadPool pool(threads);
  std::printf("%s, %d threads\n", simd_level_name(simd_level()), threads);
  const bool gemv = !(argc > 2 && std::strcmp(argv[2], "gemm") == 0);
  if (gemv) {
    const int64_t shapes[][2] = {{2048, 768}, {768, 2048}, {32000, 768}};
    for (const auto& s : shapes) {
      const int64_t rows = s[0], cols = s[1];
      std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
      for (int64_t i = 0; i < cols; ++i) x[size_t(i)] = float((i * 7919) % 200 - 100) / 100.f;
      const size_t one = matrix_bytes(DType::Q8_0, rows, cols);
      const size_t copies = std::max<size_t>(2, (size_t(1) << 30) / one);
      std::vector<std::vector<uint8_t>> store(copies, std::vector<uint8_t>(one));
      for (size_t c = 0; c < copies; ++c) fill(store[c], c);
      auto view = [&](size_t i) {
        return WeightView{store[i].data(), DType::Q8_0, rows, cols, reinterpret_cast<const uint16_t*>(store[i].data() + rows * cols)};
      };
      for (size_t i = 0; i < copies; ++i) matmul(x.data(), 1, view(i), nullptr, y.data(), pool);
      double best = 1e9;
      const auto start = Clock::now();
      size_t i = 0;
      while (std::chrono::duration<double>(Clock::now() - start).count() < 1.0) {
        const auto a = Clock::now();
        matmul(x.data(), 1, view(i), nullptr, y.data(), pool);
        best = std::min(best, std::chrono::duration<double>(Clock::now() - a).count());
        i = (i + 1) % copies;
      }
      std::printf("GEMV %6lldx%-5lld %8.1f us %6.1f GB/s\n", (long long)rows, (long long)cols, best * 1e6, double(one) / best / 1e9);
    }
  }
  {
    const int64_t T = 128;
    const int64_t shapes[][2] = {{2048, 768}, {768, 2048}, {2304, 768}};
    for (const auto& s : shapes) {
      const int64_t rows = s[0], cols = s[1];
      std::vector<float> x(size_t(T * cols)), y(size_t(T * rows));
      for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % 200 - 100) / 100.f;
      std::vector<uint8_t> store(matrix_bytes(DType::Q8_0, rows, cols));
      fill(store, 1);
      const WeightView v{store.data(), DType::Q8_0, rows, cols, reinterpret_cast<const uint16_t*>(store.data() + rows * cols)};
      matmul(x.data(), T, v, nullptr, y.data(), pool);
      double best = 1e9;
      const auto start = Clock::now();
      while (std::chrono::duration<double>(Clock::now() - start).count() < 1.5) {
        const auto a = Clock::now();
        matmul(x.data(), T, v, nullptr, y.data(), pool);
        best = std::min(best, std::chrono::duration<double>(Clock::now() - a).count());
      }
      std::printf("GEMM T=%lld %6lldx%-5lld %8.1f us %6.1f GMAC/s\n", (long long)T, (long long)rows, (long long)cols, best * 1e6,
                  double(T * rows * cols) / best / 1e9);
    }
  }
}
