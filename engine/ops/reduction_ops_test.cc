#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeTensor;
using testing::OpTest;

template <typename T>
absl::StatusOr<Tensor> Reduce(const std::string& op, const Tensor& x, const Tensor& axes,
                              bool keep_dims = false, ThreadPool* pool = nullptr) {
  OpTest t(op);
  if (op != "All" && op != "Any") t.TypeAttr("T", x.dtype());
  t.BoolAttr("keep_dims", keep_dims).Input(x).Input(axes).UsePool(pool);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// [2,3] = [[1,2,3],[4,5,6]]
Tensor M() { return MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}); }

TEST(ReductionOpsTest, AxesAsScalarVectorNegativeAndKeepDims) {
  auto sum0 = Reduce<float>("Sum", M(), MakeScalar<int32_t>(0));
  ASSERT_TRUE(sum0.ok()) << sum0.status();
  ExpectTensor<float>(*sum0, {3}, {5, 7, 9});
  auto sum1 = Reduce<float>("Sum", M(), MakeTensor<int64_t>({1}, {-1}), true);
  ASSERT_TRUE(sum1.ok());
  ExpectTensor<float>(*sum1, {2, 1}, {6, 15});
  auto all = Reduce<float>("Mean", M(), MakeTensor<int32_t>({2}, {1, 0}));
  ASSERT_TRUE(all.ok());
  ExpectTensor<float>(*all, {}, {3.5f});
  auto keep = Reduce<float>("Max", M(), MakeTensor<int32_t>({2}, {0, 1}), true);
  ASSERT_TRUE(keep.ok());
  ExpectTensor<float>(*keep, {1, 1}, {6});
  // An empty axis list returns the input unchanged, whatever keep_dims says.
  auto none = Reduce<float>("Sum", M(), MakeTensor<int32_t>({0}, {}), true);
  ASSERT_TRUE(none.ok());
  ExpectTensor<float>(*none, {2, 3}, {1, 2, 3, 4, 5, 6});
}

TEST(ReductionOpsTest, EveryOpOnAMiddleAxis) {
  // [2,3,2]: reduce axis 1 (the general odometer path).
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Tensor x = MakeTensor<float>({2, 3, 2}, v);
  auto check = [&](const std::string& op, const std::vector<float>& want) {
    SCOPED_TRACE(op);
    auto out = Reduce<float>(op, x, MakeScalar<int32_t>(1));
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectTensor<float>(*out, {2, 2}, want);
  };
  check("Sum", {9, 12, 27, 30});
  check("Mean", {3, 4, 9, 10});
  check("Prod", {15, 48, 693, 960});
  check("Max", {5, 6, 11, 12});
  check("Min", {1, 2, 7, 8});
  // Leading axis: columns.
  auto lead = Reduce<float>("Sum", x, MakeScalar<int32_t>(0));
  ASSERT_TRUE(lead.ok());
  ExpectTensor<float>(*lead, {3, 2}, {8, 10, 12, 14, 16, 18});
  // Axes 0 and 2 around a kept middle.
  auto outer = Reduce<float>("Sum", x, MakeTensor<int32_t>({2}, {0, 2}));
  ASSERT_TRUE(outer.ok());
  ExpectTensor<float>(*outer, {3}, {18, 26, 34});
}

TEST(ReductionOpsTest, IntegersBoolsAndEmptyInputs) {
  auto mean = Reduce<int32_t>("Mean", MakeTensor<int32_t>({3}, {1, 2, 4}), MakeScalar<int32_t>(0));
  ASSERT_TRUE(mean.ok());
  ExpectTensor<int32_t>(*mean, {}, {2});
  auto max = Reduce<int64_t>("Max", MakeTensor<int64_t>({2, 0}, {}), MakeScalar<int32_t>(1));
  ASSERT_TRUE(max.ok());
  ExpectTensor<int64_t>(*max, {2}, {std::numeric_limits<int64_t>::lowest(),
                                    std::numeric_limits<int64_t>::lowest()});
  auto sum = Reduce<float>("Sum", MakeTensor<float>({0, 3}, {}), MakeScalar<int32_t>(0));
  ASSERT_TRUE(sum.ok());
  ExpectTensor<float>(*sum, {3}, {0, 0, 0});
  auto prod = Reduce<float>("Prod", MakeTensor<float>({0}, {}), MakeScalar<int32_t>(0));
  ASSERT_TRUE(prod.ok());
  ExpectTensor<float>(*prod, {}, {1});
  auto empty_mean = Reduce<float>("Mean", MakeTensor<float>({0}, {}), MakeScalar<int32_t>(0));
  ASSERT_TRUE(empty_mean.ok());
  EXPECT_TRUE(std::isnan(empty_mean->flat<float>()[0]));
  const Tensor b = MakeTensor<bool>({2, 2}, {true, false, true, true});
  auto all = Reduce<bool>("All", b, MakeScalar<int32_t>(1));
  ASSERT_TRUE(all.ok()) << all.status();
  ExpectTensor<bool>(*all, {2}, {false, true});
  auto any = Reduce<bool>("Any", b, MakeScalar<int32_t>(0));
  ASSERT_TRUE(any.ok());
  ExpectTensor<bool>(*any, {2}, {true, true});
}

TEST(ReductionOpsTest, MaxAndMinPropagateNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto max = Reduce<float>("Max", MakeTensor<float>({3}, {1, nan, 3}), MakeScalar<int32_t>(0));
  ASSERT_TRUE(max.ok());
  EXPECT_TRUE(std::isnan(max->flat<float>()[0]));
}

TEST(ReductionOpsTest, AxisErrors) {
  ExpectError(Reduce<float>("Sum", M(), MakeScalar<int32_t>(2)).status(),
              absl::StatusCode::kInvalidArgument,
              "Invalid reduction dimension (2 for input with 2 dimension(s)");
  ExpectError(Reduce<float>("Sum", M(), MakeTensor<int32_t>({2}, {1, -1})).status(),
              absl::StatusCode::kInvalidArgument, "Axes contains duplicate dimension: 1");
  ExpectError(Reduce<float>("Sum", M(), MakeScalar<float>(0)).status(),
              absl::StatusCode::kInvalidArgument, "must be DT_INT32 or DT_INT64");
}

TEST(ReductionOpsTest, LargeRowReductionOnThePool) {
  ThreadPool pool(2);
  const int64_t rows = 64, cols = 1025;
  std::vector<float> v(rows * cols, 1.0f);
  auto out = Reduce<float>("Sum", MakeTensor<float>({rows, cols}, v), MakeScalar<int32_t>(1),
                           false, &pool);
  ASSERT_TRUE(out.ok());
  ExpectTensor<float>(*out, {rows}, std::vector<float>(rows, static_cast<float>(cols)));
}

absl::StatusOr<Tensor> Arg(const std::string& op, const Tensor& x, int64_t dim,
                           DataType output_type = DataType::kInt64) {
  OpTest t(op);
  t.TypeAttr("T", x.dtype()).TypeAttr("output_type", output_type).Input(x).Input(
      MakeScalar<int32_t>(static_cast<int32_t>(dim)));
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

TEST(ReductionOpsTest, ArgMaxArgMinTiesTakeTheFirstIndex) {
  const Tensor x = MakeTensor<float>({2, 3}, {1, 3, 3, 2, 0, 0});
  auto amax = Arg("ArgMax", x, 1);
  ASSERT_TRUE(amax.ok()) << amax.status();
  ExpectTensor<int64_t>(*amax, {2}, {1, 0});
  auto amin = Arg("ArgMin", x, -1, DataType::kInt32);
  ASSERT_TRUE(amin.ok());
  ExpectTensor<int32_t>(*amin, {2}, {0, 1});
  auto axis0 = Arg("ArgMax", x, 0);
  ASSERT_TRUE(axis0.ok());
  ExpectTensor<int64_t>(*axis0, {3}, {1, 0, 0});
  ExpectError(Arg("ArgMax", x, 2).status(), absl::StatusCode::kInvalidArgument,
              "Expected dimension in the range [-2, 2), but got 2");
  ExpectError(Arg("ArgMax", MakeTensor<float>({2, 0}, {}), 1).status(),
              absl::StatusCode::kInvalidArgument, "Reduction axis 1 is empty in shape [2,0]");
}

absl::StatusOr<Tensor> Scan(const std::string& op, const Tensor& x, int32_t axis, bool exclusive,
                            bool reverse) {
  OpTest t(op);
  t.TypeAttr("T", x.dtype()).BoolAttr("exclusive", exclusive).BoolAttr("reverse", reverse);
  t.Input(x).Input(MakeScalar<int32_t>(axis));
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

TEST(ReductionOpsTest, CumsumExclusiveAndReverse) {
  const Tensor x = MakeTensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto plain = Scan("Cumsum", x, 1, false, false);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ExpectTensor<int32_t>(*plain, {2, 3}, {1, 3, 6, 4, 9, 15});
  auto excl = Scan("Cumsum", x, 1, true, false);
  ASSERT_TRUE(excl.ok());
  ExpectTensor<int32_t>(*excl, {2, 3}, {0, 1, 3, 0, 4, 9});
  auto rev = Scan("Cumsum", x, -1, false, true);
  ASSERT_TRUE(rev.ok());
  ExpectTensor<int32_t>(*rev, {2, 3}, {6, 5, 3, 15, 11, 6});
  auto both = Scan("Cumsum", x, 0, true, true);
  ASSERT_TRUE(both.ok());
  ExpectTensor<int32_t>(*both, {2, 3}, {4, 5, 6, 0, 0, 0});
  auto prod = Scan("Cumprod", MakeTensor<float>({3}, {1, 2, 3}), 0, false, false);
  ASSERT_TRUE(prod.ok());
  ExpectTensor<float>(*prod, {3}, {1, 2, 6});
  ExpectError(Scan("Cumsum", x, 2, false, false).status(), absl::StatusCode::kInvalidArgument,
              "ScanOp: Expected scan axis in the range [-2, 2), but got 2");
}

TEST(ReductionOpsTest, TopKV2SortsDescendingWithLowerIndexFirstOnTies) {
  OpTest t("TopKV2");
  t.TypeAttr("T", DataType::kFloat)
      .BoolAttr("sorted", true)
      .Input(MakeTensor<float>({2, 4}, {1, 3, 3, 2, 5, 5, 5, 5}))
      .Input(MakeScalar<int32_t>(2));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], {2, 2}, {3, 3, 5, 5});
  ExpectTensor<int32_t>((*out)[1], {2, 2}, {1, 2, 0, 1});
  OpTest big("TopKV2");
  big.TypeAttr("T", DataType::kFloat).Input(MakeTensor<float>({3}, {1, 2, 3})).Input(
      MakeScalar<int32_t>(4));
  ExpectError(big.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "input must have at least k columns. Had 3, needed 4");
  OpTest zero("TopKV2");
  zero.TypeAttr("T", DataType::kInt32).Input(MakeTensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6})).Input(
      MakeScalar<int32_t>(0));
  auto z = zero.Run(2);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ((*z)[0].shape(), (Shape{2, 0}));
}

}  // namespace
}  // namespace savant::engine
