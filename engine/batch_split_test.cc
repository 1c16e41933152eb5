// Batch splitting: which ops are row-wise (from TensorFlow's definitions of the ops, per attr), and
// Function runs that split a batch into slices, checked against hand-computed results and against
// the same function run whole.
#include "engine/batch_split.h"

#include <atomic>
#include <cmath>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "engine/function.h"
#include "engine/tensor_proto.h"

namespace savant::engine {
namespace {

using ::testing::ElementsAre;
constexpr RowClass kRows = RowClass::kRows;
constexpr RowClass kConst = RowClass::kConstant;
constexpr RowClass kOther = RowClass::kOther;

Tensor Ints(std::vector<int32_t> v) {
  return Tensor::FromVector<int32_t>(DataType::kInt32, Shape{static_cast<int64_t>(v.size())}, v);
}

// One node's classification: inputs as (class, static shape, constant value or invalid).
struct Input {
  RowClass row_class;
  PartialShape shape;
  Tensor value = Tensor();
};

class Classify {
 public:
  explicit Classify(std::string op) { node_.op = std::move(op); }
  Classify& Attr(const std::string& key, int64_t v) {
    node_.attrs[key].set_i(v);
    return *this;
  }
  Classify& Attr(const std::string& key, bool v) {
    node_.attrs[key].set_b(v);
    return *this;
  }
  Classify& Attr(const std::string& key, std::vector<int64_t> v) {
    for (int64_t x : v) node_.attrs[key].mutable_list()->add_i(x);
    return *this;
  }
  Classify& Attr(const std::string& key, const std::string& v) {
    node_.attrs[key].set_s(v);
    return *this;
  }
  // Input scales, and where to put the output scale.
  Classify& Scaled(std::vector<int64_t> scales, int64_t* out = nullptr) {
    scales_ = std::move(scales);
    out_scale_ = out;
    return *this;
  }
  std::vector<RowClass> operator()(std::vector<Input> inputs, std::vector<PartialShape> outputs) const {
    std::vector<RowClass> classes;
    std::vector<PartialShape> shapes;
    std::vector<const Tensor*> constants;
    for (const Input& in : inputs) {
      classes.push_back(in.row_class);
      shapes.push_back(in.shape);
    }
    for (const Input& in : inputs) constants.push_back(in.value.valid() ? &in.value : nullptr);
    return ClassifyRows(node_, classes, shapes, constants, outputs, scales_, out_scale_);
  }

 private:
  Node node_;
  std::vector<int64_t> scales_;
  int64_t* out_scale_ = nullptr;
};

Input Rows(PartialShape shape) { return {kRows, std::move(shape)}; }
Input Const(Tensor t) { return {kConst, PartialShape(t.shape()), t}; }
Input ConstShape(PartialShape shape) { return {kConst, std::move(shape)}; }

TEST(ClassifyRowsTest, ElementwiseOpsAreRowWiseWhenConstantsBroadcastAlongTheBatch) {
  EXPECT_THAT(Classify("Relu")({Rows({-1, 3})}, {{-1, 3}}), ElementsAre(kRows));
  // [?,3] + [3] and + [1,3] broadcast the constant to every row; + [2,3] only fits a batch of 2.
  EXPECT_THAT(Classify("AddV2")({Rows({-1, 3}), ConstShape({3})}, {{-1, 3}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("AddV2")({Rows({-1, 3}), ConstShape({1, 3})}, {{-1, 3}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("AddV2")({Rows({-1, 3}), ConstShape({2, 3})}, {{2, 3}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("Mul")({Rows({-1, 3}), Rows({-1, 3})}, {{-1, 3}}), ElementsAre(kRows));
  // [?,3] * [?] would broadcast rows against columns.
  EXPECT_THAT(Classify("Mul")({Rows({-1, 3}), Rows({-1})}, {{-1, 3}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("BiasAdd")({Rows({-1, 4, 4, 8}), ConstShape({8})}, {{-1, 4, 4, 8}}),
              ElementsAre(kRows));
  // Only constants, or anything not row-wise among the inputs: not row-wise.
  EXPECT_THAT(Classify("AddV2")({ConstShape({3}), ConstShape({3})}, {{3}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("AddV2")({Rows({-1, 3}), {kOther, PartialShape({3})}}, {{-1, 3}}),
              ElementsAre(kOther));
}

TEST(ClassifyRowsTest, SoftmaxNeedsARowToNormalise) {
  EXPECT_THAT(Classify("Softmax")({Rows({-1, 10})}, {{-1, 10}}), ElementsAre(kRows));
  // Softmax of a rank-1 tensor normalises across the batch.
  EXPECT_THAT(Classify("Softmax")({Rows({-1})}, {{-1}}), ElementsAre(kOther));
}

TEST(ClassifyRowsTest, ReductionsMustNotReduceTheBatchAxis) {
  EXPECT_THAT(Classify("Mean")({Rows({-1, 4, 4, 8}), Const(Ints({1, 2}))}, {{-1, 8}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("Sum")({Rows({-1, 4, 8}), Const(Ints({-1}))}, {{-1, 4}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("Mean")({Rows({-1, 4, 8}), Const(Ints({0}))}, {{4, 8}}), ElementsAre(kOther));
  // -3 of a rank-3 tensor is axis 0.
  EXPECT_THAT(Classify("Max")({Rows({-1, 4, 8}), Const(Ints({-3, 1}))}, {{8}}), ElementsAre(kOther));
  // Axes known only at run time.
  EXPECT_THAT(Classify("Mean")({Rows({-1, 4, 8}), Rows({-1})}, {PartialShape::UnknownRank()}),
              ElementsAre(kOther));
}

TEST(ClassifyRowsTest, ReshapeToMinusOneKeepsEachBatchRowsElementsTogether) {
  int64_t scale = 0;
  // Keras Flatten: [?,2,2,3] -> [-1, 12], one row per image.
  EXPECT_THAT(Classify("Reshape").Scaled({1}, &scale)({Rows({-1, 2, 2, 3}), Const(Ints({-1, 12}))}, {{-1, 12}}),
              ElementsAre(kRows));
  EXPECT_EQ(scale, 1);
  // [-1, 6]: each image's 12 elements become rows 2i and 2i+1 (row-major order is kept).
  EXPECT_THAT(Classify("Reshape").Scaled({1}, &scale)({Rows({-1, 2, 2, 3}), Const(Ints({-1, 6}))}, {{-1, 6}}),
              ElementsAre(kRows));
  EXPECT_EQ(scale, 2);
  // Keras Dense on a sequence: [?,128,256] -> [-1,256] (128 rows per sequence), and back from
  // [-1, 64] rows of scale 128 to [-1, 128, 64].
  EXPECT_THAT(Classify("Reshape").Scaled({1}, &scale)({Rows({-1, 128, 256}), Const(Ints({-1, 256}))}, {{-1, 256}}),
              ElementsAre(kRows));
  EXPECT_EQ(scale, 128);
  EXPECT_THAT(Classify("Reshape").Scaled({128}, &scale)({Rows({-1, 64}), Const(Ints({-1, 128, 64}))}, {{-1, 128, 64}}),
              ElementsAre(kRows));
  EXPECT_EQ(scale, 1);
  // 12 elements into rows of 5 or 24 would mix images; [4, -1] regroups the batch.
  EXPECT_THAT(Classify("Reshape")({Rows({-1, 2, 2, 3}), Const(Ints({-1, 5}))}, {{-1, 5}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("Reshape")({Rows({-1, 2, 2, 3}), Const(Ints({-1, 24}))}, {{-1, 24}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("Reshape")({Rows({-1, 2, 2, 3}), Const(Ints({4, -1}))}, {{4, -1}}),
              ElementsAre(kOther));
  // Row size unknown statically.
  EXPECT_THAT(Classify("Reshape")({Rows({-1, -1, 3}), Const(Ints({-1, 12}))}, {{-1, 12}}),
              ElementsAre(kOther));
}

TEST(ClassifyRowsTest, RowsOfDifferentScalesDoNotMix) {
  int64_t scale = 0;
  EXPECT_THAT(Classify("MatMul").Scaled({128, 1}, &scale)({Rows({-1, 256}), ConstShape({256, 64})}, {{-1, 64}}),
              ElementsAre(kRows));
  EXPECT_EQ(scale, 128);
  // [B*128, 64] + [B, 64]: row i of one is not row i of the other.
  EXPECT_THAT(Classify("AddV2").Scaled({128, 1})({Rows({-1, 64}), Rows({-1, 64})}, {{-1, 64}}),
              ElementsAre(kOther));
}

TEST(ClassifyRowsTest, EinsumWhoseOutputLeadsWithTheBatchLabel) {
  auto einsum = [](const std::string& equation) {
    Classify c("Einsum");
    return c.Attr("equation", equation);
  };
  // Keras EinsumDense on a sequence, and MultiHeadAttention's two products (both operands rows).
  EXPECT_THAT(einsum("abc,cde->abde")({Rows({-1, 8, 16}), ConstShape({16, 4, 2})}, {{-1, 8, 4, 2}}),
              ElementsAre(kRows));
  EXPECT_THAT(einsum("aecd,abcd->acbe")({Rows({-1, 8, 4, 2}), Rows({-1, 8, 4, 2})}, {{-1, 4, 8, 8}}),
              ElementsAre(kRows));
  // The batch label summed over, or inside a weight, or not leading the output or an input.
  EXPECT_THAT(einsum("abc,abd->cd")({Rows({-1, 8, 16}), Rows({-1, 8, 4})}, {{16, 4}}), ElementsAre(kOther));
  EXPECT_THAT(einsum("abc,ac->ab")({Rows({-1, 8, 16}), ConstShape({5, 16})}, {{-1, 8}}), ElementsAre(kOther));
  EXPECT_THAT(einsum("abc,cd->bad")({Rows({-1, 8, 16}), ConstShape({16, 4})}, {{8, -1, 4}}), ElementsAre(kOther));
  EXPECT_THAT(einsum("bac,cd->abd")({Rows({-1, 8, 16}), ConstShape({16, 4})}, {{8, -1, 4}}), ElementsAre(kOther));
  EXPECT_THAT(einsum("...c,cd->...d")({Rows({-1, 8, 16}), ConstShape({16, 4})}, {{-1, 8, 4}}), ElementsAre(kOther));
}

TEST(ClassifyRowsTest, BatchMatMulOverLeadingBatchDims) {
  EXPECT_THAT(Classify("BatchMatMulV2")({Rows({-1, 4, 8}), ConstShape({8, 16})}, {{-1, 4, 16}}),
              ElementsAre(kRows));
  EXPECT_THAT(Classify("BatchMatMulV2")({Rows({-1, 4, 8}), Rows({-1, 8, 16})}, {{-1, 4, 16}}),
              ElementsAre(kRows));
  // A weight with its own leading dim of 3 only broadcasts against a batch of 3.
  EXPECT_THAT(Classify("BatchMatMulV2")({Rows({-1, 4, 8}), ConstShape({3, 8, 16})}, {{3, 4, 16}}),
              ElementsAre(kOther));
}

TEST(ClassifyRowsTest, MatMulIsRowWiseForRowsTimesWeights) {
  EXPECT_THAT(Classify("MatMul")({Rows({-1, 8}), ConstShape({8, 4})}, {{-1, 4}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("MatMul").Attr("transpose_a", true)({Rows({8, -1}), ConstShape({8, 4})}, {{-1, 4}}),
              ElementsAre(kOther));
  EXPECT_THAT(Classify("MatMul")({ConstShape({4, 8}), Rows({8, -1})}, {{4, -1}}), ElementsAre(kOther));
}

TEST(ClassifyRowsTest, ConvolutionsAndBatchNormInInference) {
  EXPECT_THAT(Classify("Conv2D")({Rows({-1, 8, 8, 3}), ConstShape({3, 3, 3, 16})}, {{-1, 8, 8, 16}}),
              ElementsAre(kRows));
  // A filter computed from the batch.
  EXPECT_THAT(Classify("Conv2D")({Rows({-1, 8, 8, 3}), Rows({3, 3, 3, 16})}, {{-1, 8, 8, 16}}),
              ElementsAre(kOther));
  const std::vector<Input> bn = {Rows({-1, 4, 4, 8}), ConstShape({8}), ConstShape({8}), ConstShape({8}),
                                 ConstShape({8})};
  const std::vector<PartialShape> bn_out = {{-1, 4, 4, 8}, {8}, {8}, {8}, {8}, {8}};
  EXPECT_THAT(Classify("FusedBatchNormV3").Attr("is_training", false)(bn, bn_out),
              ElementsAre(kRows, kOther, kOther, kOther, kOther, kOther));
  // Training mode (TensorFlow's default) normalises with the batch's own statistics.
  EXPECT_THAT(Classify("FusedBatchNormV3")(bn, bn_out),
              ElementsAre(kOther, kOther, kOther, kOther, kOther, kOther));
}

TEST(ClassifyRowsTest, DataMovementThatLeavesTheBatchAxisAlone) {
  EXPECT_THAT(Classify("ConcatV2")({Rows({-1, 3}), Rows({-1, 5}), Const(Ints({-1}))}, {{-1, 8}}),
              ElementsAre(kRows));
  EXPECT_THAT(Classify("ConcatV2")({Rows({-1, 3}), Rows({-1, 3}), Const(Ints({0}))}, {{-1, 3}}),
              ElementsAre(kOther));
  EXPECT_THAT(Classify("Transpose")({Rows({-1, 4, 8}), Const(Ints({0, 2, 1}))}, {{-1, 8, 4}}),
              ElementsAre(kRows));
  EXPECT_THAT(Classify("Transpose")({Rows({-1, 4, 8}), Const(Ints({1, 0, 2}))}, {{4, -1, 8}}),
              ElementsAre(kOther));
  const Tensor pad_cols = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2, 2}, {0, 0, 1, 1});
  const Tensor pad_rows = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2, 2}, {1, 0, 0, 0});
  EXPECT_THAT(Classify("Pad")({Rows({-1, 3}), Const(pad_cols)}, {{-1, 5}}), ElementsAre(kRows));
  EXPECT_THAT(Classify("Pad")({Rows({-1, 3}), Const(pad_rows)}, {{-1, 3}}), ElementsAre(kOther));
  // x[:, 1:3] keeps every row; x[1:] drops one; x[0] takes one.
  const std::vector<Input> slice = {Rows({-1, 4}), Const(Ints({0, 1})), Const(Ints({0, 3})),
                                    Const(Ints({1, 1}))};
  EXPECT_THAT(Classify("StridedSlice").Attr("begin_mask", int64_t{1}).Attr("end_mask", int64_t{1})(slice, {{-1, 2}}),
              ElementsAre(kRows));
  EXPECT_THAT(Classify("StridedSlice").Attr("end_mask", int64_t{1})(slice, {{-1, 2}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("StridedSlice")
                  .Attr("begin_mask", int64_t{1})
                  .Attr("end_mask", int64_t{1})
                  .Attr("shrink_axis_mask", int64_t{1})(slice, {{2}}),
              ElementsAre(kOther));
  EXPECT_THAT(Classify("ExpandDims")({Rows({-1, 3}), Const(Ints({-1}))}, {{-1, 3, 1}}), ElementsAre(kRows));
  // -3 of a rank-2 input inserts before the batch axis.
  EXPECT_THAT(Classify("ExpandDims")({Rows({-1, 3}), Const(Ints({-3}))}, {{1, -1, 3}}), ElementsAre(kOther));
  EXPECT_THAT(Classify("Squeeze").Attr("squeeze_dims", std::vector<int64_t>{2})({Rows({-1, 3, 1})}, {{-1, 3}}),
              ElementsAre(kRows));
  // No squeeze_dims: a batch of one would lose its batch axis.
  EXPECT_THAT(Classify("Squeeze")({Rows({-1, 3, 1})}, {PartialShape::UnknownRank()}), ElementsAre(kOther));
  // An embedding lookup: token ids (rows) into a constant table.
  EXPECT_THAT(Classify("GatherV2")({ConstShape({100, 8}), Rows({-1, 5}), Const(Ints({0}))}, {{-1, 5, 8}}),
              ElementsAre(kRows));
  EXPECT_THAT(Classify("GatherV2")({Rows({-1, 8}), ConstShape({5}), Const(Ints({0}))}, {{5, 8}}),
              ElementsAre(kOther));
  // The batch size itself.
  EXPECT_THAT(Classify("Shape")({Rows({-1, 3})}, {{2}}), ElementsAre(kOther));
}

// --- Function runs ---

tensorflow::NodeDef& AddNode(tensorflow::GraphDef& g, const std::string& name, const std::string& op,
                             std::vector<std::string> inputs, bool typed = true) {
  tensorflow::NodeDef& n = *g.add_node();
  n.set_name(name);
  n.set_op(op);
  for (const auto& in : inputs) n.add_input(in);
  if (typed) (*n.mutable_attr())["T"].set_type(tensorflow::DT_FLOAT);
  return n;
}

void AddConst(tensorflow::GraphDef& g, const std::string& name, const Tensor& value) {
  tensorflow::NodeDef& n = AddNode(g, name, "Const", {}, false);
  (*n.mutable_attr())["dtype"].set_type(value.dtype() == DataType::kFloat ? tensorflow::DT_FLOAT
                                                                          : tensorflow::DT_INT32);
  TensorToProto(value, (*n.mutable_attr())["value"].mutable_tensor());
}

void SetInts(tensorflow::NodeDef& n, const std::string& key, std::vector<int64_t> v) {
  for (int64_t x : v) (*n.mutable_attr())[key].mutable_list()->add_i(x);
}

constexpr int kH = 3, kW = 3, kC = 2, kF = 3, kOut = 2;
// 1x1 convolution weights [1,1,kC,kF] and the head's [kF,kOut]: small exact binary fractions.
const std::vector<float> kFilter = {0.5f, -1.0f, 0.25f, 1.5f, 0.75f, -0.5f};
const std::vector<float> kHead = {1.0f, 0.5f, -0.25f, 2.0f, 0.125f, -1.0f};

// y = MatMul(Mean(Relu(Conv2D_1x1(x, filter)), [1, 2]), head), x: [?, 3, 3, 2]. With
// `shape_reshape`, the Relu output also passes through Reshape(r, Shape(r)), whose Shape depends
// on the batch.
std::shared_ptr<const Graph> ConvHeadGraph(bool shape_reshape = false) {
  tensorflow::GraphDef g;
  tensorflow::NodeDef& x = AddNode(g, "x", "Placeholder", {}, false);
  (*x.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  AddConst(g, "filter", Tensor::FromVector<float>(DataType::kFloat, Shape{1, 1, kC, kF}, kFilter));
  AddConst(g, "head", Tensor::FromVector<float>(DataType::kFloat, Shape{kF, kOut}, kHead));
  AddConst(g, "axes", Ints({1, 2}));
  tensorflow::NodeDef& conv = AddNode(g, "conv", "Conv2D", {"x", "filter"});
  SetInts(conv, "strides", {1, 1, 1, 1});
  (*conv.mutable_attr())["padding"].set_s("VALID");
  AddNode(g, "relu", "Relu", {"conv"});
  std::string pooled_input = "relu";
  if (shape_reshape) {
    tensorflow::NodeDef& shape = AddNode(g, "shape", "Shape", {"relu"});
    (*shape.mutable_attr())["out_type"].set_type(tensorflow::DT_INT32);
    AddNode(g, "reshaped", "Reshape", {"relu", "shape"});
    pooled_input = "reshaped";
  }
  tensorflow::NodeDef& mean = AddNode(g, "mean", "Mean", {pooled_input, "axes"});
  (*mean.mutable_attr())["Tidx"].set_type(tensorflow::DT_INT32);
  AddNode(g, "y", "MatMul", {"mean", "head"});
  auto graph = Graph::Import(g, nullptr);
  EXPECT_TRUE(graph.ok()) << graph.status();
  return *graph;
}

Tensor Images(int64_t batch, int64_t channels = kC, int64_t h = kH, int64_t w = kW) {
  std::vector<float> v;
  for (int64_t i = 0; i < batch * h * w * channels; ++i) v.push_back(static_cast<float>((i * 7) % 11) - 4.0f);
  return Tensor::FromVector<float>(DataType::kFloat, Shape{batch, h, w, channels}, v);
}

// The graph's math written out in doubles.
std::vector<double> Expected(const Tensor& x) {
  const auto in = x.flat<float>();
  const int64_t pixels = x.dim(1) * x.dim(2);
  std::vector<double> y;
  for (int64_t b = 0; b < x.dim(0); ++b) {
    double mean[kF] = {0, 0, 0};
    for (int64_t p = 0; p < pixels; ++p) {
      for (int f = 0; f < kF; ++f) {
        double s = 0;
        for (int c = 0; c < kC; ++c) s += in[(b * pixels + p) * kC + c] * double{kFilter[c * kF + f]};
        mean[f] += std::max(0.0, s) / static_cast<double>(pixels);
      }
    }
    for (int o = 0; o < kOut; ++o) {
      double s = 0;
      for (int f = 0; f < kF; ++f) s += mean[f] * kHead[f * kOut + o];
      y.push_back(s);
    }
  }
  return y;
}

using Split = FunctionSpec::BatchSplit;

std::unique_ptr<Function> Compile(std::shared_ptr<const Graph> graph, Split split, int64_t rows,
                                  ThreadPool& pool, std::vector<std::string> fetches = {"y"}) {
  auto fn = Function::Compile(graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"},
                               .fetches = std::move(fetches),
                               .inter_op = FunctionSpec::InterOp::kNever,
                               .feed_shapes = {PartialShape{-1, kH, kW, kC}},
                               .batch_split = split,
                               .batch_split_rows = rows},
                              OpRegistry::Global(), pool);
  EXPECT_TRUE(fn.ok()) << fn.status();
  return fn.ok() ? *std::move(fn) : nullptr;
}

void ExpectMatches(const Tensor& y, const Tensor& x) {
  ASSERT_EQ(y.shape(), (Shape{x.dim(0), kOut}));
  const std::vector<double> want = Expected(x);
  const auto got = y.flat<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
}

TEST(BatchSplitTest, SlicesOfThreeRowsGiveTheWholeBatchResult) {
  ThreadPool pool(2);
  auto split = Compile(ConvHeadGraph(), Split::kAlways, 3, pool);
  auto whole = Compile(ConvHeadGraph(), Split::kNever, 0, pool);
  ASSERT_TRUE(split && whole);
  EXPECT_EQ(split->split_steps(), 4);  // Conv2D, Relu, Mean, MatMul
  EXPECT_EQ(split->split_rows(), 3);
  EXPECT_EQ(whole->split_steps(), 0);
  // 8 rows: slices of 3, 3 and 2. Each image row is 72 bytes, so slices start unaligned (copied).
  // Batches of 1-3 run whole.
  for (int64_t batch : {1, 3, 4, 8, 13}) {
    std::vector<Tensor> a, b;
    const Tensor x = Images(batch);
    ASSERT_TRUE(split->Run(std::span<const Tensor>(&x, 1), &a).ok());
    ASSERT_TRUE(whole->Run(std::span<const Tensor>(&x, 1), &b).ok());
    // Not necessarily bit-identical: a GEMM over 3 rows may sum in another order than over 8.
    ExpectMatches(a[0], x);
    ExpectMatches(b[0], x);
  }
}

TEST(BatchSplitTest, ValuesReadAfterTheSplitStepsComeBackWhole) {
  ThreadPool pool(2);
  // Shape(relu) depends on the batch: the split stops before it and the rest runs on the whole
  // Relu output, which also is a fetch.
  auto fn = Compile(ConvHeadGraph(/*shape_reshape=*/true), Split::kAlways, 2, pool, {"y", "relu"});
  ASSERT_TRUE(fn);
  EXPECT_EQ(fn->split_steps(), 2);  // Conv2D, Relu
  const Tensor x = Images(5);
  std::vector<Tensor> out;
  ASSERT_TRUE(fn->Run(std::span<const Tensor>(&x, 1), &out).ok());
  ExpectMatches(out[0], x);
  ASSERT_EQ(out[1].shape(), (Shape{5, kH, kW, kF}));
  // relu[4, 2, 1, 0] by hand: pixel (2,1) of image 4 is element 4*9 + 7 = 43, channels 86, 87.
  const auto in = x.flat<float>();
  const float want = std::max(0.0f, in[86] * kFilter[0] + in[87] * kFilter[3]);
  EXPECT_FLOAT_EQ(out[1].flat<float>()[((4 * kH + 2) * kW + 1) * kF + 0], want);
}

TEST(BatchSplitTest, FeedsThatDoNotFitTheStaticShapesRunWhole) {
  ThreadPool pool(2);
  auto fn = Compile(ConvHeadGraph(), Split::kAlways, 2, pool);
  // Declared [?, 3, 3, 2]; 5x4 images still fit every op of the graph, whole.
  const Tensor x = Images(6, kC, 5, 4);
  std::vector<Tensor> out;
  ASSERT_TRUE(fn->Run(std::span<const Tensor>(&x, 1), &out).ok());
  ExpectMatches(out[0], x);
}

TEST(BatchSplitTest, SequenceRowsThroughADenseLayerComeBackInOrder) {
  ThreadPool pool(2);
  // Keras Dense on [?, 3, 4]: Reshape to [-1, 4] (3 rows per sequence), MatMul by [4, 2], Reshape
  // back to [-1, 3, 2]. The MatMul's [batch * 3, 2] output is fetched too: its slices of 3 rows
  // per sequence must be concatenated in order.
  tensorflow::GraphDef g;
  tensorflow::NodeDef& x = AddNode(g, "x", "Placeholder", {}, false);
  (*x.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  const std::vector<float> w = {1, -1, 0.5f, 2, -0.25f, 0, 3, 0.125f};
  AddConst(g, "w", Tensor::FromVector<float>(DataType::kFloat, Shape{4, 2}, w));
  AddConst(g, "flat", Ints({-1, 4}));
  AddConst(g, "back", Ints({-1, 3, 2}));
  AddNode(g, "rows", "Reshape", {"x", "flat"});
  AddNode(g, "product", "MatMul", {"rows", "w"});
  AddNode(g, "y", "Reshape", {"product", "back"});
  auto graph = Graph::Import(g, nullptr);
  ASSERT_TRUE(graph.ok());
  auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"y", "product"},
                               .inter_op = FunctionSpec::InterOp::kNever,
                               .feed_shapes = {PartialShape{-1, 3, 4}},
                               .batch_split = Split::kAlways, .batch_split_rows = 2},
                              OpRegistry::Global(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ((*fn)->split_steps(), 3);
  std::vector<float> in;
  for (int i = 0; i < 5 * 12; ++i) in.push_back(static_cast<float>(i % 7) - 3);
  const std::vector<Tensor> feeds = {Tensor::FromVector<float>(DataType::kFloat, Shape{5, 3, 4}, in)};
  std::vector<Tensor> out;
  ASSERT_TRUE((*fn)->Run(feeds, &out).ok());
  ASSERT_EQ(out[0].shape(), (Shape{5, 3, 2}));
  ASSERT_EQ(out[1].shape(), (Shape{15, 2}));
  for (int r = 0; r < 15; ++r) {
    for (int j = 0; j < 2; ++j) {
      float want = 0;
      for (int k = 0; k < 4; ++k) want += in[r * 4 + k] * w[k * 2 + j];
      EXPECT_FLOAT_EQ(out[0].flat<float>()[r * 2 + j], want) << r << "," << j;
      EXPECT_FLOAT_EQ(out[1].flat<float>()[r * 2 + j], want) << r << "," << j;
    }
  }
}

TEST(BatchSplitTest, ErrorsReadAsTheyWouldWithoutSplitting) {
  ThreadPool pool(2);
  auto split = Compile(ConvHeadGraph(), Split::kAlways, 2, pool);
  auto whole = Compile(ConvHeadGraph(), Split::kNever, 0, pool);
  // Depth 5 does not fit the filter's depth 2; the error names the whole batch's shape.
  const Tensor x = Images(6, 5);
  std::vector<Tensor> a, b;
  absl::Status sa = split->Run(std::span<const Tensor>(&x, 1), &a), sb = whole->Run(std::span<const Tensor>(&x, 1), &b);
  EXPECT_FALSE(sa.ok());
  EXPECT_EQ(sa, sb);
}

TEST(BatchSplitTest, ConcurrentRunsShareTheFunction) {
  ThreadPool pool(2);
  auto fn = Compile(ConvHeadGraph(), Split::kAlways, 1, pool);
  ASSERT_TRUE(fn);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const Tensor x = Images(2 + (t + i) % 7);
        std::vector<Tensor> out;
        if (!fn->Run(std::span<const Tensor>(&x, 1), &out).ok()) {
          bad++;
          continue;
        }
        const std::vector<double> want = Expected(x);
        for (size_t k = 0; k < want.size(); ++k) {
          if (std::abs(out[0].flat<float>()[k] - want[k]) > 1e-5) bad++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// x: [?, 64, 64, 16] -> Conv2D 3x3 SAME (every weight 0.01) -> 32 channels -> Mean over the
// image -> Dense 32 -> 8192 (every weight 0.5: 1 MiB).
std::shared_ptr<const Graph> BigConvGraph() {
  tensorflow::GraphDef g;
  tensorflow::NodeDef& x = AddNode(g, "x", "Placeholder", {}, false);
  (*x.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  AddConst(g, "filter", Tensor::FromVector<float>(DataType::kFloat, Shape{3, 3, 16, 32},
                                                  std::vector<float>(3 * 3 * 16 * 32, 0.01f)));
  tensorflow::NodeDef& conv = AddNode(g, "conv", "Conv2D", {"x", "filter"});
  SetInts(conv, "strides", {1, 1, 1, 1});
  (*conv.mutable_attr())["padding"].set_s("SAME");
  AddConst(g, "axes", Ints({1, 2}));
  tensorflow::NodeDef& mean = AddNode(g, "mean", "Mean", {"conv", "axes"});
  (*mean.mutable_attr())["Tidx"].set_type(tensorflow::DT_INT32);
  AddConst(g, "kernel", Tensor::FromVector<float>(DataType::kFloat, Shape{32, 8192},
                                                  std::vector<float>(32 * 8192, 0.5f)));
  AddNode(g, "y", "MatMul", {"mean", "kernel"});
  auto graph = Graph::Import(g, nullptr);
  EXPECT_TRUE(graph.ok()) << graph.status();
  return *graph;
}

TEST(BatchSplitTest, AutoSizesSlicesToL2AndStopsBeforeHeavyWeights) {
  ThreadPool pool(2);
  // The Dense layer's 1 MiB of weights outweigh a slice's 128 floats of its input, and multiply
  // one row per image: only the convolution and the Mean split.
  auto fn = Function::Compile(BigConvGraph(), std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"y"}, .feed_shapes = {PartialShape{-1, 64, 64, 16}}},
                              OpRegistry::Global(), pool);
  ASSERT_TRUE(fn.ok()) << fn.status();
  // The convolution's row: 64*64*16 + 64*64*32 floats = 786432 bytes.
  const int64_t conv_row = 786432;
  const int64_t rows = std::max<int64_t>(1, L2CacheBytes() / conv_row);
  EXPECT_EQ((*fn)->split_rows(), rows);
  EXPECT_EQ((*fn)->split_steps(), 2);
  // Whole batches up to what the threads' share of the last-level cache holds.
  EXPECT_EQ((*fn)->split_min_batch(), std::max(rows + 1, pool.parallelism() * LastLevelCacheBytesPerThread() / conv_row + 1));
  // A batch that splits: image b holds (i % 5) + b at element i. Each convolution output is 0.01
  // times the sum of its zero-padded 3x3x16 window; the Mean averages them per channel; each
  // Dense output sums the 32 channel means times 0.5: y[b, j] = 0.16 * (sum of window sums) / 4096.
  const int64_t batch = (*fn)->split_min_batch();
  std::vector<float> pixels;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < 64 * 64 * 16; ++i) pixels.push_back(static_cast<float>(i % 5 + b));
  }
  const std::vector<Tensor> x = {Tensor::FromVector<float>(DataType::kFloat, Shape{batch, 64, 64, 16}, pixels)};
  std::vector<Tensor> y;
  ASSERT_TRUE((*fn)->Run(x, &y).ok());
  ASSERT_EQ(y[0].shape(), (Shape{batch, 8192}));
  for (int64_t b = 0; b < batch; ++b) {
    double windows = 0;
    for (int h = 0; h < 64; ++h) {
      for (int w = 0; w < 64; ++w) {
        for (int dh = -1; dh <= 1; ++dh) {
          for (int dw = -1; dw <= 1; ++dw) {
            if (h + dh < 0 || h + dh >= 64 || w + dw < 0 || w + dw >= 64) continue;
            for (int c = 0; c < 16; ++c) windows += pixels[b * 65536 + ((h + dh) * 64 + (w + dw)) * 16 + c];
          }
        }
      }
    }
    const double want = 0.16 * windows / 4096;
    // A slice from the wrong image would be off by tens of percent.
    for (int j = 0; j < 8192; j += 1001) {
      EXPECT_NEAR(y[0].flat<float>()[b * 8192 + j], want, 1e-5 * want) << b << "," << j;
    }
  }
}

TEST(BatchSplitTest, DenseLayersSplitOnlyBatchesBeyondTheCache) {
  ThreadPool pool(2);
  // A Dense layer straight on the input: 4 MiB of weights against rows of 8 KiB (input and
  // output). Slices of L2 / 8 KiB rows still multiply enough rows per weight to stay
  // compute-bound, but only batches whose rows overflow the threads' cache share split.
  tensorflow::GraphDef g;
  tensorflow::NodeDef& x = AddNode(g, "x", "Placeholder", {}, false);
  (*x.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  AddConst(g, "kernel", Tensor::FromVector<float>(DataType::kFloat, Shape{1024, 1024},
                                                  std::vector<float>(1024 * 1024, 0.5f)));
  AddNode(g, "y", "MatMul", {"x", "kernel"});
  AddNode(g, "z", "Relu", {"y"});
  auto graph = Graph::Import(g, nullptr);
  ASSERT_TRUE(graph.ok());
  auto fn = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                              {.feeds = {"x"}, .fetches = {"z"}, .feed_shapes = {PartialShape{-1, 1024}}},
                              OpRegistry::Global(), pool);
  ASSERT_TRUE(fn.ok());
  const int64_t row = 2 * 1024 * 4;
  EXPECT_EQ((*fn)->split_steps(), 2);
  EXPECT_EQ((*fn)->split_rows(), L2CacheBytes() / row);
  EXPECT_EQ((*fn)->split_min_batch(),
            std::max((*fn)->split_rows() + 1, pool.parallelism() * LastLevelCacheBytesPerThread() / row + 1));
  // Element-wise steps alone (no expensive step) do not split.
  auto relu = Function::Compile(*graph, std::make_shared<ResourceManager>(),
                                {.feeds = {"y"}, .fetches = {"z"}, .feed_shapes = {PartialShape{-1, 1024}}},
                                OpRegistry::Global(), pool);
  ASSERT_TRUE(relu.ok());
  EXPECT_EQ((*relu)->split_steps(), 0);
}

}  // namespace
}  // namespace savant::engine
