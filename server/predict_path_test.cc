// The shared request path on versions in hand (no manager lookups): TensorFlow Serving's
// Predict/Classify/Regress semantics and error wording on its half_plus_two test model.
#include "server/predict_path.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/fixtures.h"

namespace savant::server {
namespace {

namespace tfs = tensorflow::serving;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PredictPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SAVANT_FIXTURE_OR_SKIP(dir, "tfserving/saved_model_half_plus_two_cpu/00000123");
    auto model = loader::Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    version_ = {"half_plus_two", 123, dir, std::shared_ptr<const loader::Model>(*std::move(model))};
  }

  static tfs::PredictRequest Request() {
    tfs::PredictRequest request;
    request.mutable_model_spec()->set_name("half_plus_two");
    auto& x = (*request.mutable_inputs())["x"];
    x.set_dtype(tensorflow::DT_FLOAT);
    x.mutable_tensor_shape()->add_dim()->set_size(3);
    x.mutable_tensor_shape()->add_dim()->set_size(1);
    for (float v : {1.0f, 2.0f, 5.0f}) x.add_float_val(v);
    return request;
  }

  static tfs::Input Examples(const std::string& key) {
    tfs::Input input;
    for (float v : {1.0f, 2.0f, 5.0f}) {
      auto* e = input.mutable_example_list()->add_examples();
      (*e->mutable_features()->mutable_feature())[key].mutable_float_list()->add_value(v);
    }
    return input;
  }

  LoadedVersion version_;
};

TEST_F(PredictPathTest, PredictAnswersInTypedFieldsByDefault) {
  tfs::PredictResponse response;
  ASSERT_TRUE(RunPredict(version_, Request(), &response, {}).ok());
  const auto& y = response.outputs().at("y");
  EXPECT_THAT(y.float_val(), ElementsAre(2.5f, 3.0f, 4.5f));
  EXPECT_TRUE(y.tensor_content().empty());
  EXPECT_EQ(response.model_spec().signature_name(), "serving_default");

  PredictPathOptions content;
  content.serialize_as_tensor_content = true;
  response.Clear();
  ASSERT_TRUE(RunPredict(version_, Request(), &response, content).ok());
  EXPECT_EQ(response.outputs().at("y").tensor_content().size(), 12u);
  EXPECT_TRUE(response.outputs().at("y").float_val().empty());
}

TEST_F(PredictPathTest, OutputFilterErrors) {
  tfs::PredictRequest request = Request();
  request.add_output_filter("y");
  request.add_output_filter("y");
  tfs::PredictResponse response;
  absl::Status s = RunPredict(version_, request, &response, {});
  EXPECT_EQ(s, absl::InvalidArgumentError(
                   "model \"half_plus_two\" version 123 signature \"serving_default\": duplicate output tensor alias: y"));
}

TEST_F(PredictPathTest, MalformedTensorNamesTheInput) {
  tfs::PredictRequest request = Request();
  (*request.mutable_inputs())["x"].set_tensor_content("abc");
  tfs::PredictResponse response;
  absl::Status s = RunPredict(version_, request, &response, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("signature \"serving_default\": input \"x\": "));
}

TEST_F(PredictPathTest, ExamplesWithContextConcatenateSerializations) {
  tfs::Input input;
  auto* list = input.mutable_example_list_with_context();
  (*list->add_examples()->mutable_features()->mutable_feature())["a"].mutable_float_list()->add_value(1);
  (*list->mutable_context()->mutable_features()->mutable_feature())["b"].mutable_float_list()->add_value(2);
  auto t = InputToExamplesTensor(input);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->num_elements(), 1);
  tensorflow::Example merged;
  ASSERT_TRUE(merged.ParseFromString(t->flat<std::string>()[0]));
  EXPECT_EQ(merged.features().feature().size(), 2u);
  EXPECT_EQ(InputToExamplesTensor(tfs::Input()).status(), absl::InvalidArgumentError("Input is empty."));
}

TEST_F(PredictPathTest, ClassifyAndRegress) {
  tfs::ClassificationRequest classify;
  classify.mutable_model_spec()->set_signature_name("classify_x_to_y");
  *classify.mutable_input() = Examples("x");
  tfs::ClassificationResponse classified;
  ASSERT_TRUE(RunClassify(version_, classify, &classified, {}).ok());
  EXPECT_EQ(classified.result().classifications(1).classes(0).score(), 3.0f);

  tfs::RegressionRequest regress;
  regress.mutable_model_spec()->set_signature_name("regress_x_to_y");
  *regress.mutable_input() = Examples("x");
  tfs::RegressionResponse regressed;
  ASSERT_TRUE(RunRegress(version_, regress, &regressed, {}).ok());
  EXPECT_EQ(regressed.result().regressions(2).value(), 4.5f);
}

TEST_F(PredictPathTest, ClassifyUsesTensorFlowServingsChecks) {
  tfs::ClassificationRequest request;
  request.mutable_model_spec()->set_signature_name("nope");
  *request.mutable_input() = Examples("x");
  tfs::ClassificationResponse response;
  EXPECT_EQ(RunClassify(version_, request, &response, {}),
            absl::InvalidArgumentError(
                "model \"half_plus_two\" version 123 signature \"nope\": No signature was found with the name: nope"));

  PredictPathOptions strict;
  strict.enable_signature_method_name_check = true;
  request.mutable_model_spec()->set_signature_name("regress_x_to_y");
  absl::Status s = RunClassify(version_, request, &response, strict);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("Expected classification signature method_name to be "
                                     "tensorflow/serving/classify. Was: tensorflow/serving/regress"));
}

TEST_F(PredictPathTest, ModelSpecWithoutName) {
  EXPECT_EQ(SelectorFromModelSpec(tfs::ModelSpec()).status(),
            absl::InvalidArgumentError("ModelSpec has no name specified."));
  tfs::ModelSpec spec;
  spec.set_name("m");
  spec.set_version_label("stable");
  auto selector = SelectorFromModelSpec(spec);
  ASSERT_TRUE(selector.ok());
  EXPECT_EQ(selector->label, "stable");
  EXPECT_FALSE(selector->version.has_value());
}

}  // namespace
}  // namespace savant::server
