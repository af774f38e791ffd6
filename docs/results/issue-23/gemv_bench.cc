// The throwaway GEMV driver docs/performance.md quotes: matmul() at T=1 over a weight of MB megabytes
// (default 240, from DRAM; 1 for in-cache), COLS columns (default 768), 1 and 2 threads, best of 12
// calls (2000 when MB < 8). Built from the repository root against any checkout of cpp/:
//   g++ -O3 -std=c++17 -fno-math-errno -Icpp docs/results/issue-23/gemv_bench.cc cpp/core/kernels/*.cc \
//     cpp/core/thread_pool.cc -lpthread -o /tmp/gemv_bench && /tmp/gemv_bench [f|b] [misalign] [MB] [COLS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "core/kernels/matmul.h"
#include "core/dtype.h"
using namespace astraea;
int main(int argc, char** argv) {
  const DType dt = (argc > 1 && argv[1][0] == 'f') ? DType::F32 : DType::BF16;
  const int64_t mb = argc > 3 ? std::atoi(argv[3]) : 240;
  const int64_t cols = argc > 4 ? std::atoi(argv[4]) : 768, rows = (mb << 20) / (cols * int64_t(dtype_size(dt)));
  const size_t misalign = argc > 2 ? size_t(std::atoi(argv[2])) : 0;
  std::vector<uint8_t> wbuf(size_t(rows * cols) * dtype_size(dt) + 128);
  uint8_t* base = wbuf.data() + (64 - reinterpret_cast<uintptr_t>(wbuf.data()) % 64) % 64 + misalign;
  struct Span { uint8_t* p; size_t n; uint8_t* data() { return p; } size_t size() const { return n; } uint8_t& operator[](size_t i) { return p[i]; } } w{base, size_t(rows * cols) * dtype_size(dt)};
  for (size_t i = 0; i < w.size(); ++i) w[i] = uint8_t((i * 2654435761u) >> 13) & 0x3f;
  std::vector<float> x(size_t(cols), 0.01f);
  std::vector<float> y(static_cast<size_t>(rows));
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    WeightView v{w.data(), dt, rows, cols};
    double best = 1e9;
    for (int rep = 0; rep < (mb < 8 ? 2000 : 12); ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      matmul(x.data(), 1, v, nullptr, y.data(), pool);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%s T=1 %d thread(s): %.2f ms, %.1f GB/s\n", dtype_name(dt), threads, best * 1e3, double(w.size()) / best / 1e9);
  }
}
