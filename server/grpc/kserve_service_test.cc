#include "server/grpc/kserve_service.h"

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Input = inference::ModelInferRequest::InferInputTensor;

Input MakeInput(const std::string& datatype, std::vector<int64_t> shape) {
  Input input;
  input.set_name("x");
  input.set_datatype(datatype);
  for (int64_t d : shape) input.add_shape(d);
  return input;
}

TEST(KServeTest, DatatypesRoundTrip) {
  for (DataType t : {DataType::kBool, DataType::kUInt8, DataType::kInt32, DataType::kInt64, DataType::kFloat,
                     DataType::kDouble, DataType::kString, DataType::kHalf}) {
    auto back = DataTypeFromKServe(KServeDatatype(t));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, t);
  }
  EXPECT_EQ(KServeDatatype(DataType::kFloat), "FP32");
  EXPECT_EQ(KServeDatatype(DataType::kString), "BYTES");
  auto bad = DataTypeFromKServe("FLOAT");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("FP32"));
}

TEST(KServeTest, TypedContents) {
  Input input = MakeInput("INT64", {2});
  input.mutable_contents()->add_int64_contents(7);
  input.mutable_contents()->add_int64_contents(-1);
  auto t = TensorFromKServe(input, nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kInt64);
  EXPECT_THAT(std::vector<int64_t>(t->flat<int64_t>().begin(), t->flat<int64_t>().end()), ElementsAre(7, -1));

  Input wrong_field = MakeInput("FP32", {1});
  wrong_field.mutable_contents()->add_fp64_contents(1);
  EXPECT_THAT(TensorFromKServe(wrong_field, nullptr).status().message(),
              HasSubstr("input \"x\": expected 1 values in fp32_contents for shape [1], got 0"));
  EXPECT_EQ(TensorFromKServe(MakeInput("FP32", {-1}), nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KServeTest, RawBytesElementsAreLengthPrefixed) {
  std::string raw;
  for (std::string s : {"ab", "", "xyz"}) {
    const uint32_t n = s.size();
    raw.append(reinterpret_cast<const char*>(&n), 4);  // little-endian hosts only, like the protocol
    raw += s;
  }
  auto t = TensorFromKServe(MakeInput("BYTES", {3}), &raw);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(std::vector<std::string>(t->flat<std::string>().begin(), t->flat<std::string>().end()),
              ElementsAre("ab", "", "xyz"));

  inference::ModelInferResponse::InferOutputTensor out;
  std::string encoded;
  TensorToKServe(*t, &out, &encoded);
  EXPECT_EQ(encoded, raw);
  EXPECT_EQ(out.datatype(), "BYTES");

  std::string truncated = raw.substr(0, raw.size() - 1);
  EXPECT_EQ(TensorFromKServe(MakeInput("BYTES", {3}), &truncated).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KServeTest, RawFixedWidthChecksTheByteCount) {
  float values[3] = {1, 2, 5};
  std::string raw(reinterpret_cast<const char*>(values), sizeof(values));
  auto t = TensorFromKServe(MakeInput("FP32", {3, 1}), &raw);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->shape(), Shape({3, 1}));
  std::string short_raw = raw.substr(4);
  EXPECT_THAT(TensorFromKServe(MakeInput("FP32", {3, 1}), &short_raw).status().message(),
              HasSubstr("expected 12 bytes of raw_input_contents for FP32 [3,1], got 8"));
}

// A shape far larger than the data sent is refused before anything is allocated (this used to throw
// std::bad_alloc and take the server down), for typed contents, raw buffers and overflowing shapes.
TEST(KServeTest, HugeDeclaredShapeIsRefusedBeforeAllocating) {
  auto typed = MakeInput("FP32", {100000000000, 1000});
  typed.mutable_contents()->add_fp32_contents(1);
  typed.mutable_contents()->add_fp32_contents(2);
  auto t = TensorFromKServe(typed, nullptr);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("needs 100000000000000 elements but the request carries data for at most 2"));

  std::string raw(12, '\0');
  EXPECT_EQ(TensorFromKServe(MakeInput("FP32", {100000000000, 1000}), &raw).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TensorFromKServe(MakeInput("BYTES", {1000000000000}), &raw).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto overflow = TensorFromKServe(MakeInput("FP32", {4611686018427387904, 4}), &raw);
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(overflow.status().message(), HasSubstr("more than 2^63"));
}

TEST(KServeTest, TypedOutput) {
  Tensor t = Tensor::FromVector<float>(DataType::kFloat, Shape{2}, {2.5f, 3.0f});
  inference::ModelInferResponse::InferOutputTensor out;
  TensorToKServe(t, &out, nullptr);
  EXPECT_EQ(out.datatype(), "FP32");
  EXPECT_THAT(out.shape(), ElementsAre(2));
  EXPECT_THAT(out.contents().fp32_contents(), ElementsAre(2.5f, 3.0f));
}

}  // namespace
}  // namespace savant::server
