// Compiler and executor tests on small hand-written graphs (GraphDef text protos). Expected values
// are hand-computed from TensorFlow's op semantics.
#include "engine/function.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using ::testing::HasSubstr;

tensorflow::GraphDef ParseGraph(const std::string& text) {
  tensorflow::GraphDef g;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &g)) << text;
  return g;
}

std::shared_ptr<const Graph> Import(const std::string& text,
                                    std::shared_ptr<const FunctionLibrary> lib = nullptr) {
  auto g = Graph::Import(ParseGraph(text), lib);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : nullptr;
}

const char kFloatConstTemplate[] = R"pb(
  node { name: "%s" op: "Const"
         attr { key: "dtype" value { type: DT_FLOAT } }
         attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: %s } } } }
)pb";

std::string FloatConst(const std::string& name, const std::string& value) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), kFloatConstTemplate, name.c_str(), value.c_str());
  return buf;
}

const char kPlaceholderX[] = R"pb(
  node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
)pb";

std::string Binary(const std::string& name, const std::string& op, const std::string& a,
                   const std::string& b, const std::string& extra = "") {
  return "node { name: \"" + name + "\" op: \"" + op + "\" input: \"" + a + "\" input: \"" + b +
         "\" " + extra + " attr { key: \"T\" value { type: DT_FLOAT } } }\n";
}

Tensor Vec(std::vector<float> v) {
  return Tensor::FromVector<float>(DataType::kFloat, Shape{static_cast<int64_t>(v.size())}, v);
}

std::vector<float> Values(const Tensor& t) {
  auto f = t.flat<float>();
  return {f.begin(), f.end()};
}

using InterOp = FunctionSpec::InterOp;

// Both executors: plan order and the ready queue (forced even where kAuto would not choose it).
constexpr InterOp kBothExecutors[] = {InterOp::kNever, InterOp::kAlways};

TEST(FunctionTest, DiamondGraphComputesBothBranches) {
  // c = (x * 2) + (x + 1) = 3x + 1; for x = [1, 2, 5]: [4, 7, 16].
  auto graph = Import(std::string(kPlaceholderX) + FloatConst("two", "2") + FloatConst("one", "1") +
                      Binary("a", "Mul", "x", "two") + Binary("b", "AddV2", "x", "one") +
                      Binary("c", "AddV2", "a", "b"));
  for (InterOp inter_op : kBothExecutors) {
    auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                                {.feeds = {"x:0"}, .fetches = {"c:0", "a"}, .inter_op = inter_op});
    ASSERT_TRUE(fn.ok()) << fn.status();
    EXPECT_EQ((*fn)->runs_steps_in_parallel(), inter_op == InterOp::kAlways);
    std::vector<Tensor> out;
    std::vector<Tensor> feeds = {Vec({1, 2, 5})};
    ASSERT_TRUE((*fn)->Run(feeds, &out).ok());
    EXPECT_EQ(Values(out[0]), std::vector<float>({4, 7, 16}));
    EXPECT_EQ(Values(out[1]), std::vector<float>({2, 4, 10}));
  }
}

// A test-only op that forwards its input once `rendezvous_parties` steps have entered it: a
// barrier. Two branches can only pass it if they run at the same time; run one after the other,
// the first waits until `rendezvous_timeout` and fails with DEADLINE_EXCEEDED (no hang).
std::mutex rendezvous_mu;
std::condition_variable rendezvous_cv;
int rendezvous_arrived = 0;
int rendezvous_parties = 2;
std::chrono::milliseconds rendezvous_timeout{10000};

absl::Status ComputeRendezvous(KernelContext& ctx) {
  std::unique_lock<std::mutex> lock(rendezvous_mu);
  ++rendezvous_arrived;
  rendezvous_cv.notify_all();
  if (!rendezvous_cv.wait_for(lock, rendezvous_timeout,
                              [] { return rendezvous_arrived >= rendezvous_parties; })) {
    return absl::DeadlineExceededError("the other branch never reached the rendezvous");
  }
  ctx.set_output(0, ctx.input(0));
  return absl::OkStatus();
}

void ResetRendezvous(int parties, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(rendezvous_mu);
  rendezvous_arrived = 0;
  rendezvous_parties = parties;
  rendezvous_timeout = timeout;
}

const OpRegistry& RegistryWithRendezvous() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    RegisterAllOps(*r);
    r->Add("TestRendezvous", {.compute = &ComputeRendezvous, .num_outputs = 1, .expensive = true});
    return r;
  }();
  return *registry;
}

std::string Unary(const std::string& name, const std::string& op, const std::string& a) {
  return "node { name: \"" + name + "\" op: \"" + op + "\" input: \"" + a + "\" }\n";
}

// y = r1(x) + r2(x): two independent expensive branches, so kAuto picks the ready queue.
std::shared_ptr<const Graph> TwoRendezvousBranches() {
  return Import(std::string(kPlaceholderX) + Unary("r1", "TestRendezvous", "x") +
                Unary("r2", "TestRendezvous", "x") + Binary("y", "AddV2", "r1", "r2"));
}

TEST(FunctionTest, IndependentExpensiveBranchesRunConcurrently) {
  ThreadPool pool(2);
  auto fn = Function::Compile(TwoRendezvousBranches(), std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"y"}}, RegistryWithRendezvous(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_TRUE((*fn)->runs_steps_in_parallel());
  for (int i = 0; i < 20; ++i) {
    ResetRendezvous(2, std::chrono::milliseconds(10000));
    std::vector<Tensor> out;
    std::vector<Tensor> feeds = {Vec({1.5f, -4})};
    absl::Status st = (*fn)->Run(feeds, &out);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(Values(out[0]), std::vector<float>({3, -8}));
  }
}

// The control for the test above: in plan order the first branch waits alone and times out.
TEST(FunctionTest, SequentialPlanCannotPassTheRendezvous) {
  ThreadPool pool(2);
  auto fn = Function::Compile(TwoRendezvousBranches(), std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"y"}, .inter_op = InterOp::kNever},
                              RegistryWithRendezvous(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_FALSE((*fn)->runs_steps_in_parallel());
  ResetRendezvous(2, std::chrono::milliseconds(50));
  std::vector<Tensor> out;
  std::vector<Tensor> feeds = {Vec({1})};
  absl::Status st = (*fn)->Run(feeds, &out);
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(st.message(), HasSubstr("(TestRendezvous): the other branch never reached"));
}

TEST(FunctionTest, AutoModeRunsChainsAndCheapGraphsInPlanOrder) {
  ThreadPool pool(2);
  // Dependent expensive steps (r2 reads r1) form one chain: nothing to overlap.
  auto chain = Import(std::string(kPlaceholderX) + Unary("r1", "TestRendezvous", "x") +
                      Unary("r2", "TestRendezvous", "r1"));
  auto fn = Function::Compile(chain, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"r2"}}, RegistryWithRendezvous(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_FALSE((*fn)->runs_steps_in_parallel());
  // A diamond of cheap element-wise ops is not worth a thread hand-off either.
  auto diamond = Import(std::string(kPlaceholderX) + FloatConst("two", "2") +
                        Binary("a", "Mul", "x", "two") + Binary("b", "AddV2", "x", "two") +
                        Binary("c", "AddV2", "a", "b"));
  auto cheap = Function::Compile(diamond, std::make_shared<ResourceManager>(),
                                 {.feeds = {"x"}, .fetches = {"c"}}, RegistryWithRendezvous(), pool);
  ASSERT_TRUE(cheap.ok()) << cheap.status();
  EXPECT_FALSE((*cheap)->runs_steps_in_parallel());
  // A pool without workers cannot overlap anything.
  ThreadPool inline_pool(0);
  auto alone = Function::Compile(TwoRendezvousBranches(), std::make_shared<ResourceManager>(),
                                 {.feeds = {"x"}, .fetches = {"y"}}, RegistryWithRendezvous(),
                                 inline_pool);
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_FALSE((*alone)->runs_steps_in_parallel());
}

TEST(FunctionTest, ErrorInOneParallelBranchStopsTheRunAndNamesTheNode) {
  // bad_add cannot broadcast [3] with [2]; the other branch is fine. The run fails naming bad_add,
  // and y, which needs both, never runs.
  ThreadPool pool(2);
  auto graph = Import(
      std::string(kPlaceholderX) +
      R"pb(node { name: "z" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } })pb" +
      Binary("bad_add", "AddV2", "x", "z") + Binary("good", "Mul", "x", "x") +
      Binary("y", "AddV2", "bad_add", "good"));
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x", "z"}, .fetches = {"y"}, .label = "signature \"s\"",
                               .inter_op = InterOp::kAlways},
                              OpRegistry::Global(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  for (int i = 0; i < 50; ++i) {
    std::vector<Tensor> out;
    std::vector<Tensor> feeds = {Vec({1, 2, 3}), Vec({1, 2})};
    absl::Status st = (*fn)->Run(feeds, &out);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), HasSubstr("signature \"s\": node \"bad_add\" (AddV2)"));
  }
}

TEST(FunctionTest, FoldsConstantsAndRemovesIdentities) {
  // y = x + (3 * 4): the product folds at compile time, the Identity disappears.
  auto graph = Import(std::string(kPlaceholderX) + FloatConst("three", "3") + FloatConst("four", "4") +
                      Binary("p", "Mul", "three", "four") +
                      R"pb(node { name: "pid" op: "Identity" input: "p" attr { key: "T" value { type: DT_FLOAT } } })pb" +
                      Binary("y", "AddV2", "x", "pid"));
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"y"}});
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ((*fn)->num_steps(), 1);
  EXPECT_EQ((*fn)->step_ops(), std::vector<std::string>({"AddV2"}));
  std::vector<Tensor> out;
  std::vector<Tensor> feeds = {Vec({1, -12})};
  ASSERT_TRUE((*fn)->Run(feeds, &out).ok());
  EXPECT_EQ(Values(out[0]), std::vector<float>({13, 0}));
}

TEST(FunctionTest, PrunesNodesTheFetchesDoNotNeed) {
  // An unsupported op off the fetch path must not matter; on the path it fails the compile.
  std::string text = std::string(kPlaceholderX) + FloatConst("one", "1") +
                     Binary("y", "AddV2", "x", "one") +
                     R"pb(node { name: "weird" op: "NoSuchOpInSavant" input: "x" })pb";
  auto graph = Import(text);
  auto ok = Function::Compile(graph, std::make_shared<ResourceManager>(), {.feeds = {"x"}, .fetches = {"y"}});
  EXPECT_TRUE(ok.ok()) << ok.status();
  auto bad = Function::Compile(graph, std::make_shared<ResourceManager>(),
                               {.feeds = {"x"}, .fetches = {"weird"}, .label = "signature \"s\""});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(bad.status().message(), HasSubstr("signature \"s\": node \"weird\" (NoSuchOpInSavant)"));
}

TEST(FunctionTest, ErrorMidGraphNamesNodeAndOp) {
  // Adding [3] to [2] cannot broadcast: the error names the failing node, not its neighbours.
  auto graph = Import(std::string(kPlaceholderX) +
                      R"pb(node { name: "z" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } })pb" +
                      Binary("bad_add", "AddV2", "x", "z") + Binary("y", "Mul", "bad_add", "bad_add"));
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x", "z"}, .fetches = {"y"}});
  ASSERT_TRUE(fn.ok()) << fn.status();
  std::vector<Tensor> out;
  std::vector<Tensor> feeds = {Vec({1, 2, 3}), Vec({1, 2})};
  absl::Status st = (*fn)->Run(feeds, &out);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("node \"bad_add\" (AddV2)"));
  EXPECT_THAT(st.message(), HasSubstr("[3] vs. [2]"));
}

TEST(FunctionTest, UnfedPlaceholderFailsAtRunTimeWithTensorFlowsMessage) {
  auto graph = Import(std::string(kPlaceholderX) + FloatConst("one", "1") + Binary("y", "AddV2", "x", "one"));
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(), {.fetches = {"y"}});
  ASSERT_TRUE(fn.ok()) << fn.status();
  std::vector<Tensor> out;
  absl::Status st = (*fn)->Run({}, &out);
  EXPECT_THAT(st.message(), HasSubstr("You must feed a value for placeholder tensor 'x'"));
}

// TF2 resource variable v (initial 0) with an increment and a read ordered by a control edge.
const char kResourceCounter[] = R"pb(
  node { name: "v" op: "VarHandleOp"
         attr { key: "dtype" value { type: DT_FLOAT } }
         attr { key: "shape" value { shape {} } }
         attr { key: "shared_name" value { s: "counter" } } }
  node { name: "zero" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
         attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 0 } } } }
  node { name: "one" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
         attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 1 } } } }
  node { name: "init" op: "AssignVariableOp" input: "v" input: "zero"
         attr { key: "dtype" value { type: DT_FLOAT } } }
  node { name: "incr" op: "AssignAddVariableOp" input: "v" input: "one"
         attr { key: "dtype" value { type: DT_FLOAT } } }
  node { name: "read" op: "ReadVariableOp" input: "v" input: "^incr"
         attr { key: "dtype" value { type: DT_FLOAT } } }
  node { name: "peek" op: "ReadVariableOp" input: "v"
         attr { key: "dtype" value { type: DT_FLOAT } } }
)pb";

TEST(FunctionTest, ControlDependencyOrdersIncrementBeforeRead) {
  auto graph = Import(kResourceCounter);
  for (InterOp inter_op : kBothExecutors) {
    auto resources = std::make_shared<ResourceManager>();
    auto init = Function::Compile(graph, resources, {.targets = {"init"}});
    ASSERT_TRUE(init.ok()) << init.status();
    std::vector<Tensor> out;
    ASSERT_TRUE((*init)->Run({}, &out).ok());
    auto incr = Function::Compile(graph, resources, {.fetches = {"read"}, .inter_op = inter_op});
    ASSERT_TRUE(incr.ok()) << incr.status();
    for (float expected : {1.0f, 2.0f, 3.0f}) {
      ASSERT_TRUE((*incr)->Run({}, &out).ok());
      EXPECT_EQ(out[0].scalar<float>(), expected);
    }
  }
}

// The ready queue keeps orderings imposed through nodes that run no step: "read" waits for the
// NoOp "after_incr", which waits for "incr"; and the folded constant "one_later" (a Const with
// a control input) passes the same wait on to "read2".
TEST(FunctionTest, ReadyQueueKeepsControlEdgesThroughNoOpsAndFoldedNodes) {
  const std::string text = std::string(kResourceCounter) + R"pb(
    node { name: "after_incr" op: "NoOp" input: "^incr" }
    node { name: "read_after" op: "ReadVariableOp" input: "v" input: "^after_incr"
           attr { key: "dtype" value { type: DT_FLOAT } } }
    node { name: "one_later" op: "Const" input: "^incr" attr { key: "dtype" value { type: DT_FLOAT } }
           attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 1 } } } }
    node { name: "read2" op: "ReadVariableOp" input: "v" input: "^one_later"
           attr { key: "dtype" value { type: DT_FLOAT } } })pb";
  auto graph = Import(text);
  ThreadPool pool(2);
  auto resources = std::make_shared<ResourceManager>();
  auto init = Function::Compile(graph, resources, {.targets = {"init"}});
  ASSERT_TRUE(init.ok()) << init.status();
  std::vector<Tensor> out;
  ASSERT_TRUE((*init)->Run({}, &out).ok());
  auto fn = Function::Compile(graph, resources,
                              {.fetches = {"read_after", "read2"}, .inter_op = InterOp::kAlways},
                              OpRegistry::Global(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  for (int i = 1; i <= 200; ++i) {
    ASSERT_TRUE((*fn)->Run({}, &out).ok());
    ASSERT_EQ(out[0].scalar<float>(), static_cast<float>(i));
    ASSERT_EQ(out[1].scalar<float>(), static_cast<float>(i));
  }
}

TEST(FunctionTest, ConcurrentRunsOnOnePlanCountEveryIncrement) {
  auto graph = Import(kResourceCounter);
  for (InterOp inter_op : kBothExecutors) {
    auto resources = std::make_shared<ResourceManager>();
    auto init = Function::Compile(graph, resources, {.targets = {"init"}});
    ASSERT_TRUE(init.ok());
    std::vector<Tensor> out;
    ASSERT_TRUE((*init)->Run({}, &out).ok());
    auto incr = Function::Compile(graph, resources, {.targets = {"incr"}, .inter_op = inter_op});
    ASSERT_TRUE(incr.ok());
    const Function& fn = **incr;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        std::vector<Tensor> o;
        for (int i = 0; i < 500; ++i) failures += !fn.Run({}, &o).ok();
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    auto peek = Function::Compile(graph, resources, {.fetches = {"peek"}});
    ASSERT_TRUE(peek.ok());
    ASSERT_TRUE((*peek)->Run({}, &out).ok());
    EXPECT_EQ(out[0].scalar<float>(), 4000.0f);
  }
}

TEST(FunctionTest, FoldsReadsOfVariablesNothingAssigns) {
  auto graph = Import(std::string(kResourceCounter) + kPlaceholderX + Binary("y", "AddV2", "x", "peek"));
  auto resources = std::make_shared<ResourceManager>();
  auto init = Function::Compile(graph, resources, {.targets = {"init"}});
  ASSERT_TRUE(init.ok());
  std::vector<Tensor> out;
  ASSERT_TRUE((*init)->Run({}, &out).ok());
  FunctionSpec frozen{.feeds = {"x"}, .fetches = {"y"}, .fold_variable_reads = true};
  auto fn = Function::Compile(graph, resources, frozen);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ((*fn)->step_ops(), std::vector<std::string>({"AddV2"}));
  // When some function assigns the variable, the read must stay.
  FunctionSpec live = frozen;
  live.assigned_variables = {"counter"};
  auto fn2 = Function::Compile(graph, resources, live);
  ASSERT_TRUE(fn2.ok());
  EXPECT_EQ((*fn2)->step_ops(), std::vector<std::string>({"ReadVariableOp", "AddV2"}));
  auto assigned = AssignedVariables(*graph, {.targets = {"incr"}});
  ASSERT_TRUE(assigned.ok());
  EXPECT_TRUE(assigned->contains("counter"));
}

TEST(FunctionTest, InlinesNestedFunctionCalls) {
  // outer(x) = inner(x) * 2, inner(x) = x + 1, called through StatefulPartitionedCall:
  // outer(3) = 8, outer(-1) = 0.
  tensorflow::FunctionDefLibrary fdefs;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    function {
      signature { name: "inner" input_arg { name: "a" type: DT_FLOAT } output_arg { name: "out" type: DT_FLOAT } }
      node_def { name: "one" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
                 attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 1 } } } }
      node_def { name: "add" op: "AddV2" input: "a" input: "one:output:0" attr { key: "T" value { type: DT_FLOAT } } }
      ret { key: "out" value: "add:z:0" }
    }
    function {
      signature { name: "outer" input_arg { name: "b" type: DT_FLOAT } output_arg { name: "res" type: DT_FLOAT } }
      node_def { name: "call" op: "inner" input: "b" }
      node_def { name: "two" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
                 attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 2 } } } }
      node_def { name: "mul" op: "Mul" input: "call:out:0" input: "two:output:0" attr { key: "T" value { type: DT_FLOAT } } }
      ret { key: "res" value: "mul:z:0" }
    })pb", &fdefs));
  tensorflow::OpList ops;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    op { name: "AddV2" input_arg { name: "x" type_attr: "T" } input_arg { name: "y" type_attr: "T" }
         output_arg { name: "z" type_attr: "T" } attr { name: "T" type: "type" } }
    op { name: "Mul" input_arg { name: "x" type_attr: "T" } input_arg { name: "y" type_attr: "T" }
         output_arg { name: "z" type_attr: "T" } attr { name: "T" type: "type" } }
    op { name: "Const" output_arg { name: "output" type_attr: "dtype" } attr { name: "value" type: "tensor" }
         attr { name: "dtype" type: "type" } }
    op { name: "StatefulPartitionedCall" input_arg { name: "args" type_list_attr: "Tin" }
         output_arg { name: "output" type_list_attr: "Tout" } attr { name: "Tin" type: "list(type)" }
         attr { name: "Tout" type: "list(type)" } attr { name: "f" type: "func" } })pb", &ops));
  auto lib = std::make_shared<FunctionLibrary>(fdefs, ops);
  auto graph = Import(std::string(kPlaceholderX) + R"pb(
    node { name: "call" op: "StatefulPartitionedCall" input: "x"
           attr { key: "f" value { func { name: "outer" } } }
           attr { key: "Tin" value { list { type: DT_FLOAT } } }
           attr { key: "Tout" value { list { type: DT_FLOAT } } } })pb", lib);
  ASSERT_NE(graph, nullptr);
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x:0"}, .fetches = {"call:0"}});
  ASSERT_TRUE(fn.ok()) << fn.status();
  std::vector<Tensor> out;
  std::vector<Tensor> feeds = {Vec({3, -1})};
  ASSERT_TRUE((*fn)->Run(feeds, &out).ok());
  EXPECT_EQ(Values(out[0]), std::vector<float>({8, 0}));
  EXPECT_NE(graph->FindNode("call/call/add"), -1) << "inner body is inlined under the call names";
}

TEST(FunctionTest, ImportRejectsDanglingInputs) {
  auto g = Graph::Import(ParseGraph(R"pb(node { name: "y" op: "Identity" input: "nowhere" })pb"), nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("node \"y\""));
  EXPECT_THAT(g.status().message(), HasSubstr("nowhere"));
}

}  // namespace
}  // namespace savant::engine
