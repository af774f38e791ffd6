// A small fork-join pool for the kernels. The calling thread takes part, so a pool of size N runs
// N-1 helper threads. Work is split into chunks that threads claim from a shared counter, which
// balances uneven chunks. Helpers spin briefly between jobs (a decode step issues hundreds of
// short jobs back to back) and then sleep, so an idle engine costs no CPU.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace astraea {

class ThreadPool {
 public:
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;

  // threads <= 0 picks the number of hardware threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn on disjoint chunks covering [0, n), each at most `grain` long, on all threads.
  // Returns when every chunk is done; rethrows the first exception a chunk threw.
  // Not reentrant: one parallel_for at a time per pool (the model serialises its steps).
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);

 private:
  void worker_loop();
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_{0};
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<bool> stop_{false};
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace astraea
