// Importer tests for hostile GraphDefs: inputs far out of topological order and function libraries
// that inline exponentially. Both were found by fuzzing (tensor_bundle / saved_model fuzzers feed
// the importer); each must give an error, never a stack overflow or an out-of-memory kill.
#include "engine/graph.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using ::testing::HasSubstr;

tensorflow::NodeDef MakeNode(const std::string& name, const std::string& op,
                             std::vector<std::string> inputs = {}) {
  tensorflow::NodeDef node;
  node.set_name(name);
  node.set_op(op);
  for (auto& in : inputs) node.add_input(std::move(in));
  return node;
}

// n0 = Placeholder, n_i = Identity(n_{i-1}) for i < length, listed last node first when `reversed`.
tensorflow::GraphDef Chain(int length, bool reversed) {
  tensorflow::GraphDef graph;
  for (int k = 0; k < length; ++k) {
    const int i = reversed ? length - 1 - k : k;
    *graph.add_node() = i == 0 ? MakeNode("n0", "Placeholder")
                               : MakeNode(absl::StrCat("n", i), "Identity", {absl::StrCat("n", i - 1)});
  }
  return graph;
}

TEST(GraphImportTest, LongChainInTopologicalOrderImports) {
  auto graph = Graph::Import(Chain(5000, /*reversed=*/false), nullptr);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ((*graph)->num_nodes(), 5000);
  const int last = (*graph)->FindNode("n4999");
  ASSERT_GE(last, 0);
  ASSERT_EQ((*graph)->node(last).inputs.size(), 1u);
  EXPECT_EQ((*graph)->node(last).inputs[0].node, (*graph)->FindNode("n4998"));
}

// Resolving n4999 first needs n4998, which needs n4997, ...: 5000 nested resolutions. The importer
// stops at its depth limit with an error instead of overflowing the stack.
TEST(GraphImportTest, LongChainInReverseOrderIsAnErrorNotAStackOverflow) {
  auto graph = Graph::Import(Chain(5000, /*reversed=*/true), nullptr);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(graph.status().message(), HasSubstr("input chains deeper than"));
}

// Imports x -> call f0(x), where f0 .. f(levels-2) each call the next function twice in a row and
// the last is an Identity: inlining doubles the node count per level.
absl::StatusOr<std::shared_ptr<const Graph>> ImportDoublingCalls(int levels) {
  tensorflow::FunctionDefLibrary functions;
  for (int level = 0; level < levels; ++level) {
    tensorflow::FunctionDef* f = functions.add_function();
    auto* sig = f->mutable_signature();
    sig->set_name(absl::StrCat("f", level));
    sig->add_input_arg()->set_name("a");
    sig->mutable_input_arg(0)->set_type(tensorflow::DT_FLOAT);
    sig->add_output_arg()->set_name("out");
    sig->mutable_output_arg(0)->set_type(tensorflow::DT_FLOAT);
    if (level + 1 < levels) {
      const std::string callee = absl::StrCat("f", level + 1);
      *f->add_node_def() = MakeNode("first", callee, {"a"});
      *f->add_node_def() = MakeNode("second", callee, {"first:out:0"});
      (*f->mutable_ret())["out"] = "second:out:0";
    } else {
      *f->add_node_def() = MakeNode("id", "Identity", {"a"});
      (*f->mutable_ret())["out"] = "id:output:0";
    }
  }
  auto library = std::make_shared<FunctionLibrary>(functions, tensorflow::OpList());
  tensorflow::GraphDef graph_def;
  *graph_def.add_node() = MakeNode("x", "Placeholder");
  *graph_def.add_node() = MakeNode("call", "f0", {"x"});
  return Graph::Import(graph_def, library);
}

// f0 calls f1 twice (the second call on the first's result), f1 calls f2 twice, ..., f39 is an
// Identity: inlining f0 would create 2^39 nodes. The importer predicts the expansion from the
// library and refuses the call before building any of it (found by fuzzing: it used to build two
// million nodes first, taking seconds and gigabytes).
TEST(GraphImportTest, ExponentialInliningIsAResourceError) {
  constexpr int kLevels = 40;
  auto graph = ImportDoublingCalls(kLevels);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(graph.status().message(),
              HasSubstr("function call \"call\" of \"f0\": inlining it expands to more than"));
}

// The same library 10 levels deep inlines to 2^9 Identity nodes plus a NoOp per call: accepted.
TEST(GraphImportTest, ModerateInliningImports) {
  constexpr int kLevels = 10;
  auto graph = ImportDoublingCalls(kLevels);
  ASSERT_TRUE(graph.ok()) << graph.status();
  int identities = 0;
  for (const Node& node : (*graph)->nodes()) identities += node.op == "Identity";
  EXPECT_EQ(identities, 1 << (kLevels - 1));
}

}  // namespace
}  // namespace savant::engine
