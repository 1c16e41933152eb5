#include "engine/base/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace savant {
namespace {

thread_local bool t_in_worker = false;

// A hint to the core that this is a spin-wait loop (frees resources for the sibling hyperthread).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until pred() holds or ThreadPool::kSpin has passed; returns pred()'s last value. After a
// short busy spin it yields between checks: on a machine busier than its cores, a thread spinning
// without yielding takes CPU time from the other threads of its own process (the scheduler shares
// time between processes), first of all from the thread it is waiting for.
template <typename Pred>
bool SpinUntil(Pred pred) {
  if (pred()) return true;
  for (int i = 0; i < 256; ++i) {
    CpuRelax();
    if (pred()) return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + ThreadPool::kSpin;
  for (;;) {
    std::this_thread::yield();
    for (int i = 0; i < 16; ++i) {
      CpuRelax();
      if (pred()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

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
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(fn));
    queued_.fetch_add(1, std::memory_order_release);
    // A spinning worker will see queued_; only sleeping ones need the (slow) wake-up.
    wake = sleepers_ > 0;
  }
  if (wake) cv_.notify_one();
}

bool ThreadPool::TryTake(std::function<void()>* task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.empty()) return false;
  *task = std::move(queue_.front());
  queue_.pop_front();
  queued_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void ThreadPool::WorkerLoop() {
  t_in_worker = true;
  for (;;) {
    std::function<void()> task;
    bool taken = false;
    // Another worker may win the race for the task that ended the spin: spin again then.
    while (!taken && SpinUntil([this] { return queued_.load(std::memory_order_acquire) > 0; })) {
      taken = TryTake(&task);
    }
    if (!taken) {
      std::unique_lock<std::mutex> lock(mu_);
      ++sleepers_;
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --sleepers_;
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  if (parallelism() <= 1 || max_chunks <= 1) {
    fn(0, n);
    return;
  }
  // A few chunks per thread, claimed dynamically: a helper that starts late (woken from sleep, or
  // preempted on a busy machine) holds up the caller for one small chunk, not half the work.
  constexpr int64_t kChunksPerThread = 4;
  int64_t chunks = std::min<int64_t>(max_chunks, parallelism() * kChunksPerThread);
  auto state = std::make_shared<ForState>();
  state->n = n;
  state->chunk = (n + chunks - 1) / chunks;
  state->chunks = (n + state->chunk - 1) / state->chunk;
  state->fn = &fn;
  const int64_t helpers = std::min<int64_t>(state->chunks - 1, static_cast<int64_t>(workers_.size()));
  for (int64_t i = 0; i < helpers; ++i) {
    Schedule([state] { state->Drain(); });
  }
  state->Drain();
  // Chunks still running belong to helpers that are already executing; waiting for them cannot
  // deadlock because no chunk is left unclaimed.
  SpinUntil([&] { return state->done.load(std::memory_order_acquire) == state->chunks; });
  for (;;) {
    int64_t d = state->done.load(std::memory_order_acquire);
    if (d == state->chunks) break;
    state->done.wait(d, std::memory_order_acquire);
  }
}

}  // namespace savant
