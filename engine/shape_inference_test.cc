// Static shape inference: each rule against shapes computed by hand from TensorFlow's shape
// functions (tensorflow/core/ops/{math,nn,array}_ops.cc), with the batch dimension unknown (-1,
// printed "?"), and a compiled MLP whose signature output shape follows from its input shape.
#include "engine/shape_inference.h"

#include "engine/base/status_macros.h"
#include "engine/function.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kQ = -1;  // unknown dim

tensorflow::AttrValue IntList(std::vector<int64_t> v) {
  tensorflow::AttrValue a;
  for (int64_t x : v) a.mutable_list()->add_i(x);
  return a;
}
tensorflow::AttrValue Str(const std::string& s) {
  tensorflow::AttrValue a;
  a.set_s(s);
  return a;
}
tensorflow::AttrValue Bool(bool b) {
  tensorflow::AttrValue a;
  a.set_b(b);
  return a;
}
tensorflow::AttrValue Int(int64_t i) {
  tensorflow::AttrValue a;
  a.set_i(i);
  return a;
}

Node MakeNode(const std::string& op,
              std::vector<std::pair<std::string, tensorflow::AttrValue>> attrs = {}) {
  Node node;
  node.name = "n";
  node.op = op;
  for (auto& [k, v] : attrs) node.attrs[k] = v;
  return node;
}

Tensor Ints(std::vector<int32_t> v) {
  return Tensor::FromVector<int32_t>(DataType::kInt32, Shape{static_cast<int64_t>(v.size())}, v);
}

// Infers output 0 with no constant inputs except those given (index -> value).
absl::StatusOr<PartialShape> Infer(const Node& node, std::vector<PartialShape> inputs,
                                   std::vector<const Tensor*> constants = {}) {
  constants.resize(inputs.size(), nullptr);
  ASSIGN_OR_RETURN(auto shapes, InferNodeShapes(node, inputs, constants, 1));
  return shapes[0];
}

#define EXPECT_SHAPE(expr, ...)                                         \
  do {                                                                  \
    auto result_ = (expr);                                              \
    ASSERT_TRUE(result_.ok()) << result_.status();                      \
    EXPECT_EQ(result_->DebugString(), PartialShape(__VA_ARGS__).DebugString()); \
  } while (0)

TEST(ShapeInferenceTest, MatMulKeepsTheUnknownBatch) {
  EXPECT_SHAPE(Infer(MakeNode("MatMul"), {{kQ, 784}, {784, 512}}), {kQ, 512});
  // transpose_b: [?,784] x [512,784]^T.
  EXPECT_SHAPE(Infer(MakeNode("MatMul", {{"transpose_b", Bool(true)}}), {{kQ, 784}, {512, 784}}),
               {kQ, 512});
  // transpose_a: [784,?]^T x [784,10].
  EXPECT_SHAPE(Infer(MakeNode("MatMul", {{"transpose_a", Bool(true)}}), {{784, kQ}, {784, 10}}),
               {kQ, 10});
  // An unknown operand leaves its dims unknown, not an error.
  EXPECT_SHAPE(Infer(MakeNode("MatMul"), {PartialShape::UnknownRank(), {784, 512}}), {kQ, 512});
  auto bad = Infer(MakeNode("MatMul"), {{kQ, 784}, {500, 512}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("Matrix size-incompatible: In[0]: [?,784], In[1]: [500,512]"));
  EXPECT_FALSE(Infer(MakeNode("MatMul"), {{kQ, 2, 3}, {3, 4}}).ok()) << "rank 3 is not a matrix";
}

TEST(ShapeInferenceTest, BatchMatMulV2BroadcastsBatchDims) {
  // [?,1,5,3] x [4,3,7] -> batch broadcast([?,1],[4]) = [?,4], matrix [5,7].
  EXPECT_SHAPE(Infer(MakeNode("BatchMatMulV2"), {{kQ, 1, 5, 3}, {4, 3, 7}}), {kQ, 4, 5, 7});
  EXPECT_SHAPE(Infer(MakeNode("BatchMatMulV2", {{"adj_y", Bool(true)}}), {{2, 5, 3}, {2, 7, 3}}),
               {2, 5, 7});
}

TEST(ShapeInferenceTest, ReshapeInfersTheMinusOneDimension) {
  Tensor flat = Ints({-1, 784});
  EXPECT_SHAPE(Infer(MakeNode("Reshape"), {{kQ, 28, 28}, {2}}, {nullptr, &flat}), {kQ, 784});
  Tensor to_6 = Ints({-1, 6});
  EXPECT_SHAPE(Infer(MakeNode("Reshape"), {{2, 3, 4}, {2}}, {nullptr, &to_6}), {4, 6});
  Tensor to_5 = Ints({5, -1});
  auto not_multiple = Infer(MakeNode("Reshape"), {{2, 3, 4}, {2}}, {nullptr, &to_5});
  EXPECT_EQ(not_multiple.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_multiple.status().message(),
              HasSubstr("tensor with 24 values, but the requested shape requires a multiple of 5"));
  Tensor to_4x5 = Ints({4, 5});
  auto wrong_count = Infer(MakeNode("Reshape"), {{2, 3, 4}, {2}}, {nullptr, &to_4x5});
  EXPECT_THAT(wrong_count.status().message(), HasSubstr("24 values, but the requested shape has 20"));
  Tensor two_unknown = Ints({-1, -1});
  EXPECT_FALSE(Infer(MakeNode("Reshape"), {{6}, {2}}, {nullptr, &two_unknown}).ok());
  // A computed target shape: only its length (the rank) is known.
  EXPECT_SHAPE(Infer(MakeNode("Reshape"), {{kQ, 28, 28}, {3}}), {kQ, kQ, kQ});
}

Node Conv(const std::string& op, const std::string& padding, std::vector<int64_t> strides,
          std::vector<int64_t> dilations = {1, 1, 1, 1}, const std::string& format = "NHWC") {
  return MakeNode(op, {{"padding", Str(padding)},
                       {"strides", IntList(strides)},
                       {"dilations", IntList(dilations)},
                       {"data_format", Str(format)}});
}

TEST(ShapeInferenceTest, Conv2DSameAndValidPadding) {
  // SAME: ceil(28 / 2) = 14. VALID: floor((28 - 5) / 2) + 1 = 12.
  EXPECT_SHAPE(Infer(Conv("Conv2D", "SAME", {1, 2, 2, 1}), {{kQ, 28, 28, 3}, {5, 5, 3, 32}}),
               {kQ, 14, 14, 32});
  EXPECT_SHAPE(Infer(Conv("Conv2D", "VALID", {1, 2, 2, 1}), {{kQ, 28, 28, 3}, {5, 5, 3, 32}}),
               {kQ, 12, 12, 32});
  // Odd sizes: SAME ceil(27 / 2) = 14; VALID floor((27 - 3) / 2) + 1 = 13; a 3x1 window.
  EXPECT_SHAPE(Infer(Conv("Conv2D", "VALID", {1, 2, 2, 1}), {{1, 27, 27, 8}, {3, 1, 8, 4}}),
               {1, 13, 14, 4});
  // Dilation 2 makes a 5-tap window span 9: VALID 28 - 9 + 1 = 20.
  EXPECT_SHAPE(Infer(Conv("Conv2D", "VALID", {1, 1, 1, 1}, {1, 2, 2, 1}), {{kQ, 28, 28, 3}, {5, 5, 3, 16}}),
               {kQ, 20, 20, 16});
  // NCHW puts channels second.
  EXPECT_SHAPE(Infer(Conv("Conv2D", "SAME", {1, 1, 1, 1}, {1, 1, 1, 1}, "NCHW"), {{kQ, 3, 28, 28}, {3, 3, 3, 32}}),
               {kQ, 32, 28, 28});
  // Unknown spatial size stays unknown; channels still come from the filter.
  EXPECT_SHAPE(Infer(Conv("Conv2D", "SAME", {1, 1, 1, 1}), {{kQ, kQ, kQ, 3}, {3, 3, 3, 64}}),
               {kQ, kQ, kQ, 64});
  auto depth = Infer(Conv("Conv2D", "SAME", {1, 1, 1, 1}), {{kQ, 28, 28, 4}, {3, 3, 3, 8}});
  EXPECT_EQ(depth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(depth.status().message(), HasSubstr("input depth 4 is not a multiple of the filter's 3"));
  auto too_small = Infer(Conv("Conv2D", "VALID", {1, 1, 1, 1}), {{kQ, 2, 2, 3}, {5, 5, 3, 8}});
  EXPECT_THAT(too_small.status().message(), HasSubstr("output size would be negative"));
}

TEST(ShapeInferenceTest, DepthwiseConvAndPooling) {
  // Depthwise: channels x multiplier = 3 x 2.
  EXPECT_SHAPE(Infer(Conv("DepthwiseConv2dNative", "SAME", {1, 1, 1, 1}), {{kQ, 28, 28, 3}, {3, 3, 3, 2}}),
               {kQ, 28, 28, 6});
  Node pool = MakeNode("MaxPool", {{"ksize", IntList({1, 2, 2, 1})},
                                   {"strides", IntList({1, 2, 2, 1})},
                                   {"padding", Str("VALID")}});
  EXPECT_SHAPE(Infer(pool, {{kQ, 27, 27, 8}}), {kQ, 13, 13, 8});
  pool.attrs["padding"] = Str("SAME");
  EXPECT_SHAPE(Infer(pool, {{kQ, 27, 27, 8}}), {kQ, 14, 14, 8});
}

TEST(ShapeInferenceTest, SavantFusedPairsChainTheirTwoRules) {
  // MobileNet's block: depthwise 3x3 stride 2 SAME on [?,48,48,32] -> [?,24,24,32] (TF:
  // ceil(48/2)), batch norm args (4, num_args), then a 1x1 Conv2D filter [1,1,32,64].
  Node dw_pw = MakeNode("_SavantDepthwisePointwise",
                        {{"strides", IntList({1, 2, 2, 1})}, {"padding", Str("SAME")},
                         {"num_args", Int(4)}, {"pw/strides", IntList({1, 1, 1, 1})},
                         {"pw/padding", Str("VALID")}});
  EXPECT_SHAPE(Infer(dw_pw, {{kQ, 48, 48, 32}, {3, 3, 32, 1}, {32}, {32}, {32}, {32}, {1, 1, 32, 64}}),
               {kQ, 24, 24, 64});
  // Keras MNIST: Conv2D 3x3 VALID [?,26,26,32] -> [?,24,24,64], MaxPool 2x2 VALID -> [?,12,12,64].
  Node conv_pool = MakeNode("_SavantConv2DMaxPool",
                            {{"strides", IntList({1, 1, 1, 1})}, {"padding", Str("VALID")},
                             {"pool/ksize", IntList({1, 2, 2, 1})}, {"pool/strides", IntList({1, 2, 2, 1})},
                             {"pool/padding", Str("VALID")}});
  EXPECT_SHAPE(Infer(conv_pool, {{kQ, 26, 26, 32}, {3, 3, 32, 64}, {64}}), {kQ, 12, 12, 64});
  // The pointwise filter must take the depthwise output's 32 channels.
  EXPECT_FALSE(Infer(dw_pw, {{kQ, 48, 48, 32}, {3, 3, 32, 1}, {32}, {32}, {32}, {32}, {1, 1, 7, 64}}).ok());
  EXPECT_SHAPE(Infer(MakeNode("_SavantLayerNorm"), {{kQ, 128, 256}, {256}, {256}}), {kQ, 128, 256});
}

TEST(ShapeInferenceTest, EinsumTakesEachOutputLabelsDimFromTheInputs) {
  auto einsum = [](const std::string& eq) { return MakeNode("Einsum", {{"equation", Str(eq)}}); };
  // Keras EinsumDense and MultiHeadAttention's scores.
  EXPECT_SHAPE(Infer(einsum("abc,cde->abde"), {{kQ, 8, 16}, {16, 4, 2}}), {kQ, 8, 4, 2});
  EXPECT_SHAPE(Infer(einsum("aecd,abcd->acbe"), {{kQ, 5, 4, 2}, {kQ, 7, 4, 2}}), {kQ, 4, 7, 5});
  // A dim unknown in one input and known in the other.
  EXPECT_SHAPE(Infer(einsum("ab,bc->ac"), {{3, kQ}, {4, 6}}), {3, 6});
  EXPECT_TRUE(Infer(einsum("...c,cd->...d"), {{kQ, 8, 16}, {16, 4}}).value().unknown_rank());
  EXPECT_TRUE(Infer(einsum("abc,cd->abd"), {{kQ, 16}, {16, 4}}).value().unknown_rank());
}

TEST(ShapeInferenceTest, BroadcastingFollowsNumpyRules) {
  EXPECT_SHAPE(BroadcastShapes({kQ, 1}, {3}), {kQ, 3});
  EXPECT_SHAPE(BroadcastShapes({5, kQ, 1}, {7}), {5, kQ, 7});
  EXPECT_SHAPE(BroadcastShapes({kQ}, {kQ}), {kQ});
  const PartialShape scalar = PartialShape::FromDims(std::span<const int64_t>());  // not {}: unknown rank
  EXPECT_SHAPE(BroadcastShapes({kQ, 4}, scalar), {kQ, 4});
  auto bad = BroadcastShapes({2, 3}, {4});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("Incompatible shapes: [2,3] vs. [4]"));
  EXPECT_TRUE(BroadcastShapes(PartialShape::UnknownRank(), {3}).value().unknown_rank());
  EXPECT_SHAPE(Infer(MakeNode("AddV2"), {{kQ, 1}, {1, 10}}), {kQ, 10});
  EXPECT_SHAPE(Infer(MakeNode("Relu"), {{kQ, 10}}), {kQ, 10});
}

TEST(ShapeInferenceTest, PackConcatExpandSqueezeTranspose) {
  EXPECT_SHAPE(Infer(MakeNode("Pack", {{"axis", Int(1)}}), {{kQ, 3}, {kQ, 3}}), {kQ, 2, 3});
  EXPECT_FALSE(Infer(MakeNode("Pack"), {{2, 3}, {2, 4}}).ok());
  Tensor last = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {-1});
  EXPECT_SHAPE(Infer(MakeNode("ConcatV2"), {{kQ, 3}, {kQ, 5}, {}}, {nullptr, nullptr, &last}), {kQ, 8});
  EXPECT_SHAPE(Infer(MakeNode("ConcatV2"), {{kQ, 3}, {kQ, kQ}, {}}, {nullptr, nullptr, &last}), {kQ, kQ});
  Tensor zero = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {0});
  EXPECT_SHAPE(Infer(MakeNode("ConcatV2"), {{2, kQ}, {kQ, 5}, {}}, {nullptr, nullptr, &zero}), {kQ, 5});
  EXPECT_SHAPE(Infer(MakeNode("ExpandDims"), {{kQ, 3}, {}}, {nullptr, &last}), {kQ, 3, 1});
  EXPECT_SHAPE(Infer(MakeNode("Squeeze", {{"squeeze_dims", IntList({1})}}), {{kQ, 1, 3}}), {kQ, 3});
  EXPECT_SHAPE(Infer(MakeNode("Squeeze"), {{2, 1, 3, 1}}), {2, 3});
  EXPECT_TRUE(Infer(MakeNode("Squeeze"), {{kQ, 1, 3}}).value().unknown_rank())
      << "the unknown dim may be 1 and squeezed too";
  Tensor perm = Ints({2, 0, 1});
  EXPECT_SHAPE(Infer(MakeNode("Transpose"), {{kQ, 4, 5}, {3}}, {nullptr, &perm}), {5, kQ, 4});
}

TEST(ShapeInferenceTest, ReductionsArgMaxAndShape) {
  Tensor axis1 = Ints({1});
  EXPECT_SHAPE(Infer(MakeNode("Mean"), {{kQ, 10, 4}, {1}}, {nullptr, &axis1}), {kQ, 4});
  EXPECT_SHAPE(Infer(MakeNode("Mean", {{"keep_dims", Bool(true)}}), {{kQ, 10, 4}, {1}}, {nullptr, &axis1}),
               {kQ, 1, 4});
  Tensor minus1 = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {-1});
  EXPECT_SHAPE(Infer(MakeNode("ArgMax"), {{kQ, 10}, {}}, {nullptr, &minus1}), {kQ});
  EXPECT_SHAPE(Infer(MakeNode("Shape"), {{kQ, 10, 4}}), {3});
  EXPECT_SHAPE(Infer(MakeNode("NoSuchOp"), {{1}}), PartialShape::UnknownRank());
}

TEST(ShapeInferenceTest, GatherPadTileSliceOneHot) {
  // An embedding lookup: params [1000,64], ids [?,20], axis 0 -> [?,20,64].
  Tensor axis0 = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {0});
  EXPECT_SHAPE(Infer(MakeNode("GatherV2"), {{1000, 64}, {kQ, 20}, {}}, {nullptr, nullptr, &axis0}),
               {kQ, 20, 64});
  Tensor axis1 = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {1});
  EXPECT_SHAPE(Infer(MakeNode("GatherV2"), {{kQ, 5, 7}, {3}, {}}, {nullptr, nullptr, &axis1}),
               {kQ, 3, 7});
  // Pad [[1,1],[2,3]]: 28 + 2 = 30, ? stays ?, 4 + 5 = 9.
  Tensor paddings = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{3, 2}, {0, 0, 1, 1, 2, 3});
  EXPECT_SHAPE(Infer(MakeNode("Pad"), {{kQ, 28, 4}, {3, 2}}, {nullptr, &paddings}), {kQ, 30, 9});
  Tensor multiples = Ints({2, 3});
  EXPECT_SHAPE(Infer(MakeNode("Tile"), {{kQ, 4}, {2}}, {nullptr, &multiples}), {kQ, 12});
  EXPECT_FALSE(Infer(MakeNode("Tile"), {{kQ, 4, 1}, {2}}, {nullptr, &multiples}).ok());
  // Slice begin [0,2] size [-1,3] of [?,10]: [?,3]; size [1,-1]: [1,8].
  Tensor begin = Ints({0, 2});
  Tensor size = Ints({-1, 3});
  EXPECT_SHAPE(Infer(MakeNode("Slice"), {{kQ, 10}, {2}, {2}}, {nullptr, &begin, &size}), {kQ, 3});
  Tensor size2 = Ints({1, -1});
  EXPECT_SHAPE(Infer(MakeNode("Slice"), {{kQ, 10}, {2}, {2}}, {nullptr, &begin, &size2}), {1, 8});
  // OneHot of [?] with depth 10 on the last axis: [?,10].
  Tensor depth = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{}, {10});
  EXPECT_SHAPE(Infer(MakeNode("OneHot"), {{kQ}, {}, {}, {}}, {nullptr, &depth, nullptr, nullptr}),
               {kQ, 10});
}

tensorflow::GraphDef ParseGraph(const std::string& text) {
  tensorflow::GraphDef g;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &g)) << text;
  return g;
}

std::string FloatMatrix(const std::string& name, int rows, int cols) {
  return "node { name: \"" + name + "\" op: \"Const\" attr { key: \"dtype\" value { type: DT_FLOAT } } " +
         "attr { key: \"value\" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: " +
         std::to_string(rows) + " } dim { size: " + std::to_string(cols) + " } } float_val: 0.5 } } } }\n";
}

// x [?,784] -> MatMul [784,64] -> BiasAdd [64] -> Relu -> MatMul [64,cols] -> Softmax.
std::string Mlp(int second_rows) {
  return std::string(R"pb(
    node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
    node { name: "b" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
           attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 64 } } float_val: 0 } } } }
    node { name: "h" op: "MatMul" input: "x" input: "w1" attr { key: "T" value { type: DT_FLOAT } } }
    node { name: "hb" op: "BiasAdd" input: "h" input: "b" attr { key: "T" value { type: DT_FLOAT } } }
    node { name: "relu" op: "Relu" input: "hb" attr { key: "T" value { type: DT_FLOAT } } }
    node { name: "logits" op: "MatMul" input: "relu" input: "w2" attr { key: "T" value { type: DT_FLOAT } } }
    node { name: "probs" op: "Softmax" input: "logits" attr { key: "T" value { type: DT_FLOAT } } }
  )pb") + FloatMatrix("w1", 784, 64) + FloatMatrix("w2", second_rows, 10);
}

TEST(ShapeInferenceTest, CompiledFunctionPropagatesTheSignatureShapes) {
  auto graph = Graph::Import(ParseGraph(Mlp(64)), nullptr);
  ASSERT_TRUE(graph.ok()) << graph.status();
  auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"probs", "h"}, .feed_shapes = {{kQ, 784}}});
  ASSERT_TRUE(fn.ok()) << fn.status();
  ASSERT_EQ((*fn)->fetch_shapes().size(), 2u);
  EXPECT_EQ((*fn)->fetch_shapes()[0].DebugString(), "[?,10]");
  EXPECT_EQ((*fn)->fetch_shapes()[1].DebugString(), "[?,64]");
  // Without feed shapes nothing is known about the batch or the rank of x's products... except
  // what the weights fix: MatMul gives [?,64] whatever x is.
  auto unknown = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                                   {.feeds = {"x"}, .fetches = {"probs"}});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ((*unknown)->fetch_shapes()[0].DebugString(), "[?,10]");
}

TEST(ShapeInferenceTest, ImpossibleShapesFailTheCompileNamingTheNode) {
  auto graph = Graph::Import(ParseGraph(Mlp(65)), nullptr);
  ASSERT_TRUE(graph.ok()) << graph.status();
  auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"probs"}, .label = "signature \"s\"",
                               .feed_shapes = {{kQ, 784}}});
  ASSERT_FALSE(fn.ok());
  EXPECT_EQ(fn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fn.status().message(), HasSubstr("signature \"s\": node \"logits\" (MatMul)"));
  EXPECT_THAT(fn.status().message(), HasSubstr("In[0]: [?,64], In[1]: [65,10]"));
  // A feed whose declared shape cannot fit the first layer fails too.
  auto wrong_feed = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                                      {.feeds = {"x"}, .fetches = {"h"}, .feed_shapes = {{kQ, 100}}});
  ASSERT_FALSE(wrong_feed.ok());
  EXPECT_THAT(wrong_feed.status().message(), HasSubstr("node \"h\" (MatMul)"));
}

}  // namespace
}  // namespace savant::engine
