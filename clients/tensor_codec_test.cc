#include "clients/tensor_codec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace savant::clients {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TensorCodecTest, InputsFlagForms) {
  auto v = ParseInputsFlag("x=[[1.0],[2.0]];y=[\"a;b\"]");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].alias, "x");
  EXPECT_EQ((*v)[0].literal, "[[1.0],[2.0]]");
  EXPECT_EQ((*v)[1].literal, "[\"a;b\"]");
  EXPECT_FALSE(ParseInputsFlag("[[1.0]]").ok());
  EXPECT_THAT(ParseInputsFlag("x=@/nonexistent/file.json").status().message(), HasSubstr("/nonexistent/file.json"));
}

TEST(TensorCodecTest, KServeRoundTrip) {
  auto t = LiteralToTensor("[[1.5, 2.5]]", tensorflow::DT_FLOAT);
  auto in = ToKServeInput("x", *t);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->datatype(), "FP32");
  EXPECT_THAT(in->shape(), ElementsAre(1, 2));
  EXPECT_THAT(in->contents().fp32_contents(), ElementsAre(1.5f, 2.5f));
  EXPECT_EQ(*KServeJsonInput("x", *t), R"({"name":"x","datatype":"FP32","shape":[1,2],"data":[1.5,2.5]})");
  inference::ModelInferResponse::InferOutputTensor out;
  out.set_name("y");
  out.set_datatype("INT64");
  out.add_shape(2);
  const int64_t raw_values[] = {7, -8};
  const std::string raw(reinterpret_cast<const char*>(raw_values), sizeof(raw_values));
  auto back = FromKServeOutput(out, &raw);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*TensorToJson(*back), "[7, -8]");
  EXPECT_EQ(FromKServeDatatype("BYTES"), tensorflow::DT_STRING);
  EXPECT_EQ(FromKServeDatatype("FP8"), tensorflow::DT_INVALID);
}

}  // namespace
}  // namespace savant::clients
