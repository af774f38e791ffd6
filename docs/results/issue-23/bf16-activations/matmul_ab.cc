// A/B of matmul on BF16 weights: F32 x against x rounded to BF16 (ModelOptions::activations).
// Rotates over COPIES copies of the weight (default: 1 GB of them, so each call reads from DRAM;
// 1: the weight stays in cache). Build and run from the repository root:
//   g++ -O3 -std=c++17 -Icpp docs/results/issue-23/bf16-activations/matmul_ab.cc cpp/core/kernels/*.cc \
//     cpp/core/thread_pool.cc -lpthread -o /tmp/matmul_ab && /tmp/matmul_ab ROWS COLS [COPIES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>
#include "core/kernels/matmul.h"
#include "core/thread_pool.h"
#include "core/dtype.h"
using namespace astraea;
int main(int argc, char** argv) {
  const int64_t rows = atoi(argv[1]), K = atoi(argv[2]);
  ThreadPool pool(2);
  const size_t copies = argc > 3 ? size_t(atoi(argv[3])) : std::max<size_t>(2, (size_t(1) << 30) / size_t(rows * K * 2));
  std::vector<std::vector<uint16_t>> Ws(copies, std::vector<uint16_t>(rows * K));
  for (auto& W : Ws) for (size_t i = 0; i < W.size(); ++i) W[i] = f32_to_bf16(float((i * 2654435761u) % 1000) / 1000.f - 0.5f);
  for (int64_t T : {1, 8, 32, 128}) {
    std::vector<float> x(T * K, 0.25f), y(T * rows);
    double best[2] = {1e9, 1e9}, med[2];
    for (int mode = 0; mode < 2; ++mode) {
      std::vector<double> ts; size_t which = 0;
      for (int rep = 0; rep < 60; ++rep) {
        WeightView v{Ws[which].data(), DType::BF16, rows, K}; v.x_dtype = mode ? DType::BF16 : DType::F32; which = (which + 1) % copies;
        auto t0 = std::chrono::steady_clock::now(); matmul(x.data(), T, v, nullptr, y.data(), pool);
        ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ts.begin(), ts.end()); best[mode] = ts[0]; med[mode] = ts[ts.size() / 2];
    }
    std::printf("%ldx%ld T=%3ld  f32-x best %8.1f med %8.1f us | bf16-x best %8.1f med %8.1f us  (med ratio %.2fx)\n", (long)rows, (long)K, (long)T, best[0]*1e6, med[0]*1e6, best[1]*1e6, med[1]*1e6, med[0]/med[1]);
  }
}
