#include "engine/tensor_proto.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace savant::engine {
namespace {

tensorflow::TensorProto Proto(DataType dtype, std::vector<int64_t> dims) {
  tensorflow::TensorProto p;
  p.set_dtype(static_cast<tensorflow::DataType>(dtype));
  for (int64_t d : dims) p.mutable_tensor_shape()->add_dim()->set_size(d);
  return p;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  auto f = t.flat<T>();
  return std::vector<T>(f.begin(), f.end());
}

void ExpectInvalid(const absl::StatusOr<Tensor>& t, absl::string_view substring) {
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  EXPECT_NE(t.status().message().find(substring), absl::string_view::npos) << t.status();
}

TEST(TensorProtoTest, FloatValues) {
  auto p = Proto(DataType::kFloat, {2, 2});
  for (float v : {1.5f, -2.0f, 3.0f, 4.25f}) p.add_float_val(v);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kFloat);
  EXPECT_EQ(t->shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(*t), (std::vector<float>{1.5f, -2.0f, 3.0f, 4.25f}));
}

TEST(TensorProtoTest, SplatRepeatsTheLastValue) {
  auto p = Proto(DataType::kFloat, {5});
  p.add_float_val(1);
  p.add_float_val(7);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<float>(*t), (std::vector<float>{1, 7, 7, 7, 7}));
}

TEST(TensorProtoTest, EmptyTypedFieldMeansZeros) {
  auto t = TensorFromProto(Proto(DataType::kInt64, {3}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<int64_t>(*t), (std::vector<int64_t>{0, 0, 0}));
  auto s = TensorFromProto(Proto(DataType::kString, {2}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Values<std::string>(*s), (std::vector<std::string>{"", ""}));
}

TEST(TensorProtoTest, SurplusValuesAreIgnoredLikeTensorFlow) {
  auto p = Proto(DataType::kInt32, {2});
  for (int v : {1, 2, 3}) p.add_int_val(v);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<int32_t>(*t), (std::vector<int32_t>{1, 2}));
}

TEST(TensorProtoTest, ScalarShapes) {
  auto p = Proto(DataType::kDouble, {});
  p.add_double_val(2.5);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rank(), 0);
  EXPECT_EQ(t->scalar<double>(), 2.5);
}

TEST(TensorProtoTest, EveryIntegerTypeFromIntVal) {
  {
    auto p = Proto(DataType::kInt8, {3});
    for (int v : {-128, 5, 127}) p.add_int_val(v);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<int8_t>(*t), (std::vector<int8_t>{-128, 5, 127}));
  }
  {
    auto p = Proto(DataType::kUInt8, {2});
    for (int v : {255, 3}) p.add_int_val(v);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<uint8_t>(*t), (std::vector<uint8_t>{255, 3}));
  }
  {
    auto p = Proto(DataType::kInt16, {2});
    for (int v : {-300, 300}) p.add_int_val(v);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<int16_t>(*t), (std::vector<int16_t>{-300, 300}));
  }
  {
    auto p = Proto(DataType::kUInt16, {3});
    p.add_int_val(65535);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<uint16_t>(*t), (std::vector<uint16_t>{65535, 65535, 65535}));
  }
  {
    auto p = Proto(DataType::kInt32, {1});
    p.add_int_val(-7);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<int32_t>(*t), (std::vector<int32_t>{-7}));
  }
  {
    auto p = Proto(DataType::kQInt32, {2});
    p.add_int_val(9);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DataType::kQInt32);
    EXPECT_EQ(t->data<int32_t>()[1], 9);
  }
}

TEST(TensorProtoTest, WideIntegerFields) {
  {
    auto p = Proto(DataType::kInt64, {2});
    p.add_int64_val(int64_t{1} << 40);
    p.add_int64_val(-1);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<int64_t>(*t), (std::vector<int64_t>{int64_t{1} << 40, -1}));
  }
  {
    auto p = Proto(DataType::kUInt32, {2});
    p.add_uint32_val(4000000000u);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<uint32_t>(*t), (std::vector<uint32_t>{4000000000u, 4000000000u}));
  }
  {
    auto p = Proto(DataType::kUInt64, {1});
    p.add_uint64_val(uint64_t{1} << 63);
    auto t = TensorFromProto(p);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(Values<uint64_t>(*t), (std::vector<uint64_t>{uint64_t{1} << 63}));
  }
}

TEST(TensorProtoTest, BoolValues) {
  auto p = Proto(DataType::kBool, {3});
  p.add_bool_val(true);
  p.add_bool_val(false);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<bool>(*t), (std::vector<bool>{true, false, false}));
}

TEST(TensorProtoTest, HalfAndBFloat16UseHalfValBitPatterns) {
  auto p = Proto(DataType::kHalf, {2});
  p.add_half_val(0x3c00);  // 1.0
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype(), DataType::kHalf);
  EXPECT_EQ(Values<uint16_t>(*t), (std::vector<uint16_t>{0x3c00, 0x3c00}));
  auto b = Proto(DataType::kBFloat16, {1});
  b.add_half_val(0x3f80);  // 1.0
  auto tb = TensorFromProto(b);
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(tb->dtype(), DataType::kBFloat16);
  EXPECT_EQ(tb->data<uint16_t>()[0], 0x3f80);
}

TEST(TensorProtoTest, ComplexPairsAndSplat) {
  auto p = Proto(DataType::kComplex64, {3});
  for (float v : {1, 2, 3, 4}) p.add_scomplex_val(v);
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  const float* f = t->data<float>();
  EXPECT_EQ(std::vector<float>(f, f + 6), (std::vector<float>{1, 2, 3, 4, 3, 4}));
  auto d = Proto(DataType::kComplex128, {1});
  d.add_dcomplex_val(-1);
  d.add_dcomplex_val(0.5);
  auto td = TensorFromProto(d);
  ASSERT_TRUE(td.ok());
  EXPECT_EQ(td->data<double>()[0], -1);
  EXPECT_EQ(td->data<double>()[1], 0.5);
}

TEST(TensorProtoTest, StringValuesAndSplat) {
  auto p = Proto(DataType::kString, {3});
  p.add_string_val("a");
  p.add_string_val(std::string("b\0c", 3));
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<std::string>(*t),
            (std::vector<std::string>{"a", std::string("b\0c", 3), std::string("b\0c", 3)}));
}

TEST(TensorProtoTest, TensorContentIsRawLittleEndian) {
  auto p = Proto(DataType::kFloat, {3});
  const float values[] = {1, 2.5f, -3};
  p.set_tensor_content(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  p.add_float_val(99);  // ignored: tensor_content wins
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<float>(*t), (std::vector<float>{1, 2.5f, -3}));

  auto q = Proto(DataType::kInt64, {2});
  const int64_t ints[] = {-5, int64_t{1} << 50};
  q.set_tensor_content(std::string(reinterpret_cast<const char*>(ints), sizeof(ints)));
  auto ti = TensorFromProto(q);
  ASSERT_TRUE(ti.ok());
  EXPECT_EQ(Values<int64_t>(*ti), (std::vector<int64_t>{-5, int64_t{1} << 50}));
}

TEST(TensorProtoTest, TensorContentBoolsAreNormalised) {
  auto p = Proto(DataType::kBool, {3});
  p.set_tensor_content(std::string("\x00\x01\x07", 3));
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Values<uint8_t>(*t), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(TensorProtoTest, TensorContentStringList) {
  auto p = Proto(DataType::kString, {2});
  // Varint lengths 2 and 3, then "hi" and "you".
  p.set_tensor_content(std::string("\x02\x03hiyou", 7));
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Values<std::string>(*t), (std::vector<std::string>{"hi", "you"}));
  p.set_tensor_content(std::string("\x02\x03hiyo", 6));
  ExpectInvalid(TensorFromProto(p), "not a valid string list");
  p.set_tensor_content(std::string("\x02", 1));
  ExpectInvalid(TensorFromProto(p), "not a valid string list");
}

TEST(TensorProtoTest, TensorContentWithWrongByteCount) {
  auto p = Proto(DataType::kFloat, {2, 3});
  p.set_tensor_content(std::string(23, '\0'));
  ExpectInvalid(TensorFromProto(p), "DT_FLOAT [2,3]: tensor_content has 23 bytes, expected 24");
}

TEST(TensorProtoTest, EmptyTensorsIgnoreValues) {
  auto p = Proto(DataType::kFloat, {0, 3});
  p.add_float_val(1);
  p.set_tensor_content("junk");
  auto t = TensorFromProto(p);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->shape(), (Shape{0, 3}));
  EXPECT_EQ(t->num_elements(), 0);
  auto s = TensorFromProto(Proto(DataType::kString, {0}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->num_elements(), 0);
}

TEST(TensorProtoTest, MalformedShapesAndDtypes) {
  auto unknown_rank = Proto(DataType::kFloat, {});
  unknown_rank.mutable_tensor_shape()->set_unknown_rank(true);
  ExpectInvalid(TensorFromProto(unknown_rank), "unknown rank");
  ExpectInvalid(TensorFromProto(Proto(DataType::kFloat, {2, -1})), "[2,?]");
  ExpectInvalid(TensorFromProto(Proto(DataType::kInvalid, {1})), "dtype 0");
  auto bad_enum = Proto(DataType::kFloat, {1});
  bad_enum.set_dtype(static_cast<tensorflow::DataType>(101));  // DT_FLOAT_REF
  ExpectInvalid(TensorFromProto(bad_enum), "dtype 101");
  ExpectInvalid(TensorFromProto(Proto(DataType::kFloat, {int64_t{1} << 40, int64_t{1} << 40})),
                "too many elements");
  // A splat that would need terabytes is refused instead of allocated.
  auto huge = Proto(DataType::kFloat, {int64_t{1} << 20, int64_t{1} << 20});
  huge.add_float_val(1);
  ExpectInvalid(TensorFromProto(huge), "exceed");
  auto resource = TensorFromProto(Proto(DataType::kResource, {}));
  EXPECT_EQ(resource.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(TensorProtoTest, RoundTripsThroughTensorContentAndTypedFields) {
  Tensor f = Tensor::FromVector<float>(DataType::kFloat, Shape{2, 2}, {1, 2, 3, 4});
  Tensor i8 = Tensor::FromVector<int8_t>(DataType::kInt8, Shape{3}, {-1, 0, 1});
  Tensor u16 = Tensor::FromVector<uint16_t>(DataType::kUInt16, Shape{2}, {1, 65535});
  Tensor u64 = Tensor::FromVector<uint64_t>(DataType::kUInt64, Shape{1}, {~uint64_t{0}});
  Tensor b = Tensor::FromVector<bool>(DataType::kBool, Shape{2}, {true, false});
  Tensor h = Tensor::FromVector<uint16_t>(DataType::kHalf, Shape{2}, {0x3c00, 0xc000});
  Tensor c = Tensor::FromVector<float>(DataType::kComplex64, Shape{1}, {});
  c.data<float>()[0] = 1;
  c.data<float>()[1] = -1;
  Tensor s = Tensor::FromVector<std::string>(DataType::kString, Shape{2}, {"x", ""});
  Tensor e(DataType::kDouble, Shape{0});
  for (const Tensor* t : {&f, &i8, &u16, &u64, &b, &h, &c, &s, &e}) {
    for (bool content : {true, false}) {
      tensorflow::TensorProto p;
      TensorToProto(*t, &p, content);
      if (content && t->dtype() != DataType::kString && t->num_elements() > 0) {
        EXPECT_FALSE(p.tensor_content().empty()) << t->DebugString();
      }
      auto back = TensorFromProto(p);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->dtype(), t->dtype());
      EXPECT_EQ(back->shape(), t->shape());
      if (t->dtype() == DataType::kString) {
        EXPECT_EQ(Values<std::string>(*back), Values<std::string>(*t));
      } else {
        ASSERT_EQ(back->byte_size(), t->byte_size());
        if (t->byte_size() > 0) {
          EXPECT_EQ(std::memcmp(back->raw_data(), t->raw_data(), t->byte_size()), 0)
              << t->DebugString() << " content=" << content;
        }
      }
    }
  }
}

TEST(TensorProtoTest, TypedFieldsOnRequest) {
  Tensor t = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{2}, {4, 5});
  tensorflow::TensorProto p;
  TensorToProto(t, &p, /*use_tensor_content=*/false);
  EXPECT_TRUE(p.tensor_content().empty());
  ASSERT_EQ(p.int_val_size(), 2);
  EXPECT_EQ(p.int_val(1), 5);
  EXPECT_EQ(p.tensor_shape().dim(0).size(), 2);
}

TEST(TensorProtoTest, PartialShapes) {
  tensorflow::TensorShapeProto p;
  p.add_dim()->set_size(-1);
  p.add_dim()->set_size(3);
  EXPECT_EQ(PartialShapeFromProto(p).DebugString(), "[?,3]");
  p.set_unknown_rank(true);
  EXPECT_TRUE(PartialShapeFromProto(p).unknown_rank());
  tensorflow::TensorShapeProto back;
  PartialShapeToProto(PartialShape{-1, 2}, &back);
  EXPECT_EQ(PartialShapeFromProto(back), (PartialShape{-1, 2}));
}

}  // namespace
}  // namespace savant::engine
