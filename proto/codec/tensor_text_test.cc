#include "proto/codec/tensor_text.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensorflow/core/example/example.pb.h"
#include "tests/util/fixtures.h"

namespace savant::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TensorTextTest, LiteralNestedListsBecomeTypedTensors) {
  auto t = LiteralToTensor("[[1.0],[2.0],[5.0]]", tensorflow::DT_FLOAT);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(TensorShape(*t), ElementsAre(3, 1));
  EXPECT_THAT(t->float_val(), ElementsAre(1.0f, 2.0f, 5.0f));
  auto i = LiteralToTensor("[[1, 2], [3, 4]]", tensorflow::DT_INT64);
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_THAT(i->int64_val(), ElementsAre(1, 2, 3, 4));
  auto scalar = LiteralToTensor("7", tensorflow::DT_INT32);
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(TensorShape(*scalar).empty());
  EXPECT_THAT(scalar->int_val(), ElementsAre(7));
  auto s = LiteralToTensor(R"(["a", "b"])", tensorflow::DT_STRING);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(s->string_val(), ElementsAre("a", "b"));
  auto b64 = LiteralToTensor(R"([{"b64": "aGk="}])", tensorflow::DT_STRING);  // base64("hi")
  ASSERT_TRUE(b64.ok()) << b64.status();
  EXPECT_THAT(b64->string_val(), ElementsAre("hi"));
}

TEST(TensorTextTest, LiteralErrorsAreInvalidArgument) {
  EXPECT_THAT(LiteralToTensor("[[1.0],[2.0, 3.0]]", tensorflow::DT_FLOAT).status().message(), HasSubstr("ragged"));
  EXPECT_THAT(LiteralToTensor("[300]", tensorflow::DT_INT8).status().message(), HasSubstr("300 does not fit DT_INT8"));
  EXPECT_THAT(LiteralToTensor("[-1]", tensorflow::DT_UINT8).status().message(), HasSubstr("does not fit"));
  EXPECT_THAT(LiteralToTensor("[1.5]", tensorflow::DT_INT32).status().message(), HasSubstr("not an integer"));
  EXPECT_EQ(LiteralToTensor("[1,", tensorflow::DT_FLOAT).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TensorTextTest, TensorToJsonReadsValFieldsAndTensorContent) {
  tensorflow::TensorProto t;
  t.set_dtype(tensorflow::DT_FLOAT);
  t.mutable_tensor_shape()->add_dim()->set_size(2);
  t.mutable_tensor_shape()->add_dim()->set_size(2);
  const float values[] = {0.1f, 2.5f, -3.0f, 1e30f};
  t.set_tensor_content(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  auto json = TensorToJson(t);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, "[[0.1, 2.5], [-3, 1e+30]]");
  // One value stands for every element (TensorFlow's rule for *_val fields).
  tensorflow::TensorProto fill;
  fill.set_dtype(tensorflow::DT_INT32);
  fill.mutable_tensor_shape()->add_dim()->set_size(3);
  fill.add_int_val(4);
  EXPECT_EQ(*TensorToJson(fill), "[4, 4, 4]");
  fill.add_int_val(5);
  EXPECT_FALSE(TensorToJson(fill).ok());
  tensorflow::TensorProto half;  // 0x3C00 = 1.0, 0xC000 = -2.0 in IEEE half precision
  half.set_dtype(tensorflow::DT_HALF);
  half.mutable_tensor_shape()->add_dim()->set_size(2);
  half.add_half_val(0x3C00);
  half.add_half_val(0xC000);
  EXPECT_EQ(*TensorToJson(half), "[1, -2]");
}

TEST(TensorTextTest, ReadsNpyWrittenByHand) {
  const auto dir = savant::testing::MakeTempDir("tensor_text_test");
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back('\0');
  bytes += header;
  for (int32_t v : {1, -2, 3, 400000}) bytes.append(reinterpret_cast<const char*>(&v), 4);
  std::ofstream(dir / "a.npy", std::ios::binary) << bytes;
  auto t = ReadNpy((dir / "a.npy").string());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), tensorflow::DT_INT32);
  EXPECT_EQ(*TensorToJson(*t), "[[1, -2], [3, 400000]]");
  std::ofstream(dir / "short.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 1);
  EXPECT_THAT(ReadNpy((dir / "short.npy").string()).status().message(), HasSubstr("expected 16 data bytes"));
  std::filesystem::remove_all(dir);
}

TEST(TensorTextTest, ExamplesTypedByJsonValues) {
  auto in = ExamplesFromJson(R"([{"x": [1.0], "n": 3, "s": "abc"}, {"x": 2.5}])");
  ASSERT_TRUE(in.ok()) << in.status();
  const auto& ex = in->example_list().examples();
  ASSERT_EQ(ex.size(), 2);
  EXPECT_THAT(ex[0].features().feature().at("x").float_list().value(), ElementsAre(1.0f));
  EXPECT_THAT(ex[0].features().feature().at("n").int64_list().value(), ElementsAre(3));
  EXPECT_THAT(ex[0].features().feature().at("s").bytes_list().value(), ElementsAre("abc"));
  EXPECT_THAT(ex[1].features().feature().at("x").float_list().value(), ElementsAre(2.5f));
  EXPECT_FALSE(ExamplesFromJson(R"({"x": 1})").ok());
}

}  // namespace
}  // namespace savant::codec
