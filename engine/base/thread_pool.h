// The engine's thread pool: one per process, sized to the cores, shared by inter-op scheduling
// (independent graph nodes) and intra-op splitting (one kernel over many rows).
//
//   ThreadPool& pool = ThreadPool::Default();
//   pool.ParallelFor(rows, /*grain=*/64, [&](int64_t begin, int64_t end) { ... });
//
// Thread-safe. ParallelFor's caller always works on chunks itself, so a kernel running on a pool
// thread never blocks waiting for the pool that runs it: in the worst case it does every chunk.
//
// An idle worker spins (yielding) for kSpin before it sleeps, and a ParallelFor caller spins as
// long before it sleeps waiting for helpers: waking a sleeping thread on another core costs tens of
// microseconds (more in a VM), as much as a whole layer of a small model, while a spinning one
// starts at once. A model's layers follow each other within microseconds, so during a run the
// workers stay hot.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace savant {

class ThreadPool {
 public:
  static constexpr std::chrono::microseconds kSpin{100};

  // Starts `num_threads` workers; 0 makes a pool that runs everything on the calling thread.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool. Its size is the number of cores unless SetDefaultThreadCount() ran first.
  static ThreadPool& Default();
  // Sets the size of Default(); only takes effect before the first call to Default(). Returns false
  // when the default pool already exists.
  static bool SetDefaultThreadCount(int num_threads);

  // Number of threads that can work in parallel, counting a caller of ParallelFor.
  int parallelism() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs `fn` on some worker (or inline on a pool without workers).
  void Schedule(std::function<void()> fn);

  // Calls fn(begin, end) over disjoint chunks covering [0, n), each at least `grain` long except the
  // last, using up to parallelism() threads including the caller (up to 4 chunks per thread, taken
  // by whichever thread is free). Returns when all chunks are done.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // True on one of this process's pool worker threads.
  static bool InWorker();

 private:
  void WorkerLoop();
  // Pops a task if one is queued (without blocking on an empty queue).
  bool TryTake(std::function<void()>* task);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  int sleepers_ = 0;                         // workers waiting on cv_; guarded by mu_
  std::atomic<int64_t> queued_{0};           // queue_.size(), readable without mu_ (spinning)
  std::vector<std::thread> workers_;
};

}  // namespace savant
