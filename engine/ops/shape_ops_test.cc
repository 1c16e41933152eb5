#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "engine/resource_manager.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeStrings;
using testing::MakeTensor;
using testing::OpTest;

// 0, 1, ..., n-1 as floats in `shape`.
Tensor Iota(const Shape& shape) {
  std::vector<float> v(shape.num_elements());
  std::iota(v.begin(), v.end(), 0.0f);
  return MakeTensor<float>(shape, v);
}

Tensor I32(std::vector<int32_t> v) {
  return MakeTensor<int32_t>({static_cast<int64_t>(v.size())}, v);
}

struct Masks {
  int begin = 0, end = 0, ellipsis = 0, new_axis = 0, shrink = 0;
};

absl::StatusOr<Tensor> StridedSlice(const Tensor& x, std::vector<int32_t> begin,
                                    std::vector<int32_t> end, std::vector<int32_t> strides,
                                    Masks m = {}) {
  OpTest t("StridedSlice");
  t.IntAttr("begin_mask", m.begin)
      .IntAttr("end_mask", m.end)
      .IntAttr("ellipsis_mask", m.ellipsis)
      .IntAttr("new_axis_mask", m.new_axis)
      .IntAttr("shrink_axis_mask", m.shrink)
      .Input(x)
      .Input(I32(begin))
      .Input(I32(end))
      .Input(I32(strides));
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

TEST(ShapeOpsTest, StridedSliceBasicNegativeAndReversed) {
  const Tensor x = Iota({6});
  auto a = StridedSlice(x, {1}, {5}, {2});
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>(*a, {2}, {1, 3});
  auto b = StridedSlice(x, {-1}, {0}, {-1});  // x[-1:0:-1]
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>(*b, {5}, {5, 4, 3, 2, 1});
  auto c = StridedSlice(x, {0}, {0}, {-2}, {.begin = 1, .end = 1});  // x[::-2]
  ASSERT_TRUE(c.ok());
  ExpectTensor<float>(*c, {3}, {5, 3, 1});
  auto d = StridedSlice(x, {-100}, {100}, {1});  // out-of-range bounds clamp
  ASSERT_TRUE(d.ok());
  ExpectTensor<float>(*d, {6}, {0, 1, 2, 3, 4, 5});
  auto e = StridedSlice(x, {4}, {2}, {1});  // empty
  ASSERT_TRUE(e.ok());
  ExpectTensor<float>(*e, {0}, {});
}

TEST(ShapeOpsTest, StridedSliceMasks) {
  const Tensor x = Iota({2, 3, 4});
  // x[:, 1] (shrink axis 1, begin/end masks on 0).
  auto a = StridedSlice(x, {0, 1}, {0, 2}, {1, 1}, {.begin = 1, .end = 1, .shrink = 2});
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>(*a, {2, 4}, {4, 5, 6, 7, 16, 17, 18, 19});
  // x[..., -1] (ellipsis then shrink).
  auto b = StridedSlice(x, {0, -1}, {0, 0}, {1, 1}, {.ellipsis = 1, .shrink = 2});
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>(*b, {2, 3}, {3, 7, 11, 15, 19, 23});
  // x[tf.newaxis, 1, ..., ::2]
  auto c = StridedSlice(x, {0, 1, 0, 0}, {0, 2, 0, 0}, {1, 1, 1, 2},
                        {.end = 8, .ellipsis = 4, .new_axis = 1, .shrink = 2});
  ASSERT_TRUE(c.ok());
  ExpectTensor<float>(*c, {1, 3, 2}, {12, 14, 16, 18, 20, 22});
  // x[1:, newaxis] with fewer indices than dims: the implicit ellipsis keeps the rest.
  auto d = StridedSlice(x, {1, 0}, {2, 0}, {1, 1}, {.new_axis = 2});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shape(), (Shape{1, 1, 3, 4}));
  // Identity: a view, no copy.
  auto e = StridedSlice(x, {0}, {0}, {1}, {.begin = 1, .end = 1});
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->SharesBufferWith(x));
}

TEST(ShapeOpsTest, StridedSliceErrors) {
  const Tensor x = Iota({3});
  ExpectError(StridedSlice(x, {5}, {6}, {1}, {.shrink = 1}).status(),
              absl::StatusCode::kInvalidArgument, "slice index 5 of dimension 0 out of bounds.");
  ExpectError(StridedSlice(x, {0}, {1}, {0}).status(), absl::StatusCode::kInvalidArgument,
              "strides[0] must be non-zero");
  ExpectError(StridedSlice(x, {0, 0}, {1, 1}, {1, 1}).status(),
              absl::StatusCode::kInvalidArgument,
              "Index out of range using input dim 1; input has only 1 dims");
  ExpectError(StridedSlice(x, {0}, {1}, {1}, {.ellipsis = 3}).status(),
              absl::StatusCode::kInvalidArgument, "Multiple ellipses");
}

TEST(ShapeOpsTest, SliceAndErrors) {
  const Tensor x = Iota({3, 4});
  auto run = [&](std::vector<int32_t> begin, std::vector<int32_t> size) {
    OpTest t("Slice");
    t.Input(x).Input(I32(begin)).Input(I32(size));
    return t.Run();
  };
  auto a = run({1, 1}, {2, -1});
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], {2, 3}, {5, 6, 7, 9, 10, 11});
  ExpectError(run({0, 2}, {1, 3}).status(), absl::StatusCode::kInvalidArgument,
              "Expected size[1] in [0, 2], but got 3");
  ExpectError(run({4, 0}, {0, 1}).status(), absl::StatusCode::kInvalidArgument,
              "Expected begin[0] in [0, 3], but got 4");
}

TEST(ShapeOpsTest, SplitSplitVAndUnpack) {
  const Tensor x = Iota({2, 4});
  OpTest split("Split");
  split.IntAttr("num_split", 2).Input(MakeScalar<int32_t>(1)).Input(x);
  auto s = split.Run(2);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectTensor<float>((*s)[0], {2, 2}, {0, 1, 4, 5});
  ExpectTensor<float>((*s)[1], {2, 2}, {2, 3, 6, 7});
  OpTest uneven("Split");
  uneven.IntAttr("num_split", 3).Input(MakeScalar<int32_t>(1)).Input(x);
  ExpectError(uneven.Run(3).status(), absl::StatusCode::kInvalidArgument,
              "should evenly divide the split dimension, but got split_dim 1 (size = 4) and "
              "num_split 3");
  OpTest splitv("SplitV");
  splitv.IntAttr("num_split", 3).Input(x).Input(I32({1, -1, 1})).Input(MakeScalar<int32_t>(-1));
  auto v = splitv.Run(3);
  ASSERT_TRUE(v.ok()) << v.status();
  ExpectTensor<float>((*v)[0], {2, 1}, {0, 4});
  ExpectTensor<float>((*v)[1], {2, 2}, {1, 2, 5, 6});
  ExpectTensor<float>((*v)[2], {2, 1}, {3, 7});
  OpTest unpack("Unpack");
  unpack.IntAttr("num", 4).IntAttr("axis", -1).Input(x);
  auto u = unpack.Run(4);
  ASSERT_TRUE(u.ok()) << u.status();
  ExpectTensor<float>((*u)[3], {2}, {3, 7});
  OpTest rows("Unpack");
  rows.IntAttr("num", 2).Input(MakeStrings({2}, {"a", "b"}));
  auto r = rows.Run(2);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectTensor<std::string>((*r)[1], {}, {"b"});
}

TEST(ShapeOpsTest, TransposeAndErrors) {
  auto run = [](const Tensor& x, std::vector<int32_t> perm) {
    OpTest t("Transpose");
    t.Input(x).Input(I32(perm));
    return t.Run();
  };
  auto a = run(Iota({2, 3}), {1, 0});
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], {3, 2}, {0, 3, 1, 4, 2, 5});
  auto b = run(Iota({2, 1, 3}), {1, 0, 2});  // only a size-1 dim moves: a view
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {1, 2, 3}, {0, 1, 2, 3, 4, 5});
  auto c = run(Iota({2, 2, 2}), {2, 0, 1});
  ASSERT_TRUE(c.ok());
  ExpectTensor<float>((*c)[0], {2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7});
  ExpectError(run(Iota({2, 3}), {0, 0}).status(), absl::StatusCode::kInvalidArgument,
              "1 is missing from {0,0}.");
  ExpectError(run(Iota({2, 3}), {0}).status(), absl::StatusCode::kInvalidArgument,
              "transpose expects a vector of size 2. But input(1) is a vector of size 1");
}

TEST(ShapeOpsTest, RangeAccumulatesLikeTensorFlow) {
  auto run = [](Tensor a, Tensor b, Tensor c) {
    OpTest t("Range");
    t.Input(a).Input(b).Input(c);
    return t.Run();
  };
  auto a = run(MakeScalar<int32_t>(3), MakeScalar<int32_t>(18), MakeScalar<int32_t>(3));
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<int32_t>((*a)[0], {5}, {3, 6, 9, 12, 15});
  auto b = run(MakeScalar<float>(1), MakeScalar<float>(0), MakeScalar<float>(-0.25f));
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {4}, {1, 0.75f, 0.5f, 0.25f});
  auto e = run(MakeScalar<int64_t>(0), MakeScalar<int64_t>(0), MakeScalar<int64_t>(1));
  ASSERT_TRUE(e.ok());
  ExpectTensor<int64_t>((*e)[0], {0}, {});
  ExpectError(run(MakeScalar<int32_t>(5), MakeScalar<int32_t>(1), MakeScalar<int32_t>(1)).status(),
              absl::StatusCode::kInvalidArgument, "Requires start <= limit when delta > 0: 5/1");
  ExpectError(run(MakeScalar<int32_t>(5), MakeScalar<int32_t>(1), MakeScalar<int32_t>(0)).status(),
              absl::StatusCode::kInvalidArgument, "Requires delta != 0: 0");
}

TEST(ShapeOpsTest, TileAndBroadcastTo) {
  OpTest tile("Tile");
  tile.Input(Iota({2, 2})).Input(I32({1, 2}));
  auto t = tile.Run();
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectTensor<float>((*t)[0], {2, 4}, {0, 1, 0, 1, 2, 3, 2, 3});
  OpTest tile2("Tile");
  tile2.Input(MakeStrings({2}, {"a", "b"})).Input(I32({2}));
  auto s = tile2.Run();
  ASSERT_TRUE(s.ok());
  ExpectTensor<std::string>((*s)[0], {4}, {"a", "b", "a", "b"});
  OpTest bt("BroadcastTo");
  bt.Input(Iota({3})).Input(I32({2, 3}));
  auto b = bt.Run();
  ASSERT_TRUE(b.ok()) << b.status();
  ExpectTensor<float>((*b)[0], {2, 3}, {0, 1, 2, 0, 1, 2});
  OpTest bad("BroadcastTo");
  bad.Input(Iota({3})).Input(I32({2, 4}));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument,
              "Unable to broadcast tensor of shape [3] to tensor of shape [2,4]");
}

TEST(ShapeOpsTest, GatherV2AxisBatchDimsAndOutOfRange) {
  auto run = [](const Tensor& params, const Tensor& indices, int32_t axis, int batch_dims = 0) {
    OpTest t("GatherV2");
    t.IntAttr("batch_dims", batch_dims).Input(params).Input(indices).Input(MakeScalar(axis));
    return t.Run();
  };
  const Tensor p = Iota({3, 2});
  auto a = run(p, MakeTensor<int32_t>({2, 2}, {2, 0, 1, 1}), 0);
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], {2, 2, 2}, {4, 5, 0, 1, 2, 3, 2, 3});
  auto b = run(p, MakeTensor<int64_t>({1}, {1}), -1);
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {3, 1}, {1, 3, 5});
  // batch_dims=1: row b gathers from params[b].
  auto c = run(Iota({2, 3}), MakeTensor<int32_t>({2, 2}, {2, 0, 1, 1}), 1, 1);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectTensor<float>((*c)[0], {2, 2}, {2, 0, 4, 4});
  ExpectError(run(p, MakeTensor<int32_t>({2, 2}, {0, 1, 5, 0}), 0).status(),
              absl::StatusCode::kInvalidArgument, "indices[1,0] = 5 is not in [0, 3)");
  ExpectError(run(p, MakeTensor<int32_t>({1}, {0}), 2).status(),
              absl::StatusCode::kInvalidArgument, "Expected axis in the range [-2, 2), but got 2");
}

TEST(ShapeOpsTest, ResourceGatherReadsTheVariable) {
  auto var = std::make_shared<Variable>("emb", DataType::kFloat, PartialShape{3, 2});
  ASSERT_TRUE(var->Assign(Iota({3, 2})).ok());
  Tensor handle(DataType::kResource, Shape{});
  handle.scalar<ResourceHandle>() = var;
  OpTest t("ResourceGather");
  t.TypeAttr("dtype", DataType::kFloat).Input(handle).Input(MakeTensor<int32_t>({2}, {2, 0}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], {2, 2}, {4, 5, 0, 1});
}

TEST(ShapeOpsTest, GatherNd) {
  auto run = [](const Tensor& params, const Tensor& indices) {
    OpTest t("GatherNd");
    t.Input(params).Input(indices);
    return t.Run();
  };
  const Tensor p = Iota({2, 3});
  auto a = run(p, MakeTensor<int32_t>({2, 2}, {1, 2, 0, 1}));
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], {2}, {5, 1});
  auto b = run(p, MakeTensor<int32_t>({1, 1}, {1}));
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {1, 3}, {3, 4, 5});
  ExpectError(run(p, MakeTensor<int32_t>({2, 2}, {0, 0, 2, 0})).status(),
              absl::StatusCode::kInvalidArgument,
              "indices[1] = [2, 0] does not index into param shape [2,3]");
}

TEST(ShapeOpsTest, ReverseV2) {
  OpTest t("ReverseV2");
  t.Input(Iota({2, 3})).Input(I32({-1}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], {2, 3}, {2, 1, 0, 5, 4, 3});
  OpTest both("ReverseV2");
  both.Input(Iota({2, 3})).Input(I32({0, 1}));
  auto b = both.Run();
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {2, 3}, {5, 4, 3, 2, 1, 0});
  OpTest dup("ReverseV2");
  dup.Input(Iota({2, 3})).Input(I32({1, -1}));
  ExpectError(dup.Run().status(), absl::StatusCode::kInvalidArgument,
              "axis 1 specified more than once.");
}

TEST(ShapeOpsTest, PadPadV2AndMirrorPad) {
  const Tensor pads = MakeTensor<int32_t>({2, 2}, {1, 0, 0, 2});
  OpTest pad("Pad");
  pad.Input(Iota({2, 2})).Input(pads);
  auto a = pad.Run();
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], {3, 4}, {0, 0, 0, 0, 0, 1, 0, 0, 2, 3, 0, 0});
  OpTest padv2("PadV2");
  padv2.Input(Iota({2, 2})).Input(pads).Input(MakeScalar<float>(-1));
  auto b = padv2.Run();
  ASSERT_TRUE(b.ok());
  ExpectTensor<float>((*b)[0], {3, 4}, {-1, -1, -1, -1, 0, 1, -1, -1, 2, 3, -1, -1});
  const Tensor x = Iota({3});
  const Tensor p = MakeTensor<int32_t>({1, 2}, {2, 2});
  OpTest reflect("MirrorPad");
  reflect.StringAttr("mode", "REFLECT").Input(x).Input(p);
  auto r = reflect.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectTensor<float>((*r)[0], {7}, {2, 1, 0, 1, 2, 1, 0});
  OpTest symmetric("MirrorPad");
  symmetric.StringAttr("mode", "SYMMETRIC").Input(x).Input(p);
  auto s = symmetric.Run();
  ASSERT_TRUE(s.ok());
  ExpectTensor<float>((*s)[0], {7}, {1, 0, 0, 1, 2, 2, 1});
  OpTest too_far("MirrorPad");
  too_far.StringAttr("mode", "REFLECT").Input(x).Input(MakeTensor<int32_t>({1, 2}, {3, 0}));
  ExpectError(too_far.Run().status(), absl::StatusCode::kInvalidArgument, "paddings must be");
  OpTest negative("Pad");
  negative.Input(x).Input(MakeTensor<int32_t>({1, 2}, {-1, 0}));
  ExpectError(negative.Run().status(), absl::StatusCode::kInvalidArgument,
              "Paddings must be non-negative: -1 0");
}

TEST(ShapeOpsTest, WhereOneHotShapeNSizeRank) {
  OpTest where("Where");
  where.Input(MakeTensor<bool>({2, 2}, {true, false, false, true}));
  auto w = where.Run();
  ASSERT_TRUE(w.ok()) << w.status();
  ExpectTensor<int64_t>((*w)[0], {2, 2}, {0, 0, 1, 1});
  OpTest where_num("Where");
  where_num.Input(MakeTensor<float>({3}, {0, 2, 0}));
  auto wn = where_num.Run();
  ASSERT_TRUE(wn.ok());
  ExpectTensor<int64_t>((*wn)[0], {1, 1}, {1});

  OpTest onehot("OneHot");
  onehot.IntAttr("axis", -1)
      .Input(MakeTensor<int32_t>({3}, {0, 2, 5}))
      .Input(MakeScalar<int32_t>(3))
      .Input(MakeScalar<float>(1))
      .Input(MakeScalar<float>(0));
  auto o = onehot.Run();
  ASSERT_TRUE(o.ok()) << o.status();
  ExpectTensor<float>((*o)[0], {3, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 0});
  OpTest onehot0("OneHot");
  onehot0.IntAttr("axis", 0)
      .Input(MakeTensor<int64_t>({2}, {1, 0}))
      .Input(MakeScalar<int32_t>(2))
      .Input(MakeScalar<int32_t>(5))
      .Input(MakeScalar<int32_t>(-1));
  auto o0 = onehot0.Run();
  ASSERT_TRUE(o0.ok());
  ExpectTensor<int32_t>((*o0)[0], {2, 2}, {-1, 5, 5, -1});

  OpTest shape_n("ShapeN");
  shape_n.TypeAttr("out_type", DataType::kInt64).Input(Iota({2, 3})).Input(MakeScalar<float>(1));
  auto sn = shape_n.Run(2);
  ASSERT_TRUE(sn.ok()) << sn.status();
  ExpectTensor<int64_t>((*sn)[0], {2}, {2, 3});
  ExpectTensor<int64_t>((*sn)[1], {0}, {});
  OpTest size("Size");
  size.Input(Iota({2, 3}));
  auto sz = size.Run();
  ASSERT_TRUE(sz.ok());
  ExpectTensor<int32_t>((*sz)[0], {}, {6});
  OpTest rank("Rank");
  rank.Input(Iota({2, 3, 1}));
  auto rk = rank.Run();
  ASSERT_TRUE(rk.ok());
  ExpectTensor<int32_t>((*rk)[0], {}, {3});
}

TEST(ShapeOpsTest, BroadcastGradientArgs) {
  auto run = [](std::vector<int32_t> a, std::vector<int32_t> b) {
    OpTest t("BroadcastGradientArgs");
    t.Input(I32(a)).Input(I32(b));
    return t.Run(2);
  };
  auto r = run({2, 3}, {3});
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectTensor<int32_t>((*r)[0], {0}, {});
  ExpectTensor<int32_t>((*r)[1], {1}, {0});
  auto outer = run({2, 1}, {1, 3});
  ASSERT_TRUE(outer.ok());
  ExpectTensor<int32_t>((*outer)[0], {1}, {1});
  ExpectTensor<int32_t>((*outer)[1], {1}, {0});
  // Dims of 1 on both sides are reduced on both sides.
  auto ones = run({1, 4}, {1, 4});
  ASSERT_TRUE(ones.ok());
  ExpectTensor<int32_t>((*ones)[0], {1}, {0});
  ExpectTensor<int32_t>((*ones)[1], {1}, {0});
  auto scalar = run({}, {2, 2});
  ASSERT_TRUE(scalar.ok());
  ExpectTensor<int32_t>((*scalar)[0], {2}, {0, 1});
  ExpectTensor<int32_t>((*scalar)[1], {0}, {});
  ExpectError(run({2}, {3}).status(), absl::StatusCode::kInvalidArgument,
              "Incompatible shapes: [2] vs. [3]");
}

TEST(ShapeOpsTest, EnsureShapeAndAssert) {
  OpTest ok("EnsureShape");
  ok.ShapeAttr("shape", PartialShape{-1, 3}).Input(Iota({2, 3}));
  ASSERT_TRUE(ok.Run().ok());
  OpTest bad("EnsureShape");
  bad.ShapeAttr("shape", PartialShape{3, 3}).Input(Iota({2, 3}));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument,
              "Shape of tensor [2,3] is not compatible with expected shape [3,3].");

  OpTest pass("Assert");
  pass.Input(MakeScalar<bool>(true)).Input(MakeStrings({}, {"never shown"}));
  EXPECT_TRUE(pass.Run(0).ok());
  OpTest fail("Assert");
  fail.IntAttr("summarize", 3)
      .Input(MakeScalar<bool>(false))
      .Input(MakeStrings({}, {"x must be positive:"}))
      .Input(MakeTensor<int32_t>({5}, {1, -2, 3, 4, 5}));
  ExpectError(fail.Run(0).status(), absl::StatusCode::kInvalidArgument,
              "assertion failed: [x must be positive:] [1 -2 3...]");
}

}  // namespace
}  // namespace savant::engine
