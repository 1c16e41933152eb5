#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "engine/ops/ops.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeTensor;
using testing::OpTest;

template <typename T>
absl::StatusOr<Tensor> RunBinary(const std::string& op, const Tensor& a, const Tensor& b,
                                 ThreadPool* pool = nullptr) {
  OpTest t(op);
  t.TypeAttr("T", DataTypeOf<T>()).Input(a).Input(b).UsePool(pool);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

template <typename T>
void ExpectBinary(const std::string& op, const Shape& sa, const std::vector<T>& a, const Shape& sb,
                  const std::vector<T>& b, const Shape& so, const std::vector<T>& expected) {
  SCOPED_TRACE(op + " " + sa.DebugString() + " x " + sb.DebugString());
  auto out = RunBinary<T>(op, MakeTensor<T>(sa, a), MakeTensor<T>(sb, b));
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<T>(*out, so, expected);
}

template <typename T>
class BinaryOpsTypedTest : public ::testing::Test {};
using NumericTypes = ::testing::Types<float, double, int32_t, int64_t, int8_t, uint8_t, int16_t,
                                      uint16_t, uint32_t, uint64_t>;
TYPED_TEST_SUITE(BinaryOpsTypedTest, NumericTypes);

TYPED_TEST(BinaryOpsTypedTest, EqualShapes) {
  using T = TypeParam;
  const Shape s{2, 2};
  ExpectBinary<T>("Add", s, {1, 2, 3, 4}, s, {5, 6, 7, 8}, s, {6, 8, 10, 12});
  ExpectBinary<T>("AddV2", s, {1, 2, 3, 4}, s, {5, 6, 7, 8}, s, {6, 8, 10, 12});
  ExpectBinary<T>("Sub", s, {9, 8, 7, 6}, s, {1, 2, 3, 4}, s, {8, 6, 4, 2});
  ExpectBinary<T>("Mul", s, {1, 2, 3, 4}, s, {2, 3, 4, 5}, s, {2, 6, 12, 20});
  ExpectBinary<T>("RealDiv", s, {8, 9, 10, 12}, s, {2, 3, 5, 4}, s, {4, 3, 2, 3});
  ExpectBinary<T>("Maximum", s, {1, 7, 3, 4}, s, {5, 2, 3, 9}, s, {5, 7, 3, 9});
  ExpectBinary<T>("Minimum", s, {1, 7, 3, 4}, s, {5, 2, 3, 9}, s, {1, 2, 3, 4});
  ExpectBinary<T>("SquaredDifference", s, {5, 1, 3, 4}, s, {2, 3, 3, 8}, s, {9, 4, 0, 16});
}

TYPED_TEST(BinaryOpsTypedTest, ScalarBroadcastBothSides) {
  using T = TypeParam;
  ExpectBinary<T>("Mul", Shape{3}, {1, 2, 3}, Shape{}, {2}, Shape{3}, {2, 4, 6});
  ExpectBinary<T>("Sub", Shape{}, {10}, Shape{3}, {1, 2, 3}, Shape{3}, {9, 8, 7});
  ExpectBinary<T>("Add", Shape{}, {1}, Shape{}, {2}, Shape{}, {3});
}

TYPED_TEST(BinaryOpsTypedTest, GeneralBroadcast) {
  using T = TypeParam;
  // [2,1] + [1,3] -> [2,3]
  ExpectBinary<T>("Add", Shape{2, 1}, {10, 20}, Shape{1, 3}, {1, 2, 3}, Shape{2, 3},
                  {11, 12, 13, 21, 22, 23});
  // [2,3] + [3] (row vector)
  ExpectBinary<T>("Add", Shape{2, 3}, {1, 2, 3, 4, 5, 6}, Shape{3}, {10, 20, 30}, Shape{2, 3},
                  {11, 22, 33, 14, 25, 36});
  // [2,1,2] * [3,1] -> [2,3,2]
  ExpectBinary<T>("Mul", Shape{2, 1, 2}, {1, 2, 3, 4}, Shape{3, 1}, {1, 2, 3}, Shape{2, 3, 2},
                  {1, 2, 2, 4, 3, 6, 3, 4, 6, 8, 9, 12});
  // [3] - [2,1] -> [2,3] with the broadcast operand on the left of the rows.
  ExpectBinary<T>("Sub", Shape{2, 1}, {10, 20}, Shape{3}, {1, 2, 3}, Shape{2, 3},
                  {9, 8, 7, 19, 18, 17});
}

TYPED_TEST(BinaryOpsTypedTest, EmptyTensors) {
  using T = TypeParam;
  ExpectBinary<T>("Add", Shape{0}, {}, Shape{}, {1}, Shape{0}, {});
  ExpectBinary<T>("Mul", Shape{0, 3}, {}, Shape{1, 3}, {1, 2, 3}, Shape{0, 3}, {});
  ExpectBinary<T>("RealDiv", Shape{2, 0}, {}, Shape{2, 1}, {1, 2}, Shape{2, 0}, {});
}

TEST(BinaryOpsTest, FloatSpecifics) {
  ExpectBinary<float>("RealDiv", Shape{3}, {1, -1, 1}, Shape{3}, {4, 0, 3}, Shape{3},
                      {0.25f, -std::numeric_limits<float>::infinity(), 1.0f / 3});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto max = RunBinary<float>("Maximum", MakeTensor<float>({2}, {nan, 1}),
                              MakeTensor<float>({2}, {1, nan}));
  ASSERT_TRUE(max.ok());
  EXPECT_TRUE(std::isnan(max->flat<float>()[0]));
  EXPECT_TRUE(std::isnan(max->flat<float>()[1]));
  auto min = RunBinary<double>("Minimum", MakeTensor<double>({1}, {std::nan("")}),
                               MakeTensor<double>({1}, {1}));
  ASSERT_TRUE(min.ok());
  EXPECT_TRUE(std::isnan(min->flat<double>()[0]));
}

TEST(BinaryOpsTest, SignedIntegers) {
  ExpectBinary<int32_t>("Sub", Shape{2}, {1, -5}, Shape{2}, {4, 5}, Shape{2}, {-3, -10});
  ExpectBinary<int64_t>("RealDiv", Shape{3}, {7, -7, 7}, Shape{3}, {2, 2, -2}, Shape{3},
                        {3, -3, -3});
  ExpectBinary<int32_t>("Maximum", Shape{2}, {-1, -9}, Shape{}, {-5}, Shape{2}, {-1, -5});
  // Overflow wraps instead of being undefined behaviour.
  const int32_t max = std::numeric_limits<int32_t>::max();
  const int32_t min = std::numeric_limits<int32_t>::min();
  ExpectBinary<int32_t>("Add", Shape{1}, {max}, Shape{1}, {1}, Shape{1}, {min});
  ExpectBinary<int32_t>("RealDiv", Shape{1}, {min}, Shape{1}, {-1}, Shape{1}, {min});
}

TEST(BinaryOpsTest, IntegerDivisionByZero) {
  auto out = RunBinary<int32_t>("RealDiv", MakeTensor<int32_t>({2}, {1, 2}),
                                MakeTensor<int32_t>({2}, {1, 0}));
  ExpectError(out.status(), absl::StatusCode::kInvalidArgument, "Integer division by zero");
}

TEST(BinaryOpsTest, StringConcatenation) {
  ExpectBinary<std::string>("Add", Shape{2}, {"a", "b"}, Shape{}, {"!"}, Shape{2}, {"a!", "b!"});
  ExpectBinary<std::string>("AddV2", Shape{2, 1}, {"x", "y"}, Shape{2}, {"1", "2"}, Shape{2, 2},
                            {"x1", "x2", "y1", "y2"});
}

TEST(BinaryOpsTest, MismatchQuotesBothShapes) {
  auto out = RunBinary<float>("AddV2", MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}),
                              MakeTensor<float>({4}, {1, 2, 3, 4}));
  ExpectError(out.status(), absl::StatusCode::kInvalidArgument,
              "Incompatible shapes: [2,3] vs. [4]");
  auto zero = RunBinary<float>("Mul", MakeTensor<float>({0}, {}), MakeTensor<float>({2}, {1, 2}));
  ExpectError(zero.status(), absl::StatusCode::kInvalidArgument,
              "Incompatible shapes: [0] vs. [2]");
}

TEST(BinaryOpsTest, DtypeErrors) {
  OpTest t("Mul");
  t.TypeAttr("T", DataType::kFloat).Input(MakeScalar<float>(1)).Input(MakeScalar<int32_t>(1));
  ExpectError(t.Run().status(), absl::StatusCode::kInvalidArgument,
              "input 1: expected DT_FLOAT (attr T), got DT_INT32");

  OpTest unsupported("Sub");
  unsupported.TypeAttr("T", DataType::kString)
      .Input(testing::MakeStrings({}, {"a"}))
      .Input(testing::MakeStrings({}, {"b"}));
  ExpectError(unsupported.Run().status(), absl::StatusCode::kUnimplemented, "DT_STRING");

  OpTest boolean("AddV2");
  boolean.TypeAttr("T", DataType::kBool);
  ExpectError(boolean.Build(), absl::StatusCode::kUnimplemented, "does not support DT_BOOL");
}

TEST(BinaryOpsTest, LargeBroadcastSplitAcrossThreadsMatchesReference) {
  // Big enough to cross the parallel threshold, with rows that do not divide evenly.
  ThreadPool pool(2);
  const int64_t rows = 300, cols = 257;
  std::vector<float> a(rows * cols), b(cols), expected(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) a[i] = static_cast<float>(i % 97);
  for (int64_t j = 0; j < cols; ++j) b[j] = static_cast<float>(j);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) expected[i * cols + j] = a[i * cols + j] * b[j];
  }
  auto out = RunBinary<float>("Mul", MakeTensor<float>({rows, cols}, a),
                              MakeTensor<float>({1, cols}, b), &pool);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>(*out, Shape{rows, cols}, expected);
  // The same with a broadcast that leaves a two-dim odometer: [rows,1,cols] x [1,2,1].
  std::vector<float> c = {1, -1};
  std::vector<float> expected3(rows * 2 * cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t k = 0; k < 2; ++k) {
      for (int64_t j = 0; j < cols; ++j) expected3[(i * 2 + k) * cols + j] = a[i * cols + j] * c[k];
    }
  }
  auto out3 = RunBinary<float>("Mul", MakeTensor<float>({rows, 1, cols}, a),
                               MakeTensor<float>({1, 2, 1}, c), &pool);
  ASSERT_TRUE(out3.ok()) << out3.status();
  ExpectTensor<float>(*out3, Shape{rows, 2, cols}, expected3);
}

TEST(BinaryOpsTest, FloorDivAndFloorModFollowPython) {
  ExpectBinary<int32_t>("FloorDiv", Shape{4}, {7, -7, 7, -7}, Shape{4}, {2, 2, -2, -2}, Shape{4},
                        {3, -4, -4, 3});
  ExpectBinary<int32_t>("FloorMod", Shape{4}, {7, -7, 7, -7}, Shape{4}, {2, 2, -2, -2}, Shape{4},
                        {1, 1, -1, -1});
  ExpectBinary<int64_t>("FloorMod", Shape{2}, {-6, 5}, Shape{}, {3}, Shape{2}, {0, 2});
  ExpectBinary<uint8_t>("FloorDiv", Shape{2}, {7, 200}, Shape{}, {3}, Shape{2}, {2, 66});
  ExpectBinary<float>("FloorDiv", Shape{3}, {7, -7, 7.5f}, Shape{3}, {2, 2, -2}, Shape{3},
                      {3, -4, -4});
  ExpectBinary<float>("FloorMod", Shape{4}, {7, -7, 7, -7}, Shape{4}, {2, 2, -2, -2}, Shape{4},
                      {1, 1, -1, -1});
  ExpectBinary<double>("FloorMod", Shape{2}, {5.5, -5.5}, Shape{}, {2}, Shape{2}, {1.5, 0.5});
  ExpectBinary<int32_t>("TruncateDiv", Shape{2}, {7, -7}, Shape{}, {2}, Shape{2}, {3, -3});
  ExpectBinary<int32_t>("TruncateMod", Shape{2}, {7, -7}, Shape{}, {2}, Shape{2}, {1, -1});
  ExpectBinary<float>("Mod", Shape{2}, {7, -7}, Shape{}, {2}, Shape{2}, {1, -1});
  ExpectBinary<int32_t>("Div", Shape{2}, {7, -7}, Shape{}, {2}, Shape{2}, {3, -3});
  const int32_t min = std::numeric_limits<int32_t>::min();
  ExpectBinary<int32_t>("FloorDiv", Shape{1}, {min}, Shape{1}, {-1}, Shape{1}, {min});
  ExpectBinary<int32_t>("FloorMod", Shape{1}, {min}, Shape{1}, {-1}, Shape{1}, {0});
  for (const char* op : {"FloorDiv", "FloorMod", "TruncateDiv", "Mod", "Div"}) {
    auto out = RunBinary<int64_t>(op, MakeTensor<int64_t>({2}, {1, 2}),
                                  MakeTensor<int64_t>({2}, {1, 0}));
    ExpectError(out.status(), absl::StatusCode::kInvalidArgument, "Integer division by zero");
  }
}

TEST(BinaryOpsTest, DivNoNanAndPow) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ExpectBinary<float>("DivNoNan", Shape{4}, {1, nan, inf, 6}, Shape{4}, {0, 0, 0, 3}, Shape{4},
                      {0, 0, 0, 2});
  ExpectBinary<float>("Pow", Shape{3}, {2, 4, -8}, Shape{3}, {3, 0.5f, 2}, Shape{3}, {8, 2, 64});
  ExpectBinary<int32_t>("Pow", Shape{4}, {2, -3, 0, 7}, Shape{4}, {10, 3, 0, 1}, Shape{4},
                        {1024, -27, 1, 7});
  auto neg = RunBinary<int32_t>("Pow", MakeTensor<int32_t>({1}, {2}), MakeTensor<int32_t>({1}, {-1}));
  ExpectError(neg.status(), absl::StatusCode::kInvalidArgument,
              "Integers to negative integer powers are not allowed");
  OpTest ints("DivNoNan");
  ints.TypeAttr("T", DataType::kInt32);
  ExpectError(ints.Build(), absl::StatusCode::kUnimplemented, "does not support DT_INT32");
}

template <typename T>
void ExpectCompare(const std::string& op, const Shape& sa, const std::vector<T>& a,
                   const Shape& sb, const std::vector<T>& b, const Shape& so,
                   const std::vector<bool>& expected, bool incompatible_shape_error = true) {
  SCOPED_TRACE(op);
  OpTest t(op);
  t.TypeAttr("T", DataTypeOf<T>()).Input(MakeTensor<T>(sa, a)).Input(MakeTensor<T>(sb, b));
  if (!incompatible_shape_error) t.BoolAttr("incompatible_shape_error", false);
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<bool>((*out)[0], so, expected);
}

TEST(BinaryOpsTest, ComparisonsBroadcastAndReturnBool) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ExpectCompare<float>("Less", Shape{3}, {1, 2, nan}, Shape{}, {2}, Shape{3}, {true, false, false});
  ExpectCompare<float>("LessEqual", Shape{3}, {1, 2, 3}, Shape{}, {2}, Shape{3},
                       {true, true, false});
  ExpectCompare<int32_t>("Greater", Shape{2, 1}, {1, 5}, Shape{2}, {0, 3}, Shape{2, 2},
                         {true, false, true, true});
  ExpectCompare<int64_t>("GreaterEqual", Shape{2}, {1, 5}, Shape{2}, {1, 6}, Shape{2},
                         {true, false});
  ExpectCompare<float>("Equal", Shape{3}, {1, nan, 3}, Shape{3}, {1, nan, 4}, Shape{3},
                       {true, false, false});
  ExpectCompare<float>("NotEqual", Shape{3}, {1, nan, 3}, Shape{3}, {1, nan, 4}, Shape{3},
                       {false, true, true});
  ExpectCompare<bool>("Equal", Shape{2}, {true, false}, Shape{}, {true}, Shape{2}, {true, false});
  ExpectCompare<std::string>("NotEqual", Shape{2}, {"a", "b"}, Shape{}, {"a"}, Shape{2},
                             {false, true});
  // incompatible_shape_error=false answers a scalar instead of failing.
  ExpectCompare<float>("Equal", Shape{2}, {1, 2}, Shape{3}, {1, 2, 3}, Shape{}, {false}, false);
  ExpectCompare<float>("NotEqual", Shape{2}, {1, 2}, Shape{3}, {1, 2, 3}, Shape{}, {true}, false);
  auto error = RunBinary<float>("Equal", MakeTensor<float>({2}, {1, 2}),
                                MakeTensor<float>({3}, {1, 2, 3}));
  ExpectError(error.status(), absl::StatusCode::kInvalidArgument, "Incompatible shapes: [2] vs. [3]");
}

TEST(BinaryOpsTest, LogicalOpsAreBoolOnly) {
  for (const auto& [op, expected] :
       std::vector<std::pair<std::string, std::vector<bool>>>{
           {"LogicalAnd", {true, false, false, false}}, {"LogicalOr", {true, true, true, false}}}) {
    OpTest t(op);
    t.Input(MakeTensor<bool>({2, 1}, {true, false})).Input(MakeTensor<bool>({2}, {true, false}));
    auto out = t.Run();
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectTensor<bool>((*out)[0], {2, 2}, expected);
  }
  OpTest wrong("LogicalAnd");
  wrong.Input(MakeScalar<float>(1)).Input(MakeScalar<float>(1));
  ExpectError(wrong.Run().status(), absl::StatusCode::kInvalidArgument, "expected DT_BOOL");
}

TEST(BinaryOpsTest, HalfAndBFloat16RoundEachResult) {
  Tensor a(DataType::kHalf, Shape{2});
  Tensor b(DataType::kHalf, Shape{});
  a.data<uint16_t>()[0] = FloatToHalfBits(1.0f);
  a.data<uint16_t>()[1] = FloatToHalfBits(2048.0f);
  b.data<uint16_t>()[0] = FloatToHalfBits(1.0f);
  OpTest t("AddV2");
  t.TypeAttr("T", DataType::kHalf).Input(a).Input(b);
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(HalfBitsToFloat((*out)[0].data<uint16_t>()[0]), 2.0f);
  // 2049 is not a half: round to even gives 2048.
  EXPECT_EQ(HalfBitsToFloat((*out)[0].data<uint16_t>()[1]), 2048.0f);
  Tensor c(DataType::kBFloat16, Shape{1});
  c.data<uint16_t>()[0] = FloatToBFloat16Bits(3.0f);
  OpTest less("Less");
  less.TypeAttr("T", DataType::kBFloat16).Input(c).Input(c);
  auto cmp = less.Run();
  ASSERT_TRUE(cmp.ok());
  ExpectTensor<bool>((*cmp)[0], {1}, {false});
}

TEST(BinaryOpsTest, AddNSumsSameShapedInputs) {
  OpTest t("AddN");
  t.Input(MakeTensor<float>({2}, {1, 2}))
      .Input(MakeTensor<float>({2}, {10, 20}))
      .Input(MakeTensor<float>({2}, {100, 200}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], {2}, {111, 222});
  OpTest ints("AddN");
  ints.Input(MakeTensor<int32_t>({1}, {std::numeric_limits<int32_t>::max()}))
      .Input(MakeTensor<int32_t>({1}, {1}));
  auto wrapped = ints.Run();
  ASSERT_TRUE(wrapped.ok());
  ExpectTensor<int32_t>((*wrapped)[0], {1}, {std::numeric_limits<int32_t>::min()});
  OpTest bad("AddN");
  bad.Input(MakeTensor<float>({2}, {1, 2})).Input(MakeTensor<float>({1}, {1}));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument,
              "must have the same size and shape.  Input 0: [2] != input 1: [1]");
}

TEST(BinaryOpsTest, LongRowSplitAcrossThreads) {
  ThreadPool pool(2);
  const int64_t n = 100001;
  std::vector<float> a(n);
  for (int64_t i = 0; i < n; ++i) a[i] = static_cast<float>(i);
  auto out = RunBinary<float>("AddV2", MakeTensor<float>({n}, a), MakeScalar<float>(0.5f), &pool);
  ASSERT_TRUE(out.ok());
  for (int64_t i = 0; i < n; i += 1001) EXPECT_EQ(out->flat<float>()[i], a[i] + 0.5f);
  EXPECT_EQ(out->flat<float>()[n - 1], a[n - 1] + 0.5f);
}

}  // namespace
}  // namespace savant::engine
