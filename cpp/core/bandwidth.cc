#include "core/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/kernels/vec.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"

namespace astraea {

double measure_read_bandwidth(uint64_t bytes, int threads, int repeats) {
  ThreadPool pool(threads);
  AnonymousMemory buffer(bytes, "the bandwidth probe");
  const int64_t floats = int64_t(bytes / sizeof(float));
  float* data = reinterpret_cast<float*>(buffer.data());
  std::memset(data, 1, bytes);  // fault every page in before timing
  const int64_t per_thread = (floats + pool.size() - 1) / pool.size();
  std::vector<float> sinks(size_t(pool.size()), 0.0f);
  double best = 0;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(floats, per_thread, [&](int64_t b, int64_t e) {
      // dot(x, ones-like) would need a second stream; a self-dot reads each byte exactly once.
      sinks[size_t(b / per_thread)] += dot_f32(data + b, data + b, e - b);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, double(bytes) / seconds);
  }
  volatile float keep = sinks[0];  // the sums must not be optimised away
  (void)keep;
  return best;
}

}  // namespace astraea
