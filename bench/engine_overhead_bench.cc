// Per-call overhead of the engine on half_plus_two at batch 1, next to a plain C++ function doing
// the same arithmetic, measured in the same process. Goal (issue #4): under 2 us of overhead.
//   build/release/bench/engine_overhead_bench [model_dir]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "loader/model.h"

namespace {

using savant::engine::DataType;
using savant::engine::Shape;
using savant::engine::Tensor;

template <typename F>
double MedianNsPerCall(F&& f, int iterations, int repeats) {
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) f();
    auto t1 = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / iterations);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

__attribute__((noinline)) void PlainHalfPlusTwo(const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] = 0.5f * x[i] + 2.0f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : SAVANT_SOURCE_DIR "/tests/testdata/half_plus_two/00000001";
  auto model = savant::loader::Model::Load(dir);
  if (!model.ok()) {
    std::fprintf(stderr, "load %s: %s\n", dir.c_str(), std::string(model.status().message()).c_str());
    return 1;
  }
  Tensor x = Tensor::FromVector<float>(DataType::kFloat, Shape{1, 1}, {3.0f});
  const auto& sig = (*model)->signatures().at("serving_default");
  std::vector<Tensor> feeds = {x};
  std::vector<Tensor> out;
  savant::loader::NamedTensors named = {{"x", x}};
  const int iters = 200000, repeats = 9;

  volatile float sink = 0;
  float plain_y = 0;
  double plain = MedianNsPerCall([&] {
    // Allocating the output keeps the comparison honest: the engine returns a fresh tensor too.
    std::vector<float> y(1);
    PlainHalfPlusTwo(x.data<float>(), y.data(), 1);
    sink = sink + y[0];
    plain_y = y[0];
  }, iters, repeats);
  double fn = MedianNsPerCall([&] {
    (void)sig.function->Run(feeds, &out);
    sink = sink + out[0].data<float>()[0];
  }, iters, repeats);
  double mdl = MedianNsPerCall([&] {
    auto r = (*model)->Run("serving_default", named);
    sink = sink + r->at(0).second.data<float>()[0];
  }, iters, repeats);
  std::printf("half_plus_two batch 1 (y=%.1f, expected 3.5), median of %d x %d calls\n", plain_y,
              repeats, iters);
  std::printf("  plain C++ function:          %8.3f us/call\n", plain / 1000);
  std::printf("  engine Function::Run:        %8.3f us/call  overhead %.3f us\n", fn / 1000,
              (fn - plain) / 1000);
  std::printf("  loader Model::Run (checks):  %8.3f us/call  overhead %.3f us\n", mdl / 1000,
              (mdl - plain) / 1000);
  std::printf("  steps per call: %d; goal: overhead < 2 us\n", sig.function->num_steps());
  return 0;
}
