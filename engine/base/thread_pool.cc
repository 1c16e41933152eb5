#include "engine/base/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace savant {
namespace {

thread_local bool t_in_worker = false;
std::atomic<int> g_default_threads{-1};
std::atomic<bool> g_default_created{false};

// State shared by the caller and helpers of one ParallelFor; helpers may outlive the call's
// stack frame (they can start after every chunk is taken), so it is reference-counted.
struct ForState {
  int64_t n = 0;
  int64_t chunk = 0;
  int64_t chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  const std::function<void(int64_t, int64_t)>* fn = nullptr;

  // Claims and runs chunks until none is left.
  void Drain() {
    for (;;) {
      int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      int64_t begin = c * chunk;
      int64_t end = std::min(n, begin + chunk);
      (*fn)(begin, end);
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done.notify_all();
    }
  }
};

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  workers_.reserve(std::max(0, num_threads));
  for (int i = 0; i < num_threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::Default() {
  // The caller of ParallelFor works too, so N cores need N-1 workers.
  static ThreadPool* pool = [] {
    int n = g_default_threads.load();
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    g_default_created.store(true);
    return new ThreadPool(n - 1);
  }();
  return *pool;
}

bool ThreadPool::SetDefaultThreadCount(int num_threads) {
  if (g_default_created.load()) return false;
  g_default_threads.store(num_threads);
  return true;
}

bool ThreadPool::InWorker() { return t_in_worker; }

void ThreadPool::Schedule(std::function<void()> fn) {
  if (workers_.empty()) {
    fn();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void ThreadPool::WorkerLoop() {
  t_in_worker = true;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  int64_t chunks = std::min<int64_t>(max_chunks, parallelism());
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  auto state = std::make_shared<ForState>();
  state->n = n;
  state->chunk = (n + chunks - 1) / chunks;
  state->chunks = (n + state->chunk - 1) / state->chunk;
  state->fn = &fn;
  for (int64_t i = 1; i < state->chunks; ++i) {
    Schedule([state] { state->Drain(); });
  }
  state->Drain();
  // Chunks still running belong to helpers that are already executing; waiting for them cannot
  // deadlock because no chunk is left unclaimed.
  for (;;) {
    int64_t d = state->done.load(std::memory_order_acquire);
    if (d == state->chunks) break;
    state->done.wait(d, std::memory_order_acquire);
  }
}

}  // namespace savant
