#include "loader/saved_model_writer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/model.h"
#include "loader/tensor_bundle.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

using engine::DataType;
using engine::PartialShape;
using engine::Shape;
using engine::Tensor;

// y = a * x + b with variables a = 0.5, b = 2 (half_plus_two), and z = x * w with a 2x2 matrix w.
SavedModelWriter HalfPlusTwoWriter() {
  SavedModelWriter w;
  w.AddVariable("a", Tensor::Scalar(0.5f));
  w.AddVariable("b", Tensor::Scalar(2.0f));
  w.AddVariable("dense/kernel", Tensor::FromVector<float>(DataType::kFloat, Shape{2, 2}, {1, 2, 3, 4}));
  w.AddSignature({.key = "serving_default",
                  .inputs = {{"x", DataType::kFloat, PartialShape{-1, 1}}},
                  .outputs = {{"y", "add:z:0", DataType::kFloat, PartialShape{-1, 1}}},
                  .body = {NodeBuilder("a_read", "ReadVariableOp").Input("a").Type("dtype", DataType::kFloat),
                           NodeBuilder("b_read", "ReadVariableOp").Input("b").Type("dtype", DataType::kFloat),
                           NodeBuilder("mul", "Mul").Input("a_read:value:0").Input("x").Type("T", DataType::kFloat),
                           NodeBuilder("add", "AddV2").Input("mul:z:0").Input("b_read:value:0").Type("T", DataType::kFloat)}});
  w.AddSignature({.key = "matmul",
                  .inputs = {{"x", DataType::kFloat, PartialShape{-1, 2}}},
                  .outputs = {{"z", "mm:product:0", DataType::kFloat, PartialShape{-1, 2}}},
                  .body = {NodeBuilder("w", "ReadVariableOp").Input("dense/kernel").Type("dtype", DataType::kFloat),
                           NodeBuilder("mm", "MatMul").Input("x").Input("w:value:0").Type("T", DataType::kFloat)}});
  return w;
}

TEST(SavedModelWriterTest, WrittenModelLoadsAndComputes) {
  auto dir = savant::testing::MakeTempDir("writer");
  ASSERT_TRUE(HalfPlusTwoWriter().Write(dir / "1").ok());
  auto model = Model::Load(dir / "1");
  ASSERT_TRUE(model.ok()) << model.status();
  Tensor x = Tensor::FromVector<float>(DataType::kFloat, Shape{3, 1}, {1, 2, 5});
  auto out = (*model)->Run("serving_default", {{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status();
  auto y = out->at(0).second.flat<float>();
  EXPECT_EQ(std::vector<float>(y.begin(), y.end()), std::vector<float>({2.5f, 3.0f, 4.5f}));
  // [1 1] x [[1 2] [3 4]] = [4 6]; [2 0] x ... = [2 4].
  Tensor m = Tensor::FromVector<float>(DataType::kFloat, Shape{2, 2}, {1, 1, 2, 0});
  auto z = (*model)->Run("matmul", {{"x", m}});
  ASSERT_TRUE(z.ok()) << z.status();
  auto zf = z->at(0).second.flat<float>();
  EXPECT_EQ(std::vector<float>(zf.begin(), zf.end()), std::vector<float>({4, 6, 2, 4}));
  // Variable reads fold into constants: serving runs only the arithmetic.
  EXPECT_EQ((*model)->signatures().at("serving_default").function->step_ops(),
            std::vector<std::string>({"Mul", "AddV2"}));
  std::filesystem::remove_all(dir);
}

TEST(SavedModelWriterTest, CheckpointUsesObjectBasedKeys) {
  auto dir = savant::testing::MakeTempDir("writer-keys");
  ASSERT_TRUE(HalfPlusTwoWriter().Write(dir).ok());
  auto reader = BundleReader::Open((dir / "variables" / "variables").string());
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> names;
  for (const auto& e : (*reader)->entries()) names.push_back(e.name);
  EXPECT_EQ(names, std::vector<std::string>({"_CHECKPOINTABLE_OBJECT_GRAPH", "a/.ATTRIBUTES/VARIABLE_VALUE",
                                             "b/.ATTRIBUTES/VARIABLE_VALUE",
                                             "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"}));
  auto a = (*reader)->Lookup("a/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scalar<float>(), 0.5f);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace savant::loader
