// One persistent thread that runs one job at a time beside its owner: the CPU backend's stand-in
// for a GPU copy stream (the model runs a step's background swaps on it during the forward pass).
// The thread starts with the first job and sleeps between jobs; the destructor stops and joins it.
// Not reentrant: one owner calls start() then wait(), and must wait() before starting another job.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace astraea {

class CopyWorker {
 public:
  CopyWorker() = default;
  ~CopyWorker();
  CopyWorker(const CopyWorker&) = delete;
  CopyWorker& operator=(const CopyWorker&) = delete;

  // Hands the thread a job. If the thread cannot be started, runs the job here instead (its
  // exception is still kept for wait()), so a step never fails for want of a thread.
  void start(std::function<void()> job);
  // Blocks until the job started last has finished; returns what it threw (null if nothing, or if
  // no job was started). Never throws.
  std::exception_ptr wait() noexcept;

 private:
  void loop();

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool pending_ = false;  // a job was handed over and has not finished
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace astraea
