// Every TensorFlow Serving fixture through the C++ API, with expected values from the models'
// documented math (TF Serving's test data: half_plus_two y = 0.5x + 2, half_plus_three y = 0.5x + 3,
// y2 = 0.5x + 3, y3 = 0.5x2 + 3; the counter starts at 0 and counts increments).
#include "loader/model.h"

#include <thread>

#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/saved_model_writer.h"
#include "tensorflow/core/example/example.pb.h"
#include "tests/util/fixtures.h"

namespace savant::loader {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
using ::testing::HasSubstr;

Tensor Column(const std::vector<float>& v) {
  return Tensor::FromVector<float>(DataType::kFloat, Shape{static_cast<int64_t>(v.size()), 1}, v);
}

// Serialized tf.Example protos with float features "x" = xs[i] and "x2" = x2s[i].
Tensor Examples(const std::vector<float>& xs, const std::vector<float>& x2s) {
  Tensor t(DataType::kString, Shape{static_cast<int64_t>(xs.size())});
  for (size_t i = 0; i < xs.size(); ++i) {
    tensorflow::Example ex;
    auto& f = *ex.mutable_features()->mutable_feature();
    f["x"].mutable_float_list()->add_value(xs[i]);
    f["x2"].mutable_float_list()->add_value(x2s[i]);
    ex.SerializeToString(&t.flat<std::string>()[i]);
  }
  return t;
}

std::vector<float> Floats(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DataType::kFloat);
  auto f = t.flat<float>();
  return {f.begin(), f.end()};
}

const std::vector<float> kX = {1.0f, 2.0f, 5.0f};
const std::vector<float> kX2 = {-4.0f, 0.0f, 10.0f};

std::vector<float> Affine(const std::vector<float>& v, float a, float b) {
  std::vector<float> out;
  for (float x : v) out.push_back(a * x + b);
  return out;
}

// Runs signature `key` and returns output `alias`, feeding x (or x2 for the x2 signatures) as the
// signature's input needs: serialized tf.Examples for string inputs, a [N,1] column, or one call
// per value when the signature takes a single value of shape [1] (the TF2 fixture).
std::vector<float> RunSignature(const Model& model, const std::string& key, const std::string& alias) {
  auto sig = model.FindSignature(key);
  EXPECT_TRUE(sig.ok()) << sig.status();
  if (!sig.ok()) return {};
  const TensorBinding& in = (*sig)->inputs.at(0);
  const std::vector<float>& values = key.find("x2") != std::string::npos ? kX2 : kX;
  std::vector<Tensor> feeds;
  if (in.feed_dtype == DataType::kString) {
    feeds.push_back(Examples(kX, kX2));
  } else if (in.shape.rank() == 1 && in.shape.dim(0) == 1) {
    for (float v : values) feeds.push_back(Tensor::FromVector<float>(DataType::kFloat, Shape{1}, {v}));
  } else {
    feeds.push_back(Column(values));
  }
  std::vector<float> result;
  for (const Tensor& feed : feeds) {
    auto out = model.Run(key, {{in.alias, feed}}, {alias});
    EXPECT_TRUE(out.ok()) << key << ": " << out.status();
    if (!out.ok() || out->empty()) return {};
    for (float v : Floats(out->at(0).second)) result.push_back(v);
  }
  return result;
}

class HalfPlusTwoTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HalfPlusTwoTest, EverySignatureGivesTensorFlowsAnswers) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/" + GetParam());
  if (GetParam().find("mkl") != std::string::npos &&
      engine::OpRegistry::Global().Find("Conv2D") == nullptr) {
    GTEST_SKIP() << "the mkl export's regress signatures run Conv2D, whose kernel lands with #5";
  }
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_EQ(RunSignature(m, "serving_default", "y"), Affine(kX, 0.5f, 2.0f));
  if (GetParam().find("mkl") != std::string::npos) {
    // The MKL export's regress_x_to_y2 and regress_x2_to_y3 add a conv stack's [1,10,10,1] output
    // (their declared output shape, unlike the CPU export's [-1,1]), so they are not y = 0.5x + b;
    // predict, classify and regress_x_to_y are. tests/golden/mkl_conv_stack_test.cc checks the two
    // conv-stack signatures against an outside oracle (tests/golden/mkl_conv_stack.js).
    EXPECT_EQ(RunSignature(m, "classify_x_to_y", "scores"), Affine(kX, 0.5f, 2.0f));
    EXPECT_EQ(RunSignature(m, "regress_x_to_y", "outputs"), Affine(kX, 0.5f, 2.0f));
    return;
  }
  EXPECT_EQ(RunSignature(m, "regress_x_to_y", "outputs"), Affine(kX, 0.5f, 2.0f));
  EXPECT_EQ(RunSignature(m, "regress_x_to_y2", "outputs"), Affine(kX, 0.5f, 3.0f));
  EXPECT_EQ(RunSignature(m, "regress_x2_to_y3", "outputs"), Affine(kX2, 0.5f, 3.0f));
  EXPECT_EQ(RunSignature(m, "classify_x_to_y", "scores"), Affine(kX, 0.5f, 2.0f));
  if (m.signatures().contains("classify_x2_to_y3")) {
    EXPECT_EQ(RunSignature(m, "classify_x2_to_y3", "scores"), Affine(kX2, 0.5f, 3.0f));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HalfPlusTwoTest,
                         ::testing::Values("saved_model_half_plus_two_cpu/00000123",
                                           "saved_model_half_plus_two_2_versions/00000123",
                                           "saved_model_half_plus_two_2_versions/00000124",
                                           "saved_model_half_plus_two_gpu/00000123",
                                           "saved_model_half_plus_two_mkl/00000123",
                                           "saved_model_half_plus_two_cpu_with_saved_model_config/00000123",
                                           "saved_model_half_plus_two_tf2_cpu/00000123"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(ModelTest, HalfPlusThree) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_three/00000123");
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(RunSignature(**model, "serving_default", "y"), Affine(kX, 0.5f, 3.0f));
  EXPECT_EQ(RunSignature(**model, "tensorflow/serving/regress", "outputs"), Affine(kX, 0.5f, 3.0f));
}

TEST(ModelTest, MatrixHalfPlusTwo) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/matrix_half_plus_two/1");
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  // The signature takes [-1, 3, 3] matrices.
  Tensor x = Tensor::FromVector<float>(DataType::kFloat, Shape{1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto out = (*model)->Run("serving_default", {{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at(0).second.shape(), Shape({1, 3, 3}));
  EXPECT_EQ(Floats(out->at(0).second), std::vector<float>({2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5}));
}

TEST(ModelTest, CounterIsStatefulAcrossCalls) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_counter/00000123");
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  auto call = [&](const std::string& key, NamedTensors in = {}) -> float {
    auto out = m.Run(key, in);
    EXPECT_TRUE(out.ok()) << key << ": " << out.status();
    return out.ok() ? out->at(0).second.flat<float>()[0] : -1.0f;
  };
  EXPECT_EQ(call("get_counter"), 0.0f);
  EXPECT_EQ(call("incr_counter"), 1.0f);
  EXPECT_EQ(call("incr_counter"), 2.0f);
  EXPECT_EQ(call("get_counter"), 2.0f);
  EXPECT_EQ(call("incr_counter_by", {{"delta", Tensor::Scalar(3.0f)}}), 5.0f);
  EXPECT_EQ(call("reset_counter"), 0.0f);
  EXPECT_EQ(call("get_counter"), 0.0f);

  // 8 threads x 250 increments: every increment is counted.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) ASSERT_TRUE(m.Run("incr_counter", {}).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(call("get_counter"), 2000.0f);
}

TEST(ModelTest, InputErrorsNameTheAliasAndBothValues) {
  SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  Tensor ints = Tensor::FromVector<int32_t>(DataType::kInt32, Shape{1, 1}, {1});
  auto wrong_dtype = (*model)->Run("serving_default", {{"x", ints}});
  EXPECT_EQ(wrong_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_dtype.status().message(), HasSubstr("input \"x\": expected DT_FLOAT, got DT_INT32"));

  auto wrong_shape = (*model)->Run("serving_default", {{"x", Column({1, 2}).Reshaped(Shape{1, 2}).value()}});
  EXPECT_EQ(wrong_shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_shape.status().message(), HasSubstr("expected shape [?,1], got [1,2]"));

  auto unknown_alias = (*model)->Run("serving_default", {{"z", Column({1})}});
  EXPECT_EQ(unknown_alias.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown_alias.status().message(), HasSubstr("sent extra: {z}"));
  EXPECT_THAT(unknown_alias.status().message(), HasSubstr("missing but required: {x}"));

  auto unknown_sig = (*model)->Run("nope", {{"x", Column({1})}});
  EXPECT_EQ(unknown_sig.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unknown_sig.status().message(), HasSubstr("serving_default"));
}

TEST(ModelTest, HandWrittenExampleModel) {
  auto model = Model::Load(savant::testing::TestDataDir() / "half_plus_two" / "00000001");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(RunSignature(**model, "serving_default", "y"), Affine(kX, 0.5f, 2.0f));
}

TEST(ModelTest, MissingDirectoryIsNotFound) {
  auto model = Model::Load("/nonexistent/savant/model");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(model.status().message(), HasSubstr("/nonexistent/savant/model"));
}

// x [?, in] -> MatMul with a [3, 2] variable kernel -> y, declared with `input` and `output`
// shapes. The kernel is a variable nothing assigns, so it folds to a constant of known shape.
absl::StatusOr<std::unique_ptr<Model>> LoadDense(const engine::PartialShape& input,
                                                 const engine::PartialShape& output) {
  SavedModelWriter w;
  w.AddVariable("kernel", Tensor::FromVector<float>(DataType::kFloat, Shape{3, 2}, {1, 2, 3, 4, 5, 6}));
  w.AddSignature({.key = "serving_default",
                  .inputs = {{"x", DataType::kFloat, input}},
                  .outputs = {{"y", "mm:product:0", DataType::kFloat, output}},
                  .body = {NodeBuilder("k", "ReadVariableOp").Input("kernel").Type("dtype", DataType::kFloat),
                           NodeBuilder("mm", "MatMul").Input("x").Input("k:value:0").Type("T", DataType::kFloat)}});
  auto dir = savant::testing::MakeTempDir("dense");
  RETURN_IF_ERROR(w.Write(dir / "1"));
  return Model::Load(dir / "1");
}

TEST(ModelTest, SignatureOutputShapesAreCheckedAgainstStaticShapes) {
  // [?,3] x [3,2] = [?,2]: a declaration of [?,2] (or an unknown rank) loads.
  auto good = LoadDense({-1, 3}, {-1, 2});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)->signatures().at("serving_default").function->fetch_shapes()[0].DebugString(),
            "[?,2]");
  EXPECT_TRUE(LoadDense({-1, 3}, engine::PartialShape::UnknownRank()).ok());
  // A signature promising [?,5] does not match what the graph computes.
  auto wrong_output = LoadDense({-1, 3}, {-1, 5});
  ASSERT_FALSE(wrong_output.ok());
  EXPECT_EQ(wrong_output.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_output.status().message(),
              HasSubstr("signature \"serving_default\": output \"y\""));
  EXPECT_THAT(wrong_output.status().message(),
              HasSubstr("the graph computes [?,2] but the signature declares [?,5]"));
  // An input of [?,4] cannot be multiplied by the [3,2] kernel: the load fails naming the node.
  auto wrong_input = LoadDense({-1, 4}, {-1, 2});
  ASSERT_FALSE(wrong_input.ok());
  EXPECT_EQ(wrong_input.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_input.status().message(), HasSubstr("(MatMul): Matrix size-incompatible"));
  EXPECT_THAT(wrong_input.status().message(), HasSubstr("In[0]: [?,4], In[1]: [3,2]"));
}

}  // namespace
}  // namespace savant::loader
