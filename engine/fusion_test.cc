// The fusion pass: which chains it rewrites, which it must leave alone, and that the fused graph
// computes what the original does (constant weights, so the kernels pre-pack and fold batch norms).
#include "engine/fusion.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/function.h"
#include "engine/tensor_proto.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

// Builds GraphDefs in code: constants carry real tensors.
class GraphBuilder {
 public:
  GraphBuilder& Placeholder(const std::string& name) {
    auto* n = Add(name, "Placeholder", {});
    (*n->mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
    return *this;
  }
  GraphBuilder& Const(const std::string& name, const Tensor& t) {
    auto* n = Add(name, "Const", {});
    (*n->mutable_attr())["dtype"].set_type(static_cast<tensorflow::DataType>(t.dtype()));
    TensorToProto(t, (*n->mutable_attr())["value"].mutable_tensor());
    return *this;
  }
  tensorflow::NodeDef* Op(const std::string& name, const std::string& op,
                          const std::vector<std::string>& inputs) {
    auto* n = Add(name, op, inputs);
    (*n->mutable_attr())["T"].set_type(tensorflow::DT_FLOAT);
    return n;
  }
  tensorflow::NodeDef* Conv(const std::string& name, const std::string& op, const std::string& x,
                            const std::string& w, int64_t stride) {
    auto* n = Op(name, op, {x, w});
    auto& strides = (*n->mutable_attr())["strides"];
    for (int64_t s : {int64_t{1}, stride, stride, int64_t{1}}) strides.mutable_list()->add_i(s);
    (*n->mutable_attr())["padding"].set_s("SAME");
    return n;
  }
  tensorflow::NodeDef* BatchNorm(const std::string& name, const std::string& x,
                                 const std::string& prefix) {
    auto* n = Op(name, "FusedBatchNormV3",
                 {x, prefix + "scale", prefix + "offset", prefix + "mean", prefix + "var"});
    (*n->mutable_attr())["U"].set_type(tensorflow::DT_FLOAT);
    (*n->mutable_attr())["epsilon"].set_f(0.001f);
    (*n->mutable_attr())["is_training"].set_b(false);
    return n;
  }
  std::shared_ptr<const Graph> Build() {
    auto g = Graph::Import(def_, std::make_shared<FunctionLibrary>());
    EXPECT_TRUE(g.ok()) << g.status();
    return *g;
  }

 private:
  tensorflow::NodeDef* Add(const std::string& name, const std::string& op,
                           const std::vector<std::string>& inputs) {
    auto* n = def_.add_node();
    n->set_name(name);
    n->set_op(op);
    for (const auto& i : inputs) n->add_input(i);
    return n;
  }
  tensorflow::GraphDef def_;
};

Tensor RandomTensor(const Shape& shape, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DataType::kFloat, shape);
  for (float& v : t.flat<float>()) v = dist(rng);
  return t;
}

std::vector<std::string> StepOps(std::shared_ptr<const Graph> g, const std::string& fetch) {
  auto fn = Function::Compile(g, std::make_shared<ResourceManager>(),
                              {.feeds = {"x:0"}, .fetches = {fetch}});
  EXPECT_TRUE(fn.ok()) << fn.status();
  return fn.ok() ? (*fn)->step_ops() : std::vector<std::string>{};
}

Tensor RunGraph(std::shared_ptr<const Graph> g, const std::string& fetch, const Tensor& x) {
  auto fn = Function::Compile(g, std::make_shared<ResourceManager>(),
                              {.feeds = {"x:0"}, .fetches = {fetch}});
  EXPECT_TRUE(fn.ok()) << fn.status();
  std::vector<Tensor> out;
  std::vector<Tensor> feeds = {x};
  auto st = (*fn)->Run(feeds, &out);
  EXPECT_TRUE(st.ok()) << st;
  return out.at(0);
}

void ExpectSameValues(const Tensor& fused, const Tensor& plain) {
  ASSERT_EQ(fused.shape(), plain.shape());
  for (int64_t i = 0; i < plain.num_elements(); ++i) {
    const float want = plain.flat<float>()[i];
    EXPECT_NEAR(fused.flat<float>()[i], want, 1e-5 * std::max(1.0f, std::abs(want))) << i;
  }
}

// x -> MatMul(w) -> BiasAdd(b) -> Relu
GraphBuilder Dense(const std::string& act = "Relu") {
  GraphBuilder b;
  b.Placeholder("x")
      .Const("w", RandomTensor({16, 40}, 1))
      .Const("b", RandomTensor({40}, 2));
  b.Op("mm", "MatMul", {"x", "w"});
  b.Op("bias", "BiasAdd", {"mm", "b"});
  if (!act.empty()) b.Op("act", act, {"bias"});
  return b;
}

TEST(FusionTest, DenseChainBecomesOneFusedMatMul) {
  auto graph = Dense().Build();
  auto fused = FuseForInference(graph, {"x", "act"});
  ASSERT_TRUE(fused.ok()) << fused.status();
  EXPECT_EQ(StepOps(graph, "act:0"), (std::vector<std::string>{"MatMul", "BiasAdd", "Relu"}));
  EXPECT_EQ(StepOps(*fused, "act:0"), (std::vector<std::string>{"_FusedMatMul"}));
  const Tensor x = RandomTensor({5, 16}, 3);
  ExpectSameValues(RunGraph(*fused, "act:0", x), RunGraph(graph, "act:0", x));
}

TEST(FusionTest, EveryActivationMatchesUnfused) {
  for (const char* act : {"Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh"}) {
    SCOPED_TRACE(act);
    auto graph = Dense(act).Build();
    auto fused = FuseForInference(graph, {});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "act:0"), (std::vector<std::string>{"_FusedMatMul"}));
    const Tensor x = RandomTensor({3, 16}, 4, -3, 3);
    ExpectSameValues(RunGraph(*fused, "act:0", x), RunGraph(graph, "act:0", x));
  }
}

TEST(FusionTest, KeptIntermediateIsNotAbsorbed) {
  auto graph = Dense().Build();
  // A signature fetches the BiasAdd: the MatMul may still fuse with it, but the Relu stays.
  auto fused = FuseForInference(graph, {"x", "bias:0", "act"});
  ASSERT_TRUE(fused.ok());
  EXPECT_EQ(StepOps(*fused, "act:0"), (std::vector<std::string>{"_FusedMatMul", "Relu"}));
  // A fetched MatMul output blocks the whole chain.
  auto none = FuseForInference(graph, {"mm"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->get(), graph.get());
}

TEST(FusionTest, IntermediateWithTwoConsumersIsNotAbsorbed) {
  GraphBuilder b = Dense();
  b.Op("other", "Neg", {"mm"});  // a second reader of the MatMul
  auto graph = b.Build();
  auto fused = FuseForInference(graph, {});
  ASSERT_TRUE(fused.ok());
  EXPECT_EQ(fused->get(), graph.get());
  // The same for a second reader of the BiasAdd: MatMul+BiasAdd fuse, the Relu does not.
  GraphBuilder c = Dense();
  c.Op("other", "Neg", {"bias"});
  auto graph2 = c.Build();
  auto fused2 = FuseForInference(graph2, {});
  ASSERT_TRUE(fused2.ok());
  EXPECT_EQ(StepOps(*fused2, "act:0"), (std::vector<std::string>{"_FusedMatMul", "Relu"}));
  const Tensor x = RandomTensor({2, 16}, 5);
  ExpectSameValues(RunGraph(*fused2, "other:0", x), RunGraph(graph2, "other:0", x));
}

TEST(FusionTest, ConvBatchNormRelu6FoldsIntoOneKernel) {
  for (const char* conv : {"Conv2D", "DepthwiseConv2dNative"}) {
    SCOPED_TRACE(conv);
    const bool depthwise = std::string(conv) == "DepthwiseConv2dNative";
    const int64_t oc = depthwise ? 16 : 12;
    GraphBuilder b;
    b.Placeholder("x")
        .Const("w", RandomTensor({3, 3, 16, depthwise ? 1 : oc}, 6))
        .Const("bn/scale", RandomTensor({oc}, 7, 0.5f, 2))
        .Const("bn/offset", RandomTensor({oc}, 8))
        .Const("bn/mean", RandomTensor({oc}, 9))
        .Const("bn/var", RandomTensor({oc}, 10, 0.1f, 2));
    b.Conv("conv", conv, "x", "w", 2);
    b.BatchNorm("bn", "conv", "bn/");
    b.Op("act", "Relu6", {"bn"});
    auto graph = b.Build();
    auto fused = FuseForInference(graph, {});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "act:0"),
              (std::vector<std::string>{depthwise ? "_FusedDepthwiseConv2dNative" : "_FusedConv2D"}));
    const Tensor x = RandomTensor({2, 9, 10, 16}, 11);
    ExpectSameValues(RunGraph(*fused, "act:0", x), RunGraph(graph, "act:0", x));
  }
}

// MobileNet's block: depthwise 3x3 + BN + Relu6, then Conv2D + BN + Relu6. With a 1x1 Conv2D the
// kernel runs bands of depthwise rows straight into the GEMM; with a 3x3 one (decided at load
// time, when the filter is known) it runs the two convolutions one after the other.
GraphBuilder SeparableBlock(int64_t pw_k, int64_t stride) {
  GraphBuilder b;
  b.Placeholder("x")
      .Const("dw/w", RandomTensor({3, 3, 20, 1}, 20))
      .Const("dwbn/scale", RandomTensor({20}, 21, 0.5f, 2))
      .Const("dwbn/offset", RandomTensor({20}, 22))
      .Const("dwbn/mean", RandomTensor({20}, 23))
      .Const("dwbn/var", RandomTensor({20}, 24, 0.1f, 2))
      // Glorot-sized weights: sums of 180 products stay near 1, as in a trained network.
      .Const("pw/w", RandomTensor({pw_k, pw_k, 20, 40}, 25, -0.15f, 0.15f))
      .Const("pwbn/scale", RandomTensor({40}, 26, 0.5f, 2))
      .Const("pwbn/offset", RandomTensor({40}, 27))
      .Const("pwbn/mean", RandomTensor({40}, 28))
      .Const("pwbn/var", RandomTensor({40}, 29, 0.1f, 2));
  b.Conv("dw", "DepthwiseConv2dNative", "x", "dw/w", stride);
  b.BatchNorm("dw_bn", "dw", "dwbn/");
  b.Op("dw_act", "Relu6", {"dw_bn"});
  b.Conv("pw", "Conv2D", "dw_act", "pw/w", 1);
  b.BatchNorm("pw_bn", "pw", "pwbn/");
  b.Op("act", "Relu6", {"pw_bn"});
  return b;
}

TEST(FusionTest, DepthwiseSeparableBlockBecomesOneKernel) {
  for (int64_t pw_k : {1, 3}) {
    for (int64_t stride : {1, 2}) {
      SCOPED_TRACE("pointwise " + std::to_string(pw_k) + "x" + std::to_string(pw_k) +
                   ", stride " + std::to_string(stride));
      auto graph = SeparableBlock(pw_k, stride).Build();
      auto fused = FuseForInference(graph, {});
      ASSERT_TRUE(fused.ok()) << fused.status();
      EXPECT_EQ(StepOps(*fused, "act:0"), (std::vector<std::string>{"_SavantDepthwisePointwise"}));
      // 3 images of 17 rows: several bands, some spanning two images.
      const Tensor x = RandomTensor({3, 17, 19, 20}, 30);
      ExpectSameValues(RunGraph(*fused, "act:0", x), RunGraph(graph, "act:0", x));
    }
  }
}

TEST(FusionTest, DepthwiseOutputInUseStaysItsOwnKernel) {
  // A fetched depthwise output must exist: the pair is not fused.
  auto graph = SeparableBlock(1, 1).Build();
  auto fused = FuseForInference(graph, {"dw_act:0"});
  ASSERT_TRUE(fused.ok()) << fused.status();
  EXPECT_EQ(StepOps(*fused, "act:0"),
            (std::vector<std::string>{"_FusedDepthwiseConv2dNative", "_FusedConv2D"}));
  const Tensor x = RandomTensor({1, 6, 7, 20}, 31);
  ExpectSameValues(RunGraph(*fused, "act:0", x), RunGraph(graph, "act:0", x));
}

// Keras's Conv2D + MaxPooling2D: with non-overlapping VALID windows the kernel pools each band of
// convolution rows while in cache; other pools run after the whole convolution.
TEST(FusionTest, ConvThenMaxPoolBecomesOneKernel) {
  struct PoolSpec {
    int64_t k, stride;
    std::string padding;
  };
  for (const PoolSpec& ps : {PoolSpec{2, 2, "VALID"}, PoolSpec{3, 3, "VALID"},
                             PoolSpec{3, 2, "VALID"}, PoolSpec{2, 2, "SAME"}}) {
    SCOPED_TRACE("pool " + std::to_string(ps.k) + "/" + std::to_string(ps.stride) + " " +
                 ps.padding);
    GraphBuilder b;
    b.Placeholder("x").Const("w", RandomTensor({3, 3, 8, 24}, 40, -0.3f, 0.3f))
        .Const("b", RandomTensor({24}, 41));
    b.Conv("conv", "Conv2D", "x", "w", 1);
    b.Op("bias", "BiasAdd", {"conv", "b"});
    b.Op("relu", "Relu", {"bias"});
    auto* pool = b.Op("pool", "MaxPool", {"relu"});
    for (const char* attr : {"ksize", "strides"}) {
      const int64_t v = std::string(attr) == "ksize" ? ps.k : ps.stride;
      for (int64_t d : {int64_t{1}, v, v, int64_t{1}}) (*pool->mutable_attr())[attr].mutable_list()->add_i(d);
    }
    (*pool->mutable_attr())["padding"].set_s(ps.padding);
    auto graph = b.Build();
    auto fused = FuseForInference(graph, {});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "pool:0"), (std::vector<std::string>{"_SavantConv2DMaxPool"}));
    // 13 x 11 convolution rows: the pool drops the last row (and columns) that no window covers.
    const Tensor x = RandomTensor({2, 13, 11, 8}, 42);
    const Tensor got = RunGraph(*fused, "pool:0", x), want = RunGraph(graph, "pool:0", x);
    ExpectSameValues(got, want);
  }
}

TEST(FusionTest, ConvBiasWithoutActivationAndBatchNormStatsInUse) {
  GraphBuilder b;
  b.Placeholder("x").Const("w", RandomTensor({1, 1, 4, 6}, 12)).Const("b", RandomTensor({6}, 13));
  b.Conv("conv", "Conv2D", "x", "w", 1);
  b.Op("bias", "BiasAdd", {"conv", "b"});
  auto graph = b.Build();
  auto fused = FuseForInference(graph, {});
  ASSERT_TRUE(fused.ok());
  EXPECT_EQ(StepOps(*fused, "bias:0"), (std::vector<std::string>{"_FusedConv2D"}));
  const Tensor x = RandomTensor({1, 3, 3, 4}, 14);
  ExpectSameValues(RunGraph(*fused, "bias:0", x), RunGraph(graph, "bias:0", x));

  // A batch norm whose running-mean output is read elsewhere cannot be replaced.
  GraphBuilder c;
  c.Placeholder("x")
      .Const("w", RandomTensor({1, 1, 4, 6}, 12))
      .Const("bn/scale", RandomTensor({6}, 1))
      .Const("bn/offset", RandomTensor({6}, 2))
      .Const("bn/mean", RandomTensor({6}, 3))
      .Const("bn/var", RandomTensor({6}, 4, 0.1f, 1));
  c.Conv("conv", "Conv2D", "x", "w", 1);
  c.BatchNorm("bn", "conv", "bn/");
  c.Op("m", "Neg", {"bn:1"});
  auto graph2 = c.Build();
  auto fused2 = FuseForInference(graph2, {});
  ASSERT_TRUE(fused2.ok());
  EXPECT_EQ(fused2->get(), graph2.get());
}

// x -> Einsum(eq, w) -> AddV2(bias), as Keras EinsumDense emits; `bias_first` swaps AddV2's
// operands.
std::shared_ptr<const Graph> EinsumDense(const std::string& eq, const Shape& w, const Shape& bias,
                                         bool bias_first) {
  GraphBuilder b;
  b.Placeholder("x").Const("w", RandomTensor(w, 5)).Const("b", RandomTensor(bias, 6));
  auto* e = b.Op("einsum", "Einsum", {"x", "w"});
  (*e->mutable_attr())["equation"].set_s(eq);
  (*e->mutable_attr())["N"].set_i(2);
  if (bias_first) {
    b.Op("add", "AddV2", {"b", "einsum"});
  } else {
    b.Op("add", "AddV2", {"einsum", "b"});
  }
  return b.Build();
}

TEST(FusionTest, EinsumBiasBecomesFusedEinsumAndMatches) {
  struct Case {
    std::string eq;
    Shape x, w, bias;
    bool bias_first;
  };
  const Case cases[] = {
      // The bias lies along the output's trailing dims: added in the GEMM epilogue.
      {"abc,cde->abde", {2, 5, 8}, {8, 3, 4}, {3, 4}, false},
      {"abcd,cde->abe", {2, 5, 3, 4}, {3, 4, 6}, {6}, true},
      {"abc,cd->abd", {3, 4, 8}, {8, 16}, {1, 1, 16}, false},
      // Any other broadcast is added after the product.
      {"abc,cde->abde", {2, 5, 8}, {8, 3, 4}, {5, 1, 1}, false},
      {"abc,cde->abde", {2, 5, 8}, {8, 3, 4}, {3, 1}, true},
      // Output permuted after the product.
      {"abc,cd->adb", {2, 3, 8}, {8, 4}, {3}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.eq + " bias " + c.bias.DebugString());
    auto graph = EinsumDense(c.eq, c.w, c.bias, c.bias_first);
    auto fused = FuseForInference(graph, {"x", "add"});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "add:0"), (std::vector<std::string>{"_FusedEinsum"}));
    const Tensor x = RandomTensor(c.x, 7);
    ExpectSameValues(RunGraph(*fused, "add:0", x), RunGraph(graph, "add:0", x));
  }
}

TEST(FusionTest, EinsumAddOfAComputedTensorIsNotFused) {
  GraphBuilder b;
  b.Placeholder("x").Const("w", RandomTensor({4, 4}, 8));
  auto* e = b.Op("einsum", "Einsum", {"x", "w"});
  (*e->mutable_attr())["equation"].set_s("ab,bc->ac");
  (*e->mutable_attr())["N"].set_i(2);
  b.Op("add", "AddV2", {"einsum", "x"});  // a residual connection, not a bias
  auto fused = FuseForInference(b.Build(), {"x", "add"});
  ASSERT_TRUE(fused.ok()) << fused.status();
  EXPECT_EQ(StepOps(*fused, "add:0"), (std::vector<std::string>{"Einsum", "AddV2"}));
}

// LayerNormalization as tf.nn.moments + tf.nn.batch_normalization (Keras's graph), ending at "out".
std::shared_ptr<const Graph> LayerNorm(const Tensor& gamma, const Tensor& beta) {
  GraphBuilder b;
  b.Placeholder("x")
      .Const("axis", Tensor::FromVector<int32_t>(DataType::kInt32, Shape{1}, {-1}))
      .Const("eps", Tensor::FromVector<float>(DataType::kFloat, Shape{}, {1e-3f}))
      .Const("gamma", gamma)
      .Const("beta", beta);
  auto mean = [&](const std::string& name, const std::string& in) {
    auto* n = b.Op(name, "Mean", {in, "axis"});
    (*n->mutable_attr())["Tidx"].set_type(tensorflow::DT_INT32);
    (*n->mutable_attr())["keep_dims"].set_b(true);
  };
  mean("mean", "x");
  b.Op("sq", "SquaredDifference", {"x", "mean"});
  mean("var", "sq");
  b.Op("add_eps", "AddV2", {"var", "eps"});
  b.Op("rsqrt", "Rsqrt", {"add_eps"});
  b.Op("scale", "Mul", {"rsqrt", "gamma"});
  b.Op("x_scaled", "Mul", {"x", "scale"});
  b.Op("mean_scaled", "Mul", {"mean", "scale"});
  b.Op("shift", "Sub", {"beta", "mean_scaled"});
  b.Op("out", "AddV2", {"x_scaled", "shift"});
  return b.Build();
}

TEST(FusionTest, LayerNormBecomesOneKernelWithIdenticalResults) {
  // Hand-computed: row [1, 2, 3, 4] has mean 2.5 and variance 1.25, so with gamma 2, beta 1 the
  // output is 2 (x - 2.5) / sqrt(1.25 + 1e-3) + 1.
  {
    auto graph = LayerNorm(Tensor::FromVector<float>(DataType::kFloat, Shape{4}, {2, 2, 2, 2}),
                           Tensor::FromVector<float>(DataType::kFloat, Shape{4}, {1, 1, 1, 1}));
    auto fused = FuseForInference(graph, {"x", "out"});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "out:0"), (std::vector<std::string>{"_SavantLayerNorm"}));
    const Tensor got = RunGraph(*fused, "out:0",
                                Tensor::FromVector<float>(DataType::kFloat, Shape{1, 4}, {1, 2, 3, 4}));
    const double r = 1.0 / std::sqrt(1.25 + 1e-3);
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(got.flat<float>()[i], 2 * (i + 1 - 2.5) * r + 1, 1e-5) << i;
    }
  }
  // Random rows of odd widths: the fused kernel performs the unfused ops' float operations in the
  // same order, so the results are bit-identical.
  for (int64_t c : {1, 7, 16, 33, 256}) {
    SCOPED_TRACE(c);
    auto graph = LayerNorm(RandomTensor({c}, 11, 0.5f, 1.5f), RandomTensor({c}, 12));
    auto fused = FuseForInference(graph, {"x", "out"});
    ASSERT_TRUE(fused.ok()) << fused.status();
    EXPECT_EQ(StepOps(*fused, "out:0"), (std::vector<std::string>{"_SavantLayerNorm"}));
    const Tensor x = RandomTensor({3, 5, c}, 13, -4.0f, 6.0f);
    const Tensor got = RunGraph(*fused, "out:0", x), want = RunGraph(graph, "out:0", x);
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t i = 0; i < want.num_elements(); ++i) {
      ASSERT_EQ(got.flat<float>()[i], want.flat<float>()[i]) << i;
    }
  }
}

TEST(FusionTest, LayerNormWithAnIntermediateInUseIsNotFused) {
  auto graph = LayerNorm(RandomTensor({8}, 1), RandomTensor({8}, 2));
  // The variance is fetched too: it must stay a node of its own.
  auto fused = FuseForInference(graph, {"x", "out", "var"});
  ASSERT_TRUE(fused.ok()) << fused.status();
  const auto ops = StepOps(*fused, "out:0");
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "_SavantLayerNorm"), 0);
}

TEST(FusionTest, ParseFusedOpsValidatesCombinations) {
  Node n;
  n.op = "_FusedMatMul";
  auto set = [&](std::vector<std::string> ops, int64_t num_args) {
    tensorflow::AttrValue v;
    v.mutable_list();
    for (auto& s : ops) v.mutable_list()->add_s(s);
    n.attrs["fused_ops"] = v;
    n.attrs["num_args"].set_i(num_args);
  };
  set({"BiasAdd", "Relu"}, 1);
  auto ok = ParseFusedOps(n);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->kind, FusedOps::Kind::kBiasAdd);
  EXPECT_EQ(ok->activation, simd::Activation::kRelu);
  set({"FusedBatchNorm", "Relu6"}, 4);
  ASSERT_TRUE(ParseFusedOps(n).ok());
  set({"BiasAdd", "Add", "Relu"}, 2);
  auto add = ParseFusedOps(n);
  ASSERT_TRUE(add.ok());
  EXPECT_TRUE(add->add);
  set({"BiasAdd"}, 2);
  EXPECT_EQ(ParseFusedOps(n).status().code(), absl::StatusCode::kInvalidArgument);
  set({"Relu", "BiasAdd"}, 1);
  EXPECT_EQ(ParseFusedOps(n).status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace savant::engine
