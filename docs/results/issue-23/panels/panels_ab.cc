// A/B of the two BF16 layouts' kernels on one thread: rows (gemm_bf16_dot_rows / the two-term GEMV
// gemv_bf16_dot_rows) against 64-row panels (gemm_bf16_panels), on the same weights, item by item
// as matmul's driver runs them (row chunks of 128, the next chunk's bytes prefetched at T > 1).
// CHUNKS chunks of 128 x 768: 1 stays in L2, 160 (31 MB) comes from beyond the caches. Build and
// run from the repository root:
//   g++ -O3 -std=c++17 -Icpp docs/results/issue-23/panels/panels_ab.cc cpp/core/kernels/*.cc \
//     cpp/core/thread_pool.cc -lpthread -o /tmp/panels_ab && /tmp/panels_ab
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>
#include "core/dtype.h"
#include "core/kernels/bf16_dot.h"
#include "core/kernels/bf16_panels.h"
#include "core/kernels/cpu_features.h"
#include "core/thread_pool.h"
using namespace astraea;
int main() {
  if (!cpu_has_avx512_bf16()) return std::puts("needs AVX-512 BF16"), 0;
  ThreadPool pool(1);
  const int64_t K = 768, chunk = 128;
  for (int64_t chunks : {1, 160}) {
    const int64_t rows = chunk * chunks;
    std::vector<uint16_t> W(size_t(rows * K));
    for (size_t i = 0; i < W.size(); ++i) W[i] = f32_to_bf16(float((i * 2654435761u) % 1000) / 1000.f - 0.5f);
    std::vector<uint32_t> P(bf16_panel_bytes(rows, K) / 4);
    pack_bf16_panels(W.data(), rows, K, P.data(), pool);
    for (int64_t T : {1, 32}) {
      const int64_t ld = K + 32;
      std::vector<uint16_t> xh(size_t(T * ld), 0), xl(size_t(T * ld), 0);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t k = 0; k < K; ++k) {
          const float x = float((t * 7919 + k * 31) % 100) / 100.f - 0.5f;
          xh[size_t(t * ld + k)] = f32_to_bf16(x);
          xl[size_t(t * ld + k)] = f32_to_bf16(x - bf16_to_f32(xh[size_t(t * ld + k)]));
        }
      std::vector<float> y(size_t(T * rows));
      double best[2] = {1e9, 1e9};
      for (int rep = 0; rep < (chunks == 1 ? 2000 : 30); ++rep)
        for (int layout = 0; layout < 2; ++layout) {
          const auto t0 = std::chrono::steady_clock::now();
          for (int64_t c = 0; c < chunks; ++c) {
            const int64_t r0 = c * chunk, r1 = r0 + chunk;
            const bool pf = T > 1 && c + 1 < chunks;
            if (layout == 0) {
              const char* next = reinterpret_cast<const char*>(W.data() + r1 * K);
              if (T == 1) gemv_bf16_dot_rows(xh.data(), xl.data(), W.data(), K, nullptr, y.data(), r0, r1);
              else gemm_bf16_dot_rows(xh.data(), ld, T, W.data(), K, nullptr, y.data(), rows, r0, r1, pf ? next : nullptr, pf ? next + chunk * K * 2 : nullptr);
            } else {
              const char* next = reinterpret_cast<const char*>(P.data() + r1 * K / 2);
              gemm_bf16_panels(xh.data(), T == 1 ? xl.data() : nullptr, ld, T, P.data(), K, nullptr, y.data(), rows, r0, r1,
                               pf ? next : nullptr, pf ? next + chunk * K * 2 : nullptr);
            }
          }
          best[layout] = std::min(best[layout], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
      const double flop = 2.0 * double(rows) * double(K) * double(T) * (T == 1 ? 2 : 1), bytes = double(rows * K * 2);
      std::printf("%3ld chunks (%5.1f MB) T=%2ld%s: rows %8.1f us (%6.1f GFLOP/s, %5.1f GB/s) | panels %8.1f us (%6.1f GFLOP/s, %5.1f GB/s) | %.2fx\n",
                  long(chunks), bytes / 1e6, long(T), T == 1 ? " (two x terms)" : "", best[0] * 1e6, flop / best[0] / 1e9, bytes / best[0] / 1e9,
                  best[1] * 1e6, flop / best[1] / 1e9, bytes / best[1] / 1e9, best[0] / best[1]);
    }
  }
}
