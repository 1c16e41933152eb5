// The real `savant` binary over gRPC, as a TensorFlow Serving client sees it: one server per test
// process serving TensorFlow Serving's own test models (copied to a temporary directory) from a
// ModelServerConfig file. Expected values come from the models' documented math and from the
// GetModelMetadata answers TensorFlow Serving recorded for the same models.
#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kserve/grpc_predict_v2.grpc.pb.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/suite_server.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
namespace tfs = tensorflow::serving;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

const std::vector<float> kX = {1, 2, 5};
constexpr int kWarmupIterations = 3;

class GrpcServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = SuiteServer::Start(
        {.name = "grpc_server_test",
         .models = {{"half_plus_two", "tfserving/saved_model_half_plus_two_cpu"},
                    {"saved_model_half_plus_two_2_versions", "tfserving/saved_model_half_plus_two_2_versions",
                     "model_version_policy { all {} }\n"
                     "    version_labels { key: \"stable\" value: 123 }\n"
                     "    version_labels { key: \"canary\" value: 124 }"},
                    {"tf2", "tfserving/saved_model_half_plus_two_tf2_cpu"},
                    {"counter", "tfserving/saved_model_counter"}},
         .flags = {"--enable_grpc_healthcheck_service",
                   absl::StrCat("--num_request_iterations_for_warmup=", kWarmupIterations)},
         // Warmup replays these before the versions serve; the counter proves it ran, and how often.
         .before_start = [](const fs::path& models) {
           tfs::PredictionLog incr;
           incr.mutable_predict_log()->mutable_request()->mutable_model_spec()->set_signature_name("incr_counter");
           WriteWarmupFile(models / "counter" / "00000123", {incr});
           tfs::PredictionLog predict, classify;
           (*predict.mutable_predict_log()->mutable_request()->mutable_inputs())["x"] = FloatColumn(kX);
           classify.mutable_classify_log()->mutable_request()->mutable_model_spec()->set_signature_name(
               "classify_x_to_y");
           *classify.mutable_classify_log()->mutable_request()->mutable_input() = ExampleInput("x", kX);
           WriteWarmupFile(models / "half_plus_two" / "00000123", {predict, classify});
         }});
  }

  static void TearDownTestSuite() { suite_.reset(); }

  void SetUp() override {
    SAVANT_SUITE_SERVER_OR_SKIP(*suite_);
    predict_ = tfs::PredictionService::NewStub(server().channel());
    model_ = tfs::ModelService::NewStub(server().channel());
    kserve_ = inference::GRPCInferenceService::NewStub(server().channel());
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  static tfs::PredictRequest HalfPlusTwo(const std::string& model = "half_plus_two") {
    tfs::PredictRequest request;
    request.mutable_model_spec()->set_name(model);
    (*request.mutable_inputs())["x"] = FloatColumn(kX);
    return request;
  }

  grpc::Status Predict(const tfs::PredictRequest& request, tfs::PredictResponse* response) {
    return predict_->Predict(Context().get(), request, response);
  }

  static fs::path Fixture(const std::string& relative) { return *FixturesRoot() / "tfserving" / relative; }

  static ServerProcess& server() { return suite_->process(); }

  static inline std::unique_ptr<SuiteServer> suite_;

  std::unique_ptr<tfs::PredictionService::Stub> predict_;
  std::unique_ptr<tfs::ModelService::Stub> model_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> kserve_;
};

TEST_F(GrpcServerTest, PredictHalfPlusTwo) {
  tfs::PredictResponse response;
  grpc::Status s = Predict(HalfPlusTwo(), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(response.outputs().contains("y"));
  EXPECT_THAT(Floats(response.outputs().at("y")), ElementsAre(2.5f, 3.0f, 4.5f));
  EXPECT_EQ(response.outputs().at("y").tensor_shape().dim_size(), 2);
  // TensorFlow Serving answers in the typed fields unless told otherwise.
  EXPECT_TRUE(response.outputs().at("y").tensor_content().empty());
  EXPECT_EQ(response.model_spec().name(), "half_plus_two");
  EXPECT_EQ(response.model_spec().version().value(), 123);
  EXPECT_EQ(response.model_spec().signature_name(), "serving_default");
}

TEST_F(GrpcServerTest, PredictOutputFilter) {
  tfs::PredictRequest request = HalfPlusTwo();
  request.add_output_filter("y");
  tfs::PredictResponse response;
  ASSERT_TRUE(Predict(request, &response).ok());
  EXPECT_EQ(response.outputs().size(), 1u);

  request.add_output_filter("z");
  grpc::Status s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("output tensor alias not found in signature: z"));
}

TEST_F(GrpcServerTest, VersionsAndLabels) {
  auto version_of = [&](const std::function<void(tfs::ModelSpec*)>& choose) -> int64_t {
    tfs::PredictRequest request = HalfPlusTwo("saved_model_half_plus_two_2_versions");
    choose(request.mutable_model_spec());
    tfs::PredictResponse response;
    grpc::Status s = Predict(request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(Floats(response.outputs().at("y")), ElementsAre(2.5f, 3.0f, 4.5f));
    return response.model_spec().version().value();
  };
  EXPECT_EQ(version_of([](tfs::ModelSpec*) {}), 124);
  EXPECT_EQ(version_of([](tfs::ModelSpec* s) { s->mutable_version()->set_value(123); }), 123);
  EXPECT_EQ(version_of([](tfs::ModelSpec* s) { s->set_version_label("stable"); }), 123);
  EXPECT_EQ(version_of([](tfs::ModelSpec* s) { s->set_version_label("canary"); }), 124);

  tfs::PredictRequest request = HalfPlusTwo("saved_model_half_plus_two_2_versions");
  request.mutable_model_spec()->set_version_label("nope");
  tfs::PredictResponse response;
  grpc::Status s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "Unrecognized servable version label: nope");
}

TEST_F(GrpcServerTest, UnknownModelOrVersionIsNotFoundInTensorFlowServingsWords) {
  tfs::PredictResponse response;
  grpc::Status s = Predict(HalfPlusTwo("nope"), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Servable not found for request: Latest(nope)");

  tfs::PredictRequest request = HalfPlusTwo();
  request.mutable_model_spec()->mutable_version()->set_value(7);
  s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Servable not found for request: Specific(half_plus_two, 7)");

  tfs::GetModelStatusRequest status_request;
  status_request.mutable_model_spec()->set_name("nope");
  tfs::GetModelStatusResponse status_response;
  s = model_->GetModelStatus(Context().get(), status_request, &status_response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Could not find any versions of model nope");
}

TEST_F(GrpcServerTest, UnknownSignatureIsFailedPrecondition) {
  tfs::PredictRequest request = HalfPlusTwo();
  request.mutable_model_spec()->set_signature_name("nope");
  tfs::PredictResponse response;
  grpc::Status s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("model \"half_plus_two\" version 123: Serving signature key \"nope\" not found"));
}

TEST_F(GrpcServerTest, BadInputsAreInvalidArgumentNamingTheTensor) {
  tfs::PredictRequest request = HalfPlusTwo();
  (*request.mutable_inputs())["x"].set_dtype(tensorflow::DT_INT32);
  tfs::PredictResponse response;
  grpc::Status s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "model \"half_plus_two\" version 123 signature \"serving_default\": input \"x\": expected DT_FLOAT, got DT_INT32");

  request = HalfPlusTwo();
  (*request.mutable_inputs())["z"] = FloatColumn({1});
  s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("input tensor alias not found in signature: z"));

  request = HalfPlusTwo();
  auto* shape = (*request.mutable_inputs())["x"].mutable_tensor_shape();
  shape->mutable_dim(1)->set_size(3);
  shape->mutable_dim(0)->set_size(1);
  s = Predict(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("input \"x\": expected shape [?,1], got [1,3]"));
}

TEST_F(GrpcServerTest, GetModelMetadataMatchesTensorFlowServing) {
  struct Case {
    std::string model;
    std::string json;
    // The TF2 answer was recorded from an export without SignatureDef.defaults (and partly by a
    // TensorFlow Serving whose proto lacked the field), while the TF2 fixture declares a default
    // for serving_default's "x"; that one field is left out of the comparison.
    bool ignore_defaults = false;
  };
  for (const Case& c : {Case{"half_plus_two", "half_plus_two_model_metadata.json"},
                        Case{"saved_model_half_plus_two_2_versions", "saved_model_half_plus_two_2_versions_metadata.json"},
                        Case{"tf2", "saved_model_half_plus_two_tf2_2_versions_metadata.json", true}}) {
    SCOPED_TRACE(c.json);
    auto expected = ReadJsonFile(Fixture(c.json));
    ASSERT_TRUE(expected.ok()) << expected.status();
    tfs::GetModelMetadataRequest request;
    request.mutable_model_spec()->set_name(c.model);
    request.mutable_model_spec()->mutable_version()->set_value(
        std::stoll((*expected)["model_spec"]["version"].GetString()));
    request.add_metadata_field("signature_def");
    tfs::GetModelMetadataResponse response;
    grpc::Status s = predict_->GetModelMetadata(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.model_spec().name(), c.model);
    EXPECT_EQ(response.model_spec().version().value(), 123);
    ASSERT_TRUE(response.metadata().contains("signature_def"));
    tfs::SignatureDefMap signatures;
    ASSERT_TRUE(response.metadata().at("signature_def").UnpackTo(&signatures));
    EXPECT_EQ(response.metadata().at("signature_def").type_url(),
              "type.googleapis.com/tensorflow.serving.SignatureDefMap");
    if (c.ignore_defaults) {
      for (auto& [key, signature] : *signatures.mutable_signature_def()) signature.clear_defaults();
      for (auto& m : (*expected)["metadata"]["signature_def"]["signature_def"].GetObject()) m.value.RemoveMember("defaults");
    }
    rapidjson::Document actual;
    actual.Parse(ToJson(signatures).c_str());
    if (c.ignore_defaults) {
      for (auto& m : actual["signature_def"].GetObject()) m.value.RemoveMember("defaults");
    }
    absl::Status equal = JsonEqual(actual, (*expected)["metadata"]["signature_def"]);
    EXPECT_TRUE(equal.ok()) << equal.message() << "\nactual: " << ToJson(signatures);
  }
}

TEST_F(GrpcServerTest, GetModelMetadataChecksTheRequest) {
  tfs::GetModelMetadataRequest request;
  request.mutable_model_spec()->set_name("half_plus_two");
  tfs::GetModelMetadataResponse response;
  grpc::Status s = predict_->GetModelMetadata(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "GetModelMetadataRequest must specify at least one metadata_field");
  request.add_metadata_field("graph");
  s = predict_->GetModelMetadata(Context().get(), request, &response);
  EXPECT_EQ(s.error_message(), "Metadata field graph is not supported");
}

TEST_F(GrpcServerTest, GetModelStatusUnderPolicyAll) {
  tfs::GetModelStatusRequest request;
  request.mutable_model_spec()->set_name("saved_model_half_plus_two_2_versions");
  tfs::GetModelStatusResponse response;
  grpc::Status s = model_->GetModelStatus(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.model_version_status_size(), 2);
  EXPECT_EQ(response.model_version_status(0).version(), 124);
  EXPECT_EQ(response.model_version_status(1).version(), 123);
  for (const auto& v : response.model_version_status()) {
    EXPECT_EQ(v.state(), tfs::ModelVersionStatus::AVAILABLE);
    EXPECT_EQ(v.status().error_code(), tensorflow::error::OK);
    EXPECT_EQ(v.status().error_message(), "");
  }
  request.mutable_model_spec()->mutable_version()->set_value(123);
  response.Clear();
  ASSERT_TRUE(model_->GetModelStatus(Context().get(), request, &response).ok());
  ASSERT_EQ(response.model_version_status_size(), 1);
  EXPECT_EQ(response.model_version_status(0).version(), 123);
}

TEST_F(GrpcServerTest, ClassifyThroughTfExamples) {
  tfs::ClassificationRequest request;
  request.mutable_model_spec()->set_name("half_plus_two");
  request.mutable_model_spec()->set_signature_name("classify_x_to_y");
  *request.mutable_input() = ExampleInput("x", kX);
  tfs::ClassificationResponse response;
  grpc::Status s = predict_->Classify(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.result().classifications_size(), 3);
  std::vector<float> scores;
  for (const auto& c : response.result().classifications()) {
    ASSERT_EQ(c.classes_size(), 1);
    EXPECT_EQ(c.classes(0).label(), "");
    scores.push_back(c.classes(0).score());
  }
  EXPECT_THAT(scores, ElementsAre(2.5f, 3.0f, 4.5f));
  EXPECT_EQ(response.model_spec().signature_name(), "classify_x_to_y");
  EXPECT_EQ(response.model_spec().version().value(), 123);

  // A regression signature has no "classes" or "scores" output.
  request.mutable_model_spec()->set_signature_name("regress_x_to_y");
  s = predict_->Classify(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("Expected classification signature outputs to contain at least one of"));
}

TEST_F(GrpcServerTest, RegressThroughTfExamplesAndContext) {
  tfs::RegressionRequest request;
  request.mutable_model_spec()->set_name("half_plus_two");
  request.mutable_model_spec()->set_signature_name("regress_x_to_y2");
  *request.mutable_input() = ExampleInput("x", kX);
  tfs::RegressionResponse response;
  grpc::Status s = predict_->Regress(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<float> values;
  for (const auto& r : response.result().regressions()) values.push_back(r.value());
  EXPECT_THAT(values, ElementsAre(3.5f, 4.0f, 5.5f));

  // The context's x = 4 merges into every example (which carry only x2): y2 = 0.5 * 4 + 3.
  auto* with_context = request.mutable_input()->mutable_example_list_with_context();
  *with_context->mutable_examples() = ExampleInput("x2", kX).example_list().examples();
  (*with_context->mutable_context()->mutable_features()->mutable_feature())["x"].mutable_float_list()->add_value(4);
  response.Clear();
  s = predict_->Regress(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  values.clear();
  for (const auto& r : response.result().regressions()) values.push_back(r.value());
  EXPECT_THAT(values, ElementsAre(5.0f, 5.0f, 5.0f));

  request.clear_input();
  s = predict_->Regress(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "Input is empty.");
}

TEST_F(GrpcServerTest, MultiInferenceRunsEveryTask) {
  tfs::MultiInferenceRequest request;
  auto* classify = request.add_tasks();
  classify->mutable_model_spec()->set_name("half_plus_two");
  classify->mutable_model_spec()->set_signature_name("classify_x_to_y");
  classify->set_method_name("tensorflow/serving/classify");
  auto* regress = request.add_tasks();
  regress->mutable_model_spec()->set_name("half_plus_two");
  regress->mutable_model_spec()->set_signature_name("regress_x_to_y2");
  regress->set_method_name("tensorflow/serving/regress");
  *request.mutable_input() = ExampleInput("x", kX);
  tfs::MultiInferenceResponse response;
  grpc::Status s = predict_->MultiInference(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).classification_result().classifications(2).classes(0).score(), 4.5f);
  EXPECT_EQ(response.results(1).regression_result().regressions(2).value(), 5.5f);
  EXPECT_EQ(response.results(1).model_spec().signature_name(), "regress_x_to_y2");

  regress->set_method_name("tensorflow/serving/predict");
  s = predict_->MultiInference(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), "Unsupported signature method_name: tensorflow/serving/predict");
}

TEST_F(GrpcServerTest, CounterIsStatefulAndWasWarmedUp) {
  auto call = [&](const std::string& signature, std::optional<float> delta = std::nullopt) -> float {
    tfs::PredictRequest request;
    request.mutable_model_spec()->set_name("counter");
    request.mutable_model_spec()->set_signature_name(signature);
    if (delta.has_value()) {
      tensorflow::TensorProto t;
      t.set_dtype(tensorflow::DT_FLOAT);
      t.add_float_val(*delta);
      (*request.mutable_inputs())["delta"] = t;
    }
    tfs::PredictResponse response;
    grpc::Status s = Predict(request, &response);
    EXPECT_TRUE(s.ok()) << signature << ": " << s.error_message();
    if (response.outputs().empty()) return -1;
    return Floats(response.outputs().begin()->second).at(0);
  };
  // The warmup record (incr_counter) ran kWarmupIterations times before the version served.
  EXPECT_EQ(call("get_counter"), kWarmupIterations);
  EXPECT_EQ(call("incr_counter"), kWarmupIterations + 1);
  EXPECT_EQ(call("incr_counter_by", 3), kWarmupIterations + 4);
  EXPECT_EQ(call("reset_counter"), 0);
  EXPECT_EQ(call("incr_counter"), 1);
  EXPECT_EQ(call("get_counter"), 1);
}

TEST_F(GrpcServerTest, KServeServerAndModelEndpoints) {
  inference::ServerLiveResponse live;
  ASSERT_TRUE(kserve_->ServerLive(Context().get(), {}, &live).ok());
  EXPECT_TRUE(live.live());
  inference::ServerReadyResponse ready;
  ASSERT_TRUE(kserve_->ServerReady(Context().get(), {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  inference::ServerMetadataResponse server_metadata;
  ASSERT_TRUE(kserve_->ServerMetadata(Context().get(), {}, &server_metadata).ok());
  EXPECT_EQ(server_metadata.name(), "savant");

  inference::ModelReadyRequest ready_request;
  ready_request.set_name("saved_model_half_plus_two_2_versions");
  inference::ModelReadyResponse model_ready;
  ASSERT_TRUE(kserve_->ModelReady(Context().get(), ready_request, &model_ready).ok());
  EXPECT_TRUE(model_ready.ready());
  ready_request.set_version("7");
  ASSERT_TRUE(kserve_->ModelReady(Context().get(), ready_request, &model_ready).ok());
  EXPECT_FALSE(model_ready.ready());
  ready_request.set_name("nope");
  EXPECT_EQ(kserve_->ModelReady(Context().get(), ready_request, &model_ready).error_code(), grpc::StatusCode::NOT_FOUND);

  inference::ModelMetadataRequest metadata_request;
  metadata_request.set_name("saved_model_half_plus_two_2_versions");
  inference::ModelMetadataResponse metadata;
  ASSERT_TRUE(kserve_->ModelMetadata(Context().get(), metadata_request, &metadata).ok());
  EXPECT_EQ(metadata.name(), "saved_model_half_plus_two_2_versions");
  EXPECT_THAT(metadata.versions(), ElementsAre("123", "124"));
  EXPECT_EQ(metadata.platform(), "tensorflow_savedmodel");
  ASSERT_EQ(metadata.inputs_size(), 1);
  EXPECT_EQ(metadata.inputs(0).name(), "x");
  EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
  EXPECT_THAT(metadata.inputs(0).shape(), ElementsAre(-1, 1));
  ASSERT_EQ(metadata.outputs_size(), 1);
  EXPECT_EQ(metadata.outputs(0).name(), "y");
}

TEST_F(GrpcServerTest, KServeModelInferWithTypedContents) {
  inference::ModelInferRequest request;
  request.set_model_name("half_plus_two");
  request.set_id("req-1");
  auto* x = request.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(3);
  x->add_shape(1);
  for (float v : kX) x->mutable_contents()->add_fp32_contents(v);
  inference::ModelInferResponse response;
  grpc::Status s = kserve_->ModelInfer(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.model_name(), "half_plus_two");
  EXPECT_EQ(response.model_version(), "123");
  EXPECT_EQ(response.id(), "req-1");
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "y");
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_THAT(response.outputs(0).shape(), ElementsAre(3, 1));
  EXPECT_THAT(response.outputs(0).contents().fp32_contents(), ElementsAre(2.5f, 3.0f, 4.5f));
  EXPECT_TRUE(response.raw_output_contents().empty());

  x->mutable_contents()->add_fp32_contents(9);
  s = kserve_->ModelInfer(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("input \"x\": expected 3 values in fp32_contents for shape [3,1], got 4"));
}

TEST_F(GrpcServerTest, KServeModelInferWithRawContents) {
  auto golden = ReadHexGolden(fs::path(SAVANT_SOURCE_DIR) / "tests/integration/golden/model_infer_half_plus_two_raw.hex");
  ASSERT_TRUE(golden.ok()) << golden.status();
  inference::ModelInferRequest request;
  ASSERT_TRUE(request.ParseFromString(*golden));
  inference::ModelInferResponse response;
  grpc::Status s = kserve_->ModelInfer(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.outputs_size(), 1);
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  EXPECT_FALSE(response.outputs(0).has_contents());
  const std::string& raw = response.raw_output_contents(0);
  ASSERT_EQ(raw.size(), 12u);
  std::vector<float> y(3);
  std::memcpy(y.data(), raw.data(), raw.size());
  EXPECT_THAT(y, ElementsAre(2.5f, 3.0f, 4.5f));

  request.mutable_raw_input_contents(0)->pop_back();
  s = kserve_->ModelInfer(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("expected 12 bytes of raw_input_contents"));
}

TEST_F(GrpcServerTest, HealthCheckReportsServing) {
  // grpc.health.v1.HealthCheckRequest{} is empty; the response {status: SERVING} is 08 01.
  for (const std::string& service : {std::string(), std::string("tensorflow.serving.PredictionService")}) {
    std::string request;
    if (!service.empty()) request = absl::StrCat(std::string(1, '\x0a'), std::string(1, static_cast<char>(service.size())), service);
    auto response = RawUnaryCall(server().channel(), "/grpc.health.v1.Health/Check", request);
    ASSERT_TRUE(response.ok()) << service << ": " << response.status();
    EXPECT_EQ(*response, std::string("\x08\x01", 2)) << service;
  }
}

TEST_F(GrpcServerTest, ReflectionListsTheServices) {
  auto services = ListServicesByReflection(server().channel());
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, IsSupersetOf({"tensorflow.serving.PredictionService", "tensorflow.serving.ModelService",
                                       "inference.GRPCInferenceService", "grpc.health.v1.Health",
                                       "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST(WireFormatTest, PredictRequestMatchesTheGoldenBytes) {
  auto golden = ReadHexGolden(fs::path(SAVANT_SOURCE_DIR) / "tests/integration/golden/predict_half_plus_two.hex");
  ASSERT_TRUE(golden.ok()) << golden.status();
  tfs::PredictRequest request;
  request.mutable_model_spec()->set_name("half_plus_two");
  request.mutable_model_spec()->set_signature_name("serving_default");
  (*request.mutable_inputs())["x"] = FloatColumn(kX);
  std::string bytes;
  ASSERT_TRUE(request.SerializeToString(&bytes));
  EXPECT_EQ(bytes, *golden);
}

TEST(WireFormatTest, ModelInferRequestMatchesTheGoldenBytes) {
  auto golden = ReadHexGolden(fs::path(SAVANT_SOURCE_DIR) / "tests/integration/golden/model_infer_half_plus_two_raw.hex");
  ASSERT_TRUE(golden.ok()) << golden.status();
  inference::ModelInferRequest request;
  request.set_model_name("half_plus_two");
  auto* x = request.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(3);
  x->add_shape(1);
  std::string raw(12, '\0');
  std::memcpy(raw.data(), kX.data(), 12);
  request.add_raw_input_contents(raw);
  EXPECT_EQ(request.SerializeAsString(), *golden);
}

}  // namespace
}  // namespace savant::testing
