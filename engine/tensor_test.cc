#include "engine/tensor.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace savant::engine {
namespace {

TEST(TensorTest, DataTypeValuesMatchTensorFlowEnum) {
  // types.proto: DT_FLOAT = 1, DT_STRING = 7, DT_INT64 = 9, DT_BFLOAT16 = 14, DT_HALF = 19,
  // DT_RESOURCE = 20, DT_UINT64 = 23.
  EXPECT_EQ(static_cast<int>(DataType::kFloat), 1);
  EXPECT_EQ(static_cast<int>(DataType::kString), 7);
  EXPECT_EQ(static_cast<int>(DataType::kInt64), 9);
  EXPECT_EQ(static_cast<int>(DataType::kBFloat16), 14);
  EXPECT_EQ(static_cast<int>(DataType::kHalf), 19);
  EXPECT_EQ(static_cast<int>(DataType::kResource), 20);
  EXPECT_EQ(static_cast<int>(DataType::kUInt64), 23);
  EXPECT_EQ(DataTypeName(DataType::kFloat), "DT_FLOAT");
  EXPECT_EQ(DataTypeSize(DataType::kComplex128), 16u);
  EXPECT_EQ(DataTypeSize(DataType::kString), 0u);
}

TEST(TensorTest, OwnedBuffersAre64ByteAligned) {
  for (int n : {1, 3, 17, 1000}) {
    Tensor t(DataType::kFloat, Shape{n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u) << n;
    EXPECT_EQ(t.byte_size(), static_cast<size_t>(n) * 4);
  }
}

TEST(TensorTest, ReshapeSharesBufferAndChecksElementCount) {
  Tensor t = Tensor::FromVector<float>(DataType::kFloat, Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  auto r = t.Reshaped(Shape{3, 2});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->SharesBufferWith(t));
  EXPECT_EQ(r->flat<float>()[5], 6.0f);
  auto bad = t.Reshaped(Shape{4, 2});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("[4,2]"), std::string_view::npos);
}

TEST(TensorTest, StringTensorsHoldStrings) {
  Tensor t(DataType::kString, Shape{2});
  t.flat<std::string>()[0] = "a";
  t.flat<std::string>()[1] = std::string(100, 'b');
  Tensor c = t.Clone();
  EXPECT_FALSE(c.SharesBufferWith(t));
  EXPECT_EQ(c.flat<std::string>()[1].size(), 100u);
  EXPECT_EQ(t.DebugString(1), "DT_STRING [2] {\"a\", ...}");
}

TEST(TensorTest, PartialShapeCompatibility) {
  PartialShape p{-1, 1};
  EXPECT_TRUE(p.IsCompatibleWith(Shape{3, 1}));
  EXPECT_FALSE(p.IsCompatibleWith(Shape{3, 2}));
  EXPECT_FALSE(p.IsCompatibleWith(Shape{3}));
  EXPECT_TRUE(PartialShape::UnknownRank().IsCompatibleWith(Shape{1, 2, 3}));
  EXPECT_EQ(p.DebugString(), "[?,1]");
  EXPECT_FALSE(p.IsFullyDefined());
}

}  // namespace
}  // namespace savant::engine

namespace savant::engine {
namespace {

TEST(TensorTest, FreedBuffersAreReusedOnTheSameThread) {
  const void* first;
  {
    Tensor t(DataType::kFloat, Shape{1000});
    first = t.raw_data();
  }
  // 1000 and 900 floats share the 4 KiB size class: the freed buffer comes back.
  Tensor again(DataType::kFloat, Shape{900});
  EXPECT_EQ(again.raw_data(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.raw_data()) % 64, 0u);
}

}  // namespace
}  // namespace savant::engine
