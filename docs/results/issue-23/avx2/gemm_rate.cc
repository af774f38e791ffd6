// matmul()'s rate on one weight in rows (no panels: the AVX2 path), BF16 and F32, T tokens, a 256-row
// weight that stays in L2 and a 65,536-row one from DRAM; best and mean of repeated calls. Build and
// run from the repository root (THREADS, then T):
//   g++ -O3 -std=c++17 -Icpp docs/results/issue-23/avx2/gemm_rate.cc cpp/core/kernels/*.cc \
//     cpp/core/thread_pool.cc -lpthread -o /tmp/gemm_rate && /tmp/gemm_rate 2 32
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>
#include "core/dtype.h"
#include "core/kernels/matmul.h"
#include "core/thread_pool.h"
using namespace astraea;
int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 1; const int T = argc > 2 ? atoi(argv[2]) : 1;
  ThreadPool pool(threads);
  const int64_t K = 768;
  for (int64_t rows : {256, 65536}) {
    for (int dt = 0; dt < 2; ++dt) {
      const bool bf = dt == 0;
      std::vector<uint16_t> W16(bf ? size_t(rows * K) : 0);
      std::vector<float> W32(bf ? 0 : size_t(rows * K));
      for (size_t i = 0; i < size_t(rows * K); ++i) {
        float v = float((i * 2654435761u) % 1000) / 1000.f - 0.5f;
        if (bf) W16[i] = f32_to_bf16(v); else W32[i] = v;
      }
      WeightView w{bf ? (const void*)W16.data() : (const void*)W32.data(), bf ? DType::BF16 : DType::F32, rows, K};
      std::vector<float> x(K * T), y(rows * T);
      for (int k = 0; k < K * T; ++k) x[k] = float(k % 17) / 17.f;
      double best = 1e9, total = 0; int reps = rows == 256 ? 20000 / T : 40 / (T > 1 ? 4 : 1);
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        matmul(x.data(), T, w, nullptr, y.data(), pool);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::min(best, s); total += s;
      }
      double bytes = double(rows * K * (bf ? 2 : 4));
      std::printf("%s rows %6ld (%6.1f MB) threads %d: best %7.1f us %6.1f GB/s, mean %6.1f GB/s\n", bf ? "bf16" : "f32 ", long(rows), bytes / 1e6, threads, best * 1e6, bytes / best / 1e9, bytes / (total / reps) / 1e9); std::printf("   %.1f GFLOP/s best\n", 2.0 * rows * K * T / best / 1e9);
    }
  }
}
