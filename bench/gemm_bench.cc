// GEMM throughput next to the machine's peak. Peak: a tight loop of independent vector FMAs on one
// core (simd::FmaLoop). GEMM: C[M,N] = A[M,K] B[K,N] with B packed once (as for constant weights),
// K = N = 1024 and M = 1, 32, 256, on one thread and on the pool. The machine is shared and noisy:
// each figure is the best of many short samples (the sample least disturbed by other processes),
// and the peak is sampled the same way, so that "% of peak" compares like with like.
//
//   build/.../bench/gemm_bench [--threads=2] [--isa=avx2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/base/thread_pool.h"
#include "engine/simd/simd.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace simd = savant::engine::simd;

double Best(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

double PeakGflops() {
  std::vector<double> runs;
  simd::FmaLoop(1 << 20);  // warm up the clock
  for (int r = 0; r < 25; ++r) {
    auto t0 = Clock::now();
    double flops = simd::FmaLoop(1 << 20);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    runs.push_back(flops / s * 1e-9);
  }
  return Best(runs);
}

double GemmGflops(int64_t m, int64_t k, int64_t n, savant::ThreadPool* pool) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(m * k), b(k * n), c(m * n);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  simd::PackedMatrix packed(b.data(), n, false, k, n);
  simd::GemmParams p{.m = m, .n = n, .k = k, .a = a.data(), .lda = k, .packed_b = packed.data(),
                     .c = c.data(), .ldc = n};
  const double flops = 2.0 * m * n * k;
  // Enough calls per sample for ~5 ms.
  simd::Gemm(p, pool);
  auto t0 = Clock::now();
  simd::Gemm(p, pool);
  double once = std::chrono::duration<double>(Clock::now() - t0).count();
  int calls = std::max(1, static_cast<int>(0.005 / std::max(once, 1e-7)));
  std::vector<double> runs;
  for (int r = 0; r < 25; ++r) {
    t0 = Clock::now();
    for (int i = 0; i < calls; ++i) simd::Gemm(p, pool);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    runs.push_back(flops * calls / s * 1e-9);
  }
  return Best(runs);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  std::string isa;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) threads = std::stoi(arg.substr(10));
    if (arg.rfind("--isa=", 0) == 0) isa = arg.substr(6);
  }
  if (!isa.empty()) {
    auto st = simd::ForceIsa(isa);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  savant::ThreadPool pool(threads - 1);
  const double peak = PeakGflops();
  std::printf("isa=%s fma_peak_gflops_1core=%.1f\n", simd::CurrentIsa().c_str(), peak);
  for (int64_t m : {1, 8, 32, 256}) {
    const double one = GemmGflops(m, 1024, 1024, nullptr);
    const double many = threads > 1 ? GemmGflops(m, 1024, 1024, &pool) : one;
    std::printf("gemm M=%-4lld K=1024 N=1024 1thread_gflops=%.1f (%.0f%% of peak) %dthreads_gflops=%.1f\n",
                static_cast<long long>(m), one, 100.0 * one / peak, threads, many);
  }
  return 0;
}
