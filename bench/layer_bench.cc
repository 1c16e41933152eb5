// Per-layer timings of the convolution models of bench/run.sh (the MobileNet-like stack and the
// MNIST CNN), each layer a kernel built from the op registry exactly as the loader builds the fused
// node (constant weights, so filters are packed and batch norms folded once), timed alone at batch 1
// and 32 with 1 and 2 threads. Shows which layer a model's time goes to; not a comparison.
//
//   layer_bench [--model=mobilenet|cnn|pool] [--reps=N] [--layer=PREFIX]
//   (pool: the cost of handing a ParallelFor chunk to the second thread)
//
// Each figure is the best of `reps` calls (the least disturbed on a shared machine) in
// microseconds, with the GFLOP/s it implies.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/thread_pool.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"
#include "tensorflow/core/framework/attr_value.pb.h"

namespace {

using savant::ThreadPool;
using savant::engine::CreateKernel;
using savant::engine::DataType;
using savant::engine::Endpoint;
using savant::engine::KernelConstruction;
using savant::engine::KernelContext;
using savant::engine::Node;
using savant::engine::OpKernel;
using savant::engine::OpRegistry;
using savant::engine::ResourceManager;
using savant::engine::RunOptions;
using savant::engine::Shape;
using savant::engine::Tensor;
using Clock = std::chrono::steady_clock;

std::mt19937 g_rng(1);

Tensor Random(const Shape& shape, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DataType::kFloat, shape);
  for (float& v : t.flat<float>()) v = dist(g_rng);
  return t;
}

void SetInts(Node& n, const std::string& name, const std::vector<int64_t>& v) {
  auto& list = *n.attrs[name].mutable_list();
  for (int64_t x : v) list.add_i(x);
}
void SetStrings(Node& n, const std::string& name, const std::vector<std::string>& v) {
  auto& list = *n.attrs[name].mutable_list();
  for (const auto& x : v) list.add_s(x);
}

// One layer: a node, its constant inputs (index >= 1) and the input shape without the batch.
struct Layer {
  std::string label;
  Node node;
  std::vector<Tensor> constants;  // inputs 1..
  Shape input;                    // [h, w, c]
  double flops_per_sample = 0;
  std::unique_ptr<OpKernel> kernel;
};

Layer ConvLayer(const std::string& label, bool depthwise, int64_t size, int64_t in_c, int64_t out_c,
                int64_t k, int64_t stride, const std::string& padding, bool batch_norm) {
  Layer l;
  l.label = label;
  l.node.name = label;
  l.node.op = depthwise ? "_FusedDepthwiseConv2dNative" : "_FusedConv2D";
  l.node.attrs["T"].set_type(static_cast<tensorflow::DataType>(DataType::kFloat));
  SetInts(l.node, "strides", {1, stride, stride, 1});
  SetInts(l.node, "dilations", {1, 1, 1, 1});
  l.node.attrs["padding"].set_s(padding);
  l.node.attrs["data_format"].set_s("NHWC");
  const int64_t oc = depthwise ? in_c : out_c;
  l.constants.push_back(Random(Shape{k, k, in_c, depthwise ? 1 : out_c}, -0.2f, 0.2f));
  if (batch_norm) {
    SetStrings(l.node, "fused_ops", {"FusedBatchNorm", "Relu6"});
    l.node.attrs["num_args"].set_i(4);
    l.node.attrs["epsilon"].set_f(1e-3f);
    l.constants.push_back(Random(Shape{oc}, 0.5f, 1.5f));
    l.constants.push_back(Random(Shape{oc}, -0.1f, 0.1f));
    l.constants.push_back(Random(Shape{oc}, -0.1f, 0.1f));
    l.constants.push_back(Random(Shape{oc}, 0.5f, 1.5f));
  } else {
    SetStrings(l.node, "fused_ops", {"BiasAdd", "Relu"});
    l.node.attrs["num_args"].set_i(1);
    l.constants.push_back(Random(Shape{oc}, -0.1f, 0.1f));
  }
  l.input = Shape{size, size, in_c};
  const int64_t out = padding == "SAME" ? (size + stride - 1) / stride : (size - k) / stride + 1;
  l.flops_per_sample = 2.0 * static_cast<double>(out * out * oc * k * k * (depthwise ? 1 : in_c));
  return l;
}

Layer PoolLayer(const std::string& label, int64_t size, int64_t c) {
  Layer l;
  l.label = label;
  l.node.name = label;
  l.node.op = "MaxPool";
  l.node.attrs["T"].set_type(static_cast<tensorflow::DataType>(DataType::kFloat));
  SetInts(l.node, "ksize", {1, 2, 2, 1});
  SetInts(l.node, "strides", {1, 2, 2, 1});
  l.node.attrs["padding"].set_s("VALID");
  l.node.attrs["data_format"].set_s("NHWC");
  l.input = Shape{size, size, c};
  l.flops_per_sample = static_cast<double>(size * size * c);
  return l;
}

std::vector<Layer> MobileNet() {
  std::vector<Layer> layers;
  int64_t size = 96, c = 3;
  layers.push_back(ConvLayer("conv3x3/2 3->32", false, size, c, 32, 3, 2, "SAME", true));
  size = 48;
  c = 32;
  int i = 1;
  for (auto [stride, out_c] :
       {std::pair<int64_t, int64_t>{1, 64}, {2, 128}, {1, 128}, {2, 256}, {1, 256}}) {
    layers.push_back(ConvLayer("dw" + std::to_string(i) + " s" + std::to_string(stride) + " " +
                                   std::to_string(size) + "x" + std::to_string(c),
                               true, size, c, c, 3, stride, "SAME", true));
    size = (size + stride - 1) / stride;
    layers.push_back(ConvLayer("pw" + std::to_string(i) + " " + std::to_string(size) + "^2 " +
                                   std::to_string(c) + "->" + std::to_string(out_c),
                               false, size, c, out_c, 1, 1, "SAME", true));
    c = out_c;
    ++i;
  }
  return layers;
}

std::vector<Layer> Cnn() {
  std::vector<Layer> layers;
  layers.push_back(ConvLayer("conv1 28^2 1->32", false, 28, 1, 32, 3, 1, "VALID", false));
  layers.push_back(ConvLayer("conv2 26^2 32->64", false, 26, 32, 64, 3, 1, "VALID", false));
  layers.push_back(PoolLayer("maxpool 24^2x64", 24, 64));
  return layers;
}

double BestUs(const OpKernel& kernel, const Node& node, const std::vector<const Tensor*>& inputs,
              ThreadPool& pool, int reps) {
  ResourceManager resources;
  RunOptions options;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    std::vector<Tensor> outputs(1);
    KernelContext ctx(node, inputs, outputs, pool, resources, options);
    const auto t0 = Clock::now();
    const absl::Status s = kernel.Compute(ctx);
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", node.name.c_str(), std::string(s.message()).c_str());
      return -1;
    }
    best = std::min(best, us);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "mobilenet";
  int reps = 50;
  std::string only;  // layers whose label starts with this
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--model=", 0) == 0) model = arg.substr(8);
    if (arg.rfind("--reps=", 0) == 0) reps = std::stoi(arg.substr(7));
    if (arg.rfind("--layer=", 0) == 0) only = arg.substr(8);
  }
  ThreadPool one(0), two(1);
  if (model == "pool") {
    // A two-chunk ParallelFor whose chunks each busy-wait 20 us: 20 us if the second thread takes
    // its chunk at once, up to 40 us if the caller ends up doing both.
    std::vector<double> us;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      two.ParallelFor(2, 1, [](int64_t, int64_t) {
        const auto end = Clock::now() + std::chrono::microseconds(20);
        while (Clock::now() < end) {
        }
      });
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (r % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::sort(us.begin(), us.end());
    std::printf("ParallelFor(2 chunks of 20 us): min %.1f us, median %.1f us, p90 %.1f us\n",
                us[0], us[us.size() / 2], us[us.size() * 9 / 10]);
    return 0;
  }
  std::vector<Layer> layers = model == "cnn" ? Cnn() : MobileNet();
  std::printf("%-26s %23s %23s %23s %23s\n", "layer (best us, GFLOP/s)", "b1 1T", "b1 2T", "b32 1T",
              "b32 2T");
  double totals[4] = {0, 0, 0, 0};
  for (Layer& l : layers) {
    if (l.label.rfind(only, 0) != 0) continue;
    std::vector<DataType> dtypes(1 + l.constants.size(), DataType::kFloat);
    std::vector<const Tensor*> constants = {nullptr};
    for (const Tensor& t : l.constants) constants.push_back(&t);
    for (size_t i = 0; i < dtypes.size(); ++i) l.node.inputs.push_back(Endpoint{static_cast<int>(i), 0});
    KernelConstruction c(l.node, constants, dtypes);
    auto kernel = CreateKernel(OpRegistry::Global(), c);
    if (!kernel.ok()) {
      std::fprintf(stderr, "%s: %s\n", l.label.c_str(), std::string(kernel.status().message()).c_str());
      return 1;
    }
    std::printf("%-26s", l.label.c_str());
    int col = 0;
    for (int64_t batch : {1, 32}) {
      Shape s{batch};
      for (int64_t d : l.input.dims()) s.AddDim(d);
      const Tensor x = Random(s, -1, 1);
      std::vector<const Tensor*> inputs = constants;
      inputs[0] = &x;
      for (ThreadPool* pool : {&one, &two}) {
        const double us = BestUs(**kernel, l.node, inputs, *pool, batch == 1 ? reps : std::max(5, reps / 5));
        totals[col++] += us;
        std::printf(" %12.1f (%7.1f)", us, l.flops_per_sample * static_cast<double>(batch) / us / 1e3);
      }
    }
    std::printf("\n");
  }
  std::printf("%-26s", "total");
  for (double t : totals) std::printf(" %12.1f %9s", t, "");
  std::printf("\n");
  return 0;
}
