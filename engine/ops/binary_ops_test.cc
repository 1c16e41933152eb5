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
  ExpectError(zero.status(), absl::StatusCode::kInvalidArgument, "Incompatible shapes: [0] vs. [2]");
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

}  // namespace
}  // namespace savant::engine
