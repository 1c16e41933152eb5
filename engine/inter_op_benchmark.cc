// Inter-op parallelism benchmark (not a unit test; not registered with CTest): a graph with
// `branches` independent chains of `depth` MatMuls ([batch,n] x [n,n]) summed at the end, run in
// plan order (FunctionSpec::InterOp::kNever) and with the ready queue (kAuto, which picks it for
// this shape), side by side on the process-wide pool. Prints the time per run of each and the
// speedup; with P cores and intra-op splitting also in play, the ceiling is about min(P, branches).
//
//   inter_op_benchmark [--branches=2] [--depth=4] [--batch=8] [--n=256] [--runs=200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/function.h"

namespace {

using namespace savant::engine;

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  const std::string prefix = absl::StrCat("--", name, "=");
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return std::atoi(argv[i] + prefix.size());
  }
  return fallback;
}

tensorflow::NodeDef MakeNode(const std::string& name, const std::string& op,
                             std::vector<std::string> inputs) {
  tensorflow::NodeDef node;
  node.set_name(name);
  node.set_op(op);
  for (auto& in : inputs) node.add_input(std::move(in));
  (*node.mutable_attr())["T"].set_type(tensorflow::DT_FLOAT);
  return node;
}

}  // namespace

int main(int argc, char** argv) {
  const int branches = IntFlag(argc, argv, "branches", 2);
  const int depth = IntFlag(argc, argv, "depth", 4);
  const int batch = IntFlag(argc, argv, "batch", 8);
  const int n = IntFlag(argc, argv, "n", 256);
  const int runs = IntFlag(argc, argv, "runs", 200);

  tensorflow::GraphDef g;
  tensorflow::NodeDef x = MakeNode("x", "Placeholder", {});
  (*x.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  *g.add_node() = x;
  tensorflow::NodeDef w;
  w.set_name("w");
  w.set_op("Const");
  (*w.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  auto* value = (*w.mutable_attr())["value"].mutable_tensor();
  value->set_dtype(tensorflow::DT_FLOAT);
  value->mutable_tensor_shape()->add_dim()->set_size(n);
  value->mutable_tensor_shape()->add_dim()->set_size(n);
  value->add_float_val(1.0f / static_cast<float>(n));
  *g.add_node() = w;
  std::string sum;
  for (int b = 0; b < branches; ++b) {
    std::string prev = "x";
    for (int d = 0; d < depth; ++d) {
      const std::string name = absl::StrCat("b", b, "/mm", d);
      *g.add_node() = MakeNode(name, "MatMul", {prev, "w"});
      prev = name;
    }
    if (sum.empty()) {
      sum = prev;
    } else {
      const std::string name = absl::StrCat("sum", b);
      *g.add_node() = MakeNode(name, "AddV2", {sum, prev});
      sum = name;
    }
  }
  auto graph = Graph::Import(g, nullptr);
  if (!graph.ok()) {
    std::fprintf(stderr, "%s\n", std::string(graph.status().message()).c_str());
    return 1;
  }
  Tensor input(DataType::kFloat, Shape{batch, n});
  std::fill(input.data<float>(), input.data<float>() + input.num_elements(), 1.0f);
  std::vector<Tensor> feeds = {input};

  std::printf("%d branches x %d MatMuls [%d,%d]x[%d,%d], pool parallelism %d, %d runs\n", branches,
              depth, batch, n, n, n, savant::ThreadPool::Default().parallelism(), runs);
  double seconds[2] = {0, 0};
  float results[2] = {0, 0};
  const FunctionSpec::InterOp modes[2] = {FunctionSpec::InterOp::kNever, FunctionSpec::InterOp::kAuto};
  for (int m = 0; m < 2; ++m) {
    auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                                {.feeds = {"x"}, .fetches = {sum}, .inter_op = modes[m]});
    if (!fn.ok()) {
      std::fprintf(stderr, "%s\n", std::string(fn.status().message()).c_str());
      return 1;
    }
    if (m == 1 && !(*fn)->runs_steps_in_parallel()) std::printf("note: kAuto chose plan order\n");
    std::vector<Tensor> out;
    for (int i = 0; i < 10; ++i) (void)(*fn)->Run(feeds, &out);  // warm up
    std::vector<double> samples;
    for (int rep = 0; rep < 5; ++rep) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < runs; ++i) {
        absl::Status st = (*fn)->Run(feeds, &out);
        if (!st.ok()) {
          std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
          return 1;
        }
      }
      samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / runs);
    }
    std::sort(samples.begin(), samples.end());
    seconds[m] = samples[samples.size() / 2];
    results[m] = out[0].data<float>()[0];
  }
  // Each MatMul by w (all 1/n) maps rows of ones to rows of ones, so the sum is `branches`.
  std::printf("result %.3f and %.3f (expected %d)\n", results[0], results[1], branches);
  std::printf("plan order:  %8.1f us/run\nready queue: %8.1f us/run\nspeedup: %.2fx\n",
              seconds[0] * 1e6, seconds[1] * 1e6, seconds[0] / seconds[1]);
  return 0;
}
