#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"
#include "tests/util/fixtures.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeStrings;
using testing::MakeTensor;
using testing::OpTest;

// Runs a stateless op on `inputs` and returns output 0 (or the error).
absl::StatusOr<Tensor> Run1(OpTest& t) {
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// ---- Const / Placeholder / forwarding ----

TEST(ArrayOpsTest, ConstDecodesOnceAndSharesItsBuffer) {
  OpTest t("Const");
  t.TypeAttr("dtype", DataType::kFloat).TensorAttr("value", MakeTensor<float>({2}, {1.5f, 2}));
  auto first = t.Run();
  auto second = t.Run();
  ASSERT_TRUE(first.ok() && second.ok());
  ExpectTensor<float>((*first)[0], Shape{2}, {1.5f, 2});
  EXPECT_TRUE((*first)[0].SharesBufferWith((*second)[0]));
}

TEST(ArrayOpsTest, ConstSplatsAndStrings) {
  tensorflow::AttrValue value;
  auto* p = value.mutable_tensor();
  p->set_dtype(tensorflow::DT_INT32);
  p->mutable_tensor_shape()->add_dim()->set_size(3);
  p->add_int_val(7);
  OpTest t("Const");
  t.TypeAttr("dtype", DataType::kInt32).Attr("value", value);
  auto out = Run1(t);
  ASSERT_TRUE(out.ok());
  ExpectTensor<int32_t>(*out, Shape{3}, {7, 7, 7});

  OpTest s("Const");
  s.TypeAttr("dtype", DataType::kString).TensorAttr("value", MakeStrings({2}, {"x", "x2"}));
  auto strings = Run1(s);
  ASSERT_TRUE(strings.ok());
  ExpectTensor<std::string>(*strings, Shape{2}, {"x", "x2"});
}

TEST(ArrayOpsTest, ConstErrorsFailAtLoad) {
  OpTest mismatch("Const");
  mismatch.TypeAttr("dtype", DataType::kInt32).TensorAttr("value", MakeScalar<float>(1));
  ExpectError(mismatch.Build(), absl::StatusCode::kInvalidArgument,
              "Type mismatch between value (float) and dtype (int32)");
  OpTest missing("Const");
  ExpectError(missing.Build(), absl::StatusCode::kInvalidArgument, "\"value\"");
  tensorflow::AttrValue bad;
  bad.mutable_tensor()->set_dtype(tensorflow::DT_FLOAT);
  bad.mutable_tensor()->mutable_tensor_shape()->add_dim()->set_size(2);
  bad.mutable_tensor()->set_tensor_content("abc");
  OpTest malformed("Const");
  malformed.Attr("value", bad);
  ExpectError(malformed.Build(), absl::StatusCode::kInvalidArgument,
              "attr \"value\": TensorProto DT_FLOAT [2]: tensor_content has 3 bytes");
}

TEST(ArrayOpsTest, PlaceholderMessagesMatchTensorFlow) {
  OpTest shaped("Placeholder", "x");
  shaped.TypeAttr("dtype", DataType::kFloat).ShapeAttr("shape", PartialShape{-1, 1});
  ExpectError(shaped.Run().status(), absl::StatusCode::kInvalidArgument,
              "You must feed a value for placeholder tensor 'x' with dtype float and shape [?,1]");
  OpTest unknown("Placeholder", "tf_example");
  unknown.TypeAttr("dtype", DataType::kString).ShapeAttr("shape", PartialShape::UnknownRank());
  auto s = unknown.Run().status();
  EXPECT_EQ(s.message(),
            "You must feed a value for placeholder tensor 'tf_example' with dtype string");
  OpTest scalar("Placeholder", "s");
  scalar.TypeAttr("dtype", DataType::kInt64).ShapeAttr("shape", PartialShape(Shape{}));
  EXPECT_EQ(scalar.Run().status().message(),
            "You must feed a value for placeholder tensor 's' with dtype int64");
}

TEST(ArrayOpsTest, ForwardingOpsShareTheInputBuffer) {
  const Tensor x = MakeTensor<float>({2}, {1, 2});
  for (const char* op : {"Identity", "Snapshot", "StopGradient", "PlaceholderWithDefault"}) {
    OpTest t(op);
    t.TypeAttr("T", DataType::kFloat).Input(x);
    auto out = Run1(t);
    ASSERT_TRUE(out.ok()) << op;
    EXPECT_TRUE(out->SharesBufferWith(x)) << op;
    ExpectTensor<float>(*out, Shape{2}, {1, 2});
  }
  OpTest n("IdentityN");
  n.Input(x).Input(MakeStrings({}, {"s"}));
  auto outs = n.Run(2);
  ASSERT_TRUE(outs.ok());
  EXPECT_TRUE((*outs)[0].SharesBufferWith(x));
  ExpectTensor<std::string>((*outs)[1], Shape{}, {"s"});
  OpTest noop("NoOp");
  EXPECT_TRUE(noop.Run(0).ok());
}

// ---- Reshape / ExpandDims / Squeeze / Shape ----

absl::StatusOr<Tensor> Reshape(const Tensor& x, std::vector<int32_t> shape, Shape shape_shape) {
  OpTest t("Reshape");
  t.Input(x).Input(MakeTensor<int32_t>(shape_shape, shape));
  return Run1(t);
}

TEST(ArrayOpsTest, ReshapeInfersMinusOneAndSharesTheBuffer) {
  const Tensor x = MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = Reshape(x, {3, -1}, Shape{2});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->shape(), (Shape{3, 2}));
  EXPECT_TRUE(out->SharesBufferWith(x));
  auto flat = Reshape(x, {-1}, Shape{1});
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->shape(), (Shape{6}));
  auto scalar_shape = Reshape(MakeScalar<float>(3), {}, Shape{0});
  ASSERT_TRUE(scalar_shape.ok());
  EXPECT_EQ(scalar_shape->shape(), Shape{});
  // Legacy: a scalar shape argument means a vector of that length.
  auto legacy = Reshape(x, {6}, Shape{});
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->shape(), (Shape{6}));
  // int64 shapes.
  OpTest t64("Reshape");
  t64.Input(x).Input(MakeTensor<int64_t>({3}, {1, -1, 2}));
  auto r64 = Run1(t64);
  ASSERT_TRUE(r64.ok());
  EXPECT_EQ(r64->shape(), (Shape{1, 3, 2}));
}

TEST(ArrayOpsTest, ReshapeEmptyTensors) {
  const Tensor empty = MakeTensor<float>({0, 4}, {});
  auto out = Reshape(empty, {-1, 2, 0}, Shape{3});
  ASSERT_TRUE(out.ok()) << out.status();
  auto to_zero = Reshape(empty, {2, 0, 3}, Shape{3});
  ASSERT_TRUE(to_zero.ok());
  EXPECT_EQ(to_zero->shape(), (Shape{2, 0, 3}));
  auto inferred = Reshape(empty, {-1, 4}, Shape{2});
  ASSERT_TRUE(inferred.ok());
  EXPECT_EQ(inferred->shape(), (Shape{0, 4}));
}

TEST(ArrayOpsTest, ReshapeErrorsUseTensorFlowsWording) {
  const Tensor x = MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ExpectError(Reshape(x, {4, -1}, Shape{2}).status(), absl::StatusCode::kInvalidArgument,
              "Input to reshape is a tensor with 6 values, but the requested shape requires a "
              "multiple of 4");
  ExpectError(Reshape(x, {4, 2}, Shape{2}).status(), absl::StatusCode::kInvalidArgument,
              "Input to reshape is a tensor with 6 values, but the requested shape has 8");
  ExpectError(Reshape(x, {-1, -1}, Shape{2}).status(), absl::StatusCode::kInvalidArgument,
              "Only one input size may be -1, not both 0 and 1");
  ExpectError(Reshape(x, {2, -3}, Shape{2}).status(), absl::StatusCode::kInvalidArgument,
              "Size 1 must be non-negative, not -3");
  ExpectError(Reshape(x, {6, 1}, Shape{1, 2}).status(), absl::StatusCode::kInvalidArgument,
              "sizes input must be 1-D, not [1,2]");
  OpTest bad("Reshape");
  bad.Input(x).Input(MakeTensor<float>({1}, {6}));
  ExpectError(Run1(bad).status(), absl::StatusCode::kInvalidArgument, "DT_INT32 or DT_INT64");
}

TEST(ArrayOpsTest, ExpandDims) {
  const Tensor x = MakeTensor<int32_t>({2}, {1, 2});
  for (auto [dim, shape] : std::vector<std::pair<int32_t, Shape>>{
           {0, Shape{1, 2}}, {1, Shape{2, 1}}, {-1, Shape{2, 1}}, {-2, Shape{1, 2}}}) {
    OpTest t("ExpandDims");
    t.Input(x).Input(MakeScalar<int32_t>(dim));
    auto out = Run1(t);
    ASSERT_TRUE(out.ok()) << dim;
    EXPECT_EQ(out->shape(), shape) << dim;
    EXPECT_TRUE(out->SharesBufferWith(x));
  }
  OpTest bad("ExpandDims");
  bad.Input(x).Input(MakeTensor<int64_t>({1}, {3}));
  ExpectError(Run1(bad).status(), absl::StatusCode::kInvalidArgument,
              "Tried to expand dim index 3 for tensor with 1 dimensions.");
}

TEST(ArrayOpsTest, Squeeze) {
  const Tensor x = MakeTensor<float>({1, 2, 1, 3, 1}, {1, 2, 3, 4, 5, 6});
  OpTest all("Squeeze");
  all.Input(x);
  auto out = Run1(all);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->shape(), (Shape{2, 3}));
  OpTest some("Squeeze");
  some.IntListAttr("squeeze_dims", {0, -1}).Input(x);
  auto out2 = Run1(some);
  ASSERT_TRUE(out2.ok());
  EXPECT_EQ(out2->shape(), (Shape{2, 1, 3}));
  OpTest wrong("Squeeze");
  wrong.IntListAttr("squeeze_dims", {1}).Input(x);
  ExpectError(Run1(wrong).status(), absl::StatusCode::kInvalidArgument,
              "Can not squeeze dim[1], expected a dimension of 1, got 2");
  OpTest range("Squeeze");
  range.IntListAttr("squeeze_dims", {5}).Input(x);
  ExpectError(Run1(range).status(), absl::StatusCode::kInvalidArgument,
              "Tried to squeeze dim index 5 for tensor with 5 dimensions.");
}

TEST(ArrayOpsTest, ShapeOutputsInt32OrInt64) {
  OpTest t32("Shape");
  t32.Input(MakeTensor<float>({2, 0, 3}, {}));
  auto s32 = Run1(t32);
  ASSERT_TRUE(s32.ok());
  ExpectTensor<int32_t>(*s32, Shape{3}, {2, 0, 3});
  OpTest t64("Shape");
  t64.TypeAttr("out_type", DataType::kInt64).Input(MakeScalar<float>(1));
  auto s64 = Run1(t64);
  ASSERT_TRUE(s64.ok());
  ExpectTensor<int64_t>(*s64, Shape{0}, {});
}

// ---- Pack / ConcatV2 / Fill / ZerosLike / OnesLike ----

TEST(ArrayOpsTest, PackAlongEveryAxis) {
  const Tensor a = MakeTensor<int32_t>({2}, {1, 2});
  const Tensor b = MakeTensor<int32_t>({2}, {3, 4});
  for (auto [axis, shape, values] :
       std::vector<std::tuple<int, Shape, std::vector<int32_t>>>{{0, Shape{2, 2}, {1, 2, 3, 4}},
                                                                 {1, Shape{2, 2}, {1, 3, 2, 4}},
                                                                 {-1, Shape{2, 2}, {1, 3, 2, 4}},
                                                                 {-2, Shape{2, 2}, {1, 2, 3, 4}}}) {
    OpTest t("Pack");
    t.IntAttr("axis", axis).IntAttr("N", 2).Input(a).Input(b);
    auto out = Run1(t);
    ASSERT_TRUE(out.ok()) << axis;
    ExpectTensor<int32_t>(*out, shape, values);
  }
  OpTest scalars("Pack");
  scalars.Input(MakeStrings({}, {"a"})).Input(MakeStrings({}, {"b"})).Input(MakeStrings({}, {"c"}));
  auto s = Run1(scalars);
  ASSERT_TRUE(s.ok());
  ExpectTensor<std::string>(*s, Shape{3}, {"a", "b", "c"});
  OpTest empty("Pack");
  empty.Input(MakeTensor<float>({0}, {})).Input(MakeTensor<float>({0}, {}));
  auto e = Run1(empty);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->shape(), (Shape{2, 0}));
}

TEST(ArrayOpsTest, PackErrors) {
  OpTest shapes("Pack");
  shapes.Input(MakeTensor<float>({2}, {1, 2})).Input(MakeTensor<float>({3}, {1, 2, 3}));
  ExpectError(Run1(shapes).status(), absl::StatusCode::kInvalidArgument,
              "Shapes of all inputs must match: values[0].shape = [2] != values[1].shape = [3]");
  OpTest axis("Pack");
  axis.IntAttr("axis", 2).Input(MakeTensor<float>({2}, {1, 2}));
  ExpectError(Run1(axis).status(), absl::StatusCode::kInvalidArgument, "axis = 2 not in [-2, 2)");
}

TEST(ArrayOpsTest, ConcatV2) {
  const Tensor a = MakeTensor<float>({2, 2}, {1, 2, 3, 4});
  const Tensor b = MakeTensor<float>({2, 1}, {5, 6});
  OpTest t("ConcatV2");
  t.Input(a).Input(b).Input(MakeScalar<int32_t>(1));
  auto out = Run1(t);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>(*out, Shape{2, 3}, {1, 2, 5, 3, 4, 6});
  OpTest rows("ConcatV2");
  rows.Input(a)
      .Input(MakeTensor<float>({1, 2}, {7, 8}))
      .Input(MakeTensor<float>({0, 2}, {}))
      .Input(MakeScalar<int64_t>(-2));
  auto r = Run1(rows);
  ASSERT_TRUE(r.ok());
  ExpectTensor<float>(*r, Shape{3, 2}, {1, 2, 3, 4, 7, 8});
  OpTest strings("ConcatV2");
  strings.Input(MakeStrings({1}, {"a"}))
      .Input(MakeStrings({2}, {"b", "c"}))
      .Input(MakeScalar<int32_t>(0));
  auto s = Run1(strings);
  ASSERT_TRUE(s.ok());
  ExpectTensor<std::string>(*s, Shape{3}, {"a", "b", "c"});
}

TEST(ArrayOpsTest, ConcatV2Errors) {
  const Tensor a = MakeTensor<float>({2, 2}, {1, 2, 3, 4});
  OpTest dims("ConcatV2");
  dims.Input(a).Input(MakeTensor<float>({3, 1}, {1, 2, 3})).Input(MakeScalar<int32_t>(1));
  ExpectError(Run1(dims).status(), absl::StatusCode::kInvalidArgument,
              "ConcatOp : Dimension 0 in both shapes must be equal: shape[0] = [2,2] vs. shape[1] "
              "= [3,1]");
  OpTest ranks("ConcatV2");
  ranks.Input(a).Input(MakeTensor<float>({2}, {1, 2})).Input(MakeScalar<int32_t>(0));
  ExpectError(Run1(ranks).status(), absl::StatusCode::kInvalidArgument,
              "Ranks of all input tensors should match: shape[0] = [2,2] vs. shape[1] = [2]");
  OpTest axis("ConcatV2");
  axis.Input(a).Input(a).Input(MakeScalar<int32_t>(2));
  ExpectError(Run1(axis).status(), absl::StatusCode::kInvalidArgument,
              "Expected concatenating dimensions in the range [-2, 2), but got 2");
  OpTest scalars("ConcatV2");
  scalars.Input(MakeScalar<float>(1)).Input(MakeScalar<float>(2)).Input(MakeScalar<int32_t>(0));
  ExpectError(Run1(scalars).status(), absl::StatusCode::kInvalidArgument,
              "Can't concatenate scalars");
}

TEST(ArrayOpsTest, Fill) {
  OpTest t("Fill");
  t.Input(MakeTensor<int32_t>({2}, {2, 3})).Input(MakeScalar<float>(1.5f));
  auto out = Run1(t);
  ASSERT_TRUE(out.ok());
  ExpectTensor<float>(*out, Shape{2, 3}, std::vector<float>(6, 1.5f));
  OpTest s("Fill");
  s.Input(MakeTensor<int64_t>({1}, {2})).Input(MakeStrings({}, {"z"}));
  auto str = Run1(s);
  ASSERT_TRUE(str.ok());
  ExpectTensor<std::string>(*str, Shape{2}, {"z", "z"});
  OpTest e("Fill");
  e.Input(MakeTensor<int32_t>({2}, {0, 5})).Input(MakeScalar<int64_t>(3));
  auto empty = Run1(e);
  ASSERT_TRUE(empty.ok());
  ExpectTensor<int64_t>(*empty, Shape{0, 5}, {});
  OpTest neg("Fill");
  neg.Input(MakeTensor<int32_t>({1}, {-1})).Input(MakeScalar<float>(0));
  ExpectError(Run1(neg).status(), absl::StatusCode::kInvalidArgument, "Dimension -1 must be >= 0");
  OpTest nonscalar("Fill");
  nonscalar.Input(MakeTensor<int32_t>({1}, {1})).Input(MakeTensor<float>({1}, {0}));
  ExpectError(Run1(nonscalar).status(), absl::StatusCode::kInvalidArgument,
              "value must be a scalar, got shape [1]");
}

TEST(ArrayOpsTest, ZerosLikeAndOnesLike) {
  OpTest z("ZerosLike");
  z.Input(MakeTensor<float>({2}, {3, 4}));
  auto zeros = Run1(z);
  ASSERT_TRUE(zeros.ok());
  ExpectTensor<float>(*zeros, Shape{2}, {0, 0});
  OpTest zb("ZerosLike");
  zb.Input(MakeTensor<bool>({1}, {true}));
  auto zbool = Run1(zb);
  ASSERT_TRUE(zbool.ok());
  ExpectTensor<bool>(*zbool, Shape{1}, {false});
  OpTest o("OnesLike");
  o.Input(MakeTensor<int64_t>({2, 1}, {7, 8}));
  auto ones = Run1(o);
  ASSERT_TRUE(ones.ok());
  ExpectTensor<int64_t>(*ones, Shape{2, 1}, {1, 1});
  OpTest od("OnesLike");
  od.Input(MakeTensor<double>({0}, {}));
  auto empty = Run1(od);
  ASSERT_TRUE(empty.ok());
  ExpectTensor<double>(*empty, Shape{0}, {});
  OpTest os("OnesLike");
  os.Input(MakeStrings({1}, {"a"}));
  ExpectError(Run1(os).status(), absl::StatusCode::kInvalidArgument, "DT_STRING");
}

// ---- Cast ----

template <typename S, typename D>
void ExpectCast(const std::vector<S>& in, const std::vector<D>& expected) {
  OpTest t("Cast");
  t.TypeAttr("SrcT", DataTypeOf<S>()).TypeAttr("DstT", DataTypeOf<D>()).BoolAttr("Truncate", false);
  t.Input(MakeTensor<S>({static_cast<int64_t>(in.size())}, in));
  auto out = Run1(t);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<D>(*out, Shape{static_cast<int64_t>(in.size())}, expected);
}

TEST(ArrayOpsTest, CastBetweenNumericTypesAndBool) {
  ExpectCast<float, int32_t>({1.9f, -1.9f, 0}, {1, -1, 0});
  ExpectCast<int32_t, float>({1, -2, 1 << 24}, {1, -2, 16777216.0f});
  ExpectCast<int64_t, int32_t>({(int64_t{1} << 32) + 5, -1}, {5, -1});
  ExpectCast<int32_t, uint8_t>({256 + 7, -1}, {7, 255});
  ExpectCast<double, float>({0.5, -2.25}, {0.5f, -2.25f});
  ExpectCast<float, bool>({0, 0.1f, -3}, {false, true, true});
  ExpectCast<bool, float>({true, false}, {1, 0});
  ExpectCast<bool, int64_t>({true, false}, {1, 0});
  ExpectCast<uint16_t, int16_t>({65535, 1}, {-1, 1});
  ExpectCast<uint64_t, double>({uint64_t{1} << 60}, {1152921504606846976.0});
  ExpectCast<float, float>({}, {});
  // Out-of-range and NaN float-to-int conversions saturate (C++ leaves them undefined).
  ExpectCast<float, int32_t>(
      {1e20f, -1e20f, std::nanf("")},
      {std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(), 0});
  ExpectCast<double, uint8_t>({-5, 300}, {0, 255});
}

TEST(ArrayOpsTest, CastHalfAndBFloat16) {
  auto cast = [](DataType src, DataType dst, const Tensor& in) {
    OpTest t("Cast");
    t.TypeAttr("SrcT", src).TypeAttr("DstT", dst).Input(in);
    return Run1(t);
  };
  // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal), 1/3 rounded to nearest even.
  auto half = cast(DataType::kFloat, DataType::kHalf,
                   MakeTensor<float>({6}, {1.0f, -2.0f, 65504.0f, 5.9604645e-8f, 1e6f, 0.333333f}));
  ASSERT_TRUE(half.ok());
  const uint16_t* h = half->data<uint16_t>();
  EXPECT_EQ(half->dtype(), DataType::kHalf);
  EXPECT_EQ(h[0], 0x3c00);
  EXPECT_EQ(h[1], 0xc000);
  EXPECT_EQ(h[2], 0x7bff);
  EXPECT_EQ(h[3], 0x0001);
  EXPECT_EQ(h[4], 0x7c00);  // overflow -> inf
  EXPECT_EQ(h[5], 0x3555);
  auto back = cast(DataType::kHalf, DataType::kFloat, *half);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->flat<float>()[0], 1.0f);
  EXPECT_EQ(back->flat<float>()[2], 65504.0f);
  EXPECT_EQ(back->flat<float>()[3], 5.9604645e-8f);
  EXPECT_TRUE(std::isinf(back->flat<float>()[4]));
  auto bf = cast(DataType::kFloat, DataType::kBFloat16, MakeTensor<float>({2}, {1.0f, -3.0f}));
  ASSERT_TRUE(bf.ok());
  EXPECT_EQ(bf->data<uint16_t>()[0], 0x3f80);
  EXPECT_EQ(bf->data<uint16_t>()[1], 0xc040);
  auto bf_int = cast(DataType::kBFloat16, DataType::kInt32, *bf);
  ASSERT_TRUE(bf_int.ok());
  ExpectTensor<int32_t>(*bf_int, Shape{2}, {1, -3});
}

TEST(ArrayOpsTest, CastErrors) {
  OpTest str("Cast");
  str.TypeAttr("SrcT", DataType::kString).TypeAttr("DstT", DataType::kFloat);
  ExpectError(str.Build(), absl::StatusCode::kUnimplemented,
              "Cast from DT_STRING to DT_FLOAT is not supported");
  OpTest wrong("Cast");
  wrong.TypeAttr("SrcT", DataType::kInt32)
      .TypeAttr("DstT", DataType::kFloat)
      .Input(MakeScalar<float>(1));
  ExpectError(Run1(wrong).status(), absl::StatusCode::kInvalidArgument,
              "expected DT_INT32 (attr SrcT), got DT_FLOAT");
}

// ---- Select / SelectV2 ----

TEST(ArrayOpsTest, SelectElementwiseScalarAndRows) {
  OpTest e("Select");
  e.Input(MakeTensor<bool>({3}, {true, false, true}))
      .Input(MakeTensor<int32_t>({3}, {1, 2, 3}))
      .Input(MakeTensor<int32_t>({3}, {-1, -2, -3}));
  auto out = Run1(e);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int32_t>(*out, Shape{3}, {1, -2, 3});

  const Tensor t = MakeTensor<float>({2, 2}, {1, 2, 3, 4});
  const Tensor f = MakeTensor<float>({2, 2}, {5, 6, 7, 8});
  OpTest scalar("Select");
  scalar.Input(MakeScalar<bool>(false)).Input(t).Input(f);
  auto s = Run1(scalar);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->SharesBufferWith(f));

  OpTest rows("Select");
  rows.Input(MakeTensor<bool>({2}, {false, true})).Input(t).Input(f);
  auto r = Run1(rows);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectTensor<float>(*r, Shape{2, 2}, {5, 6, 3, 4});

  OpTest strings("Select");
  strings.Input(MakeTensor<bool>({2}, {true, false}))
      .Input(MakeStrings({2}, {"a", "b"}))
      .Input(MakeStrings({2}, {"c", "d"}));
  auto str = Run1(strings);
  ASSERT_TRUE(str.ok());
  ExpectTensor<std::string>(*str, Shape{2}, {"a", "d"});

  OpTest empty("Select");
  empty.Input(MakeTensor<bool>({0}, {}))
      .Input(MakeTensor<float>({0}, {}))
      .Input(MakeTensor<float>({0}, {}));
  auto em = Run1(empty);
  ASSERT_TRUE(em.ok());
  EXPECT_EQ(em->num_elements(), 0);
}

TEST(ArrayOpsTest, SelectErrors) {
  const Tensor t = MakeTensor<float>({2, 2}, {1, 2, 3, 4});
  OpTest rows("Select");
  rows.Input(MakeTensor<bool>({3}, {true, true, false})).Input(t).Input(t);
  ExpectError(Run1(rows).status(), absl::StatusCode::kInvalidArgument,
              "Number of batches of 'then' must match size of 'condition', but saw: 2 vs. 3");
  OpTest sizes("Select");
  sizes.Input(MakeScalar<bool>(true)).Input(t).Input(MakeTensor<float>({4}, {1, 2, 3, 4}));
  ExpectError(Run1(sizes).status(), absl::StatusCode::kInvalidArgument,
              "'then' and 'else' must have the same size.  but received: [2,2] vs. [4]");
  OpTest cond("Select");
  cond.Input(MakeTensor<int32_t>({2}, {1, 0})).Input(t).Input(t);
  ExpectError(Run1(cond).status(), absl::StatusCode::kInvalidArgument, "expected DT_BOOL");
}

TEST(ArrayOpsTest, SelectV2Broadcasts) {
  OpTest t("SelectV2");
  t.Input(MakeTensor<bool>({2, 1}, {true, false}))
      .Input(MakeTensor<int64_t>({3}, {1, 2, 3}))
      .Input(MakeScalar<int64_t>(0));
  auto out = Run1(t);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int64_t>(*out, Shape{2, 3}, {1, 2, 3, 0, 0, 0});
  OpTest cond_row("SelectV2");
  cond_row.Input(MakeTensor<bool>({2}, {false, true}))
      .Input(MakeTensor<float>({2, 2}, {1, 2, 3, 4}))
      .Input(MakeTensor<float>({2, 1}, {-1, -2}));
  auto cr = Run1(cond_row);
  ASSERT_TRUE(cr.ok());
  ExpectTensor<float>(*cr, Shape{2, 2}, {-1, 2, -2, 4});
  OpTest bad("SelectV2");
  bad.Input(MakeTensor<bool>({2}, {true, false}))
      .Input(MakeTensor<float>({3}, {1, 2, 3}))
      .Input(MakeScalar<float>(0));
  ExpectError(Run1(bad).status(), absl::StatusCode::kInvalidArgument,
              "condition [2], then [3], and else [] must be broadcastable");
}

TEST(ArrayOpsTest, RegisteredOps) {
  for (const char* op : {"Cast",     "ConcatV2", "Const",        "ExpandDims",
                         "Fill",     "Identity", "IdentityN",    "NoOp",
                         "OnesLike", "Pack",     "Placeholder",  "PlaceholderWithDefault",
                         "Reshape",  "Select",   "SelectV2",     "Shape",
                         "Snapshot", "Squeeze",  "StopGradient", "ZerosLike"}) {
    EXPECT_NE(OpRegistry::Global().Find(op), nullptr) << op;
  }
}

// Every node of every fixture SavedModel (graph and function bodies) whose op we register gets its
// kernel built from the real attrs: every Const value decodes, every attr our factories read is
// understood. Ops we do not register are someone else's family and are skipped.
TEST(ArrayOpsFixtureTest, KernelsBuildForEveryFixtureNode) {
  SAVANT_FIXTURE_OR_SKIP(root, "");
  int saved_models = 0;
  int built = 0;
  int consts = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "saved_model.pb") continue;
    SCOPED_TRACE(entry.path().string());
    tensorflow::SavedModel saved_model;
    std::ifstream in(entry.path(), std::ios::binary);
    ASSERT_TRUE(saved_model.ParseFromIstream(&in));
    ++saved_models;
    for (const auto& meta_graph : saved_model.meta_graphs()) {
      std::vector<const tensorflow::NodeDef*> node_defs;
      for (const auto& n : meta_graph.graph_def().node()) node_defs.push_back(&n);
      for (const auto& f : meta_graph.graph_def().library().function()) {
        for (const auto& n : f.node_def()) node_defs.push_back(&n);
      }
      for (const tensorflow::NodeDef* def : node_defs) {
        if (OpRegistry::Global().Find(def->op()) == nullptr) continue;
        Node node;
        node.name = def->name();
        node.op = def->op();
        node.attrs = def->attr();
        for (int i = 0; i < def->input_size(); ++i) {
          if (!def->input(i).empty() && def->input(i)[0] != '^') node.inputs.push_back({i, 0});
        }
        KernelConstruction c(node, {}, {});
        auto kernel = CreateKernel(OpRegistry::Global(), c);
        EXPECT_TRUE(kernel.ok()) << def->name() << " (" << def->op() << "): " << kernel.status();
        ++built;
        consts += def->op() == "Const";
      }
    }
  }
  EXPECT_GT(saved_models, 0);
  EXPECT_GT(consts, 0);
  std::cout << "built " << built << " kernels (" << consts << " Const) from " << saved_models
            << " SavedModels\n";
}

}  // namespace
}  // namespace savant::engine
