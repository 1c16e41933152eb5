// The real `savant` binary over REST, as curl sees it: TensorFlow Serving's REST API (every example
// of its api_rest documentation, run against the same half_plus_two / half_plus_three models the
// documentation uses), its error statuses, KServe v2 REST, keep-alive and the request limits.
// Expected values come from the documentation's examples, the models' math (y = 0.5 * x + 2,
// y = 0.5 * x + 3, y3 = 0.5 * x2 + 3) and the GetModelMetadata answers TensorFlow Serving recorded.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <limits>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/rest_test_util.h"
#include "tests/integration/server_process.h"
#include "tests/integration/suite_server.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kMaxBody = 1 << 20;

class RestApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = SuiteServer::Start(
        {.name = "rest_api_test",
         .models = {{"half_plus_two", "tfserving/saved_model_half_plus_two_cpu"},
                    {"half_plus_three", "tfserving/saved_model_half_plus_three"},
                    {"saved_model_half_plus_two_2_versions", "tfserving/saved_model_half_plus_two_2_versions",
                     "model_version_policy { all {} }\n"
                     "    version_labels { key: \"stable\" value: 123 }\n"
                     "    version_labels { key: \"canary\" value: 124 }"}},
         .fixtures = {"tfserving/monitoring_config.txt", "tfserving/half_plus_two_model_metadata.json",
                      "tfserving/saved_model_half_plus_two_2_versions_metadata.json"},
         .flags = {absl::StrCat("--rest_api_port=", FreeLoopbackPort()),
                   absl::StrCat("--rest_max_body_bytes=", kMaxBody), "--rest_max_tensor_elements=100000",
                   "--rest_api_num_threads=4",
                   "--monitoring_config_file=" + Fixture("monitoring_config.txt").string()}});
  }

  static void TearDownTestSuite() { suite_.reset(); }

  void SetUp() override {
    SAVANT_SUITE_SERVER_OR_SKIP(*suite_);
    ASSERT_NE(server().rest_port(), 0) << "no REST port in the port file";
    client_ = std::make_unique<HttpClient>(server().rest_port());
  }

  // Sends and checks the status and the JSON body by value.
  void Expect(const std::string& method, const std::string& target, const std::string& body, int status,
              const std::string& expected_json, double rel_tolerance = 0) {
    SCOPED_TRACE(absl::StrCat(method, " ", target, " ", body.substr(0, 200)));
    auto result = client_->Send(method, target, body);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, status) << result->body;
    EXPECT_EQ(result->headers["content-type"], "application/json");
    rapidjson::Document actual = ParseJson(result->body);
    ASSERT_FALSE(actual.HasParseError()) << "not JSON: " << result->body;
    rapidjson::Document expected = ParseJson(expected_json);
    ASSERT_FALSE(expected.HasParseError()) << "bad expectation: " << expected_json;
    std::string diff;
    EXPECT_TRUE(JsonValuesEqual(actual, expected, &diff, rel_tolerance)) << "$" << diff << "\nactual: " << result->body;
  }

  // Sends and checks the status and that the {"error": ...} message contains `fragment`.
  void ExpectError(const std::string& method, const std::string& target, const std::string& body, int status,
                   const std::string& fragment) {
    SCOPED_TRACE(absl::StrCat(method, " ", target, " ", body.substr(0, 200)));
    auto result = client_->Send(method, target, body);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, status) << result->body;
    rapidjson::Document doc = ParseJson(result->body);
    ASSERT_TRUE(!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") && doc["error"].IsString())
        << result->body;
    EXPECT_EQ(doc.MemberCount(), 1u) << result->body;
    EXPECT_THAT(doc["error"].GetString(), HasSubstr(fragment));
  }

  // A file of TensorFlow Serving's fixtures (its presence is checked before the suite starts).
  static fs::path Fixture(const std::string& relative) {
    auto root = FixturesRoot();
    return root.ok() ? *root / "tfserving" / relative : fs::path(relative);
  }
  static ServerProcess& server() { return suite_->process(); }

  static inline std::unique_ptr<SuiteServer> suite_;
  std::unique_ptr<HttpClient> client_;
};


// ---- the examples of TensorFlow Serving's api_rest.md, on the model it uses (half_plus_three) ----

TEST_F(RestApiTest, DocExampleModelStatus) {
  Expect("GET", "/v1/models/half_plus_three", "", 200, R"({
   "model_version_status": [
    {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
   ]})");
}

TEST_F(RestApiTest, DocExamplePredict) {
  Expect("POST", "/v1/models/half_plus_three:predict", R"({"instances": [1.0,2.0,5.0]})", 200,
         R"({"predictions": [3.5, 4.0, 5.5]})");
}

// TODO(#7): the same call on half_plus_two, as in TensorFlow Serving's Docker guide, answers
// {"predictions": [2.5, 3.0, 4.5]} in TensorFlow Serving, which feeds the [3] tensor to the [?,1]
// placeholder unchecked; Savant's loader checks feeds against the signature's shape
// (loader::Model::ValidateInputs) and answers 400. Enable once the loader accepts it.
TEST_F(RestApiTest, DISABLED_DockerGuideExampleFeedsRankOneToHalfPlusTwo) {
  Expect("POST", "/v1/models/half_plus_two:predict", R"({"instances": [1.0, 2.0, 5.0]})", 200,
         R"({"predictions": [2.5, 3.0, 4.5]})");
}

TEST_F(RestApiTest, DocExampleRegress) {
  Expect("POST", "/v1/models/half_plus_three:regress",
         R"({"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]})", 200,
         R"({"results": [3.5, 4.0]})");
}

TEST_F(RestApiTest, DocExampleUnknownModelIs404) {
  auto result = client_->Post("/v1/models/half:predict", R"({"instances": [1.0,5.0]})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, 404);
  EXPECT_EQ(result->headers["content-type"], "application/json");
  rapidjson::Document doc = ParseJson(result->body);
  ASSERT_TRUE(doc.IsObject()) << result->body;
  EXPECT_STREQ(doc["error"].GetString(), "Servable not found for request: Latest(half)");
}

TEST_F(RestApiTest, DocRowFormatInstancesAsNestedLists) {
  // "List of 2 tensors each of [1, 2] shape" in the documentation's row format: a batch of
  // rows; here each row is [1] because half_plus_two's x is [?, 1].
  Expect("POST", "/v1/models/half_plus_two:predict", R"({"instances": [[1.0], [2.0], [5.0]]})", 200,
         R"({"predictions": [[2.5], [3.0], [4.5]]})");
}

TEST_F(RestApiTest, DocRowFormatNamedInstances) {
  Expect("POST", "/v1/models/half_plus_two:predict", R"({"instances": [{"x": [1.0]}, {"x": [2.0]}, {"x": [5.0]}]})",
         200, R"({"predictions": [[2.5], [3.0], [4.5]]})");
}

TEST_F(RestApiTest, DocColumnarFormat) {
  Expect("POST", "/v1/models/half_plus_two:predict", R"({"inputs": [[1.0], [2.0], [5.0]]})", 200,
         R"({"outputs": [[2.5], [3.0], [4.5]]})");
  Expect("POST", "/v1/models/half_plus_two:predict", R"({"inputs": {"x": [[1.0], [2.0], [5.0]]}})", 200,
         R"({"outputs": [[2.5], [3.0], [4.5]]})");
}

TEST_F(RestApiTest, DocSignatureName) {
  Expect("POST", "/v1/models/half_plus_two:predict",
         R"({"signature_name": "serving_default", "instances": [[1.0], [2.0]]})", 200,
         R"({"predictions": [[2.5], [3.0]]})");
  // signature_name after the tensors is read too.
  Expect("POST", "/v1/models/half_plus_two:predict",
         R"({"instances": [[1.0], [2.0]], "signature_name": "serving_default"})", 200,
         R"({"predictions": [[2.5], [3.0]]})");
}

TEST_F(RestApiTest, DocClassifyResponseFormat) {
  // classify_x_to_y has only "scores": the label is "" as the documentation says.
  Expect("POST", "/v1/models/half_plus_two:classify",
         R"({"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 2.0}]})", 200,
         R"({"results": [[["", 2.5]], [["", 3.0]]]})");
}

TEST_F(RestApiTest, DocBinaryValuesInExamples) {
  // The documentation's classify request with a base64 "image" and a "caption" feature, plus the
  // "x" that half_plus_two's classify_x_to_y reads (the other features are parsed and ignored).
  Expect("POST", "/v1/models/half_plus_two:classify", R"({
      "signature_name": "classify_x_to_y",
      "examples": [
        {"image": {"b64": "aW1hZ2UgYnl0ZXM="}, "caption": "seaside", "x": 1.0},
        {"image": {"b64": "YXdlc29tZSBpbWFnZSBieXRlcw=="}, "caption": "mountains", "x": 5.0}
      ]})", 200, R"({"results": [[["", 2.5]], [["", 4.5]]]})");
  ExpectError("POST", "/v1/models/half_plus_two:classify",
              R"({"signature_name": "classify_x_to_y", "examples": [{"image": {"b64": "%%%"}, "x": 1.0}]})", 400,
              "Unable to base64 decode");
}

TEST_F(RestApiTest, DocRegressWithContext) {
  // y2 = 0.5 * x + 3 with x from the shared context.
  Expect("POST", "/v1/models/half_plus_two:regress",
         R"({"signature_name": "regress_x_to_y2", "context": {"x": 4.0}, "examples": [{"x2": 1.0}, {"x2": 7.0}]})",
         200, R"({"results": [5.0, 5.0]})");
  Expect("POST", "/v1/models/half_plus_two:regress",
         R"({"signature_name": "regress_x_to_y2", "examples": [{"x": [1.0]}, {"x": [5.0]}]})", 200,
         R"({"results": [3.5, 5.5]})");
}

TEST_F(RestApiTest, DocNanAndInfinityTokens) {
  auto result = client_->Post("/v1/models/half_plus_two:predict", R"({"instances": [[NaN], [Infinity], [-Infinity]]})");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_THAT(result->body, HasSubstr("NaN"));
  EXPECT_THAT(result->body, HasSubstr("-Infinity"));
  rapidjson::Document doc = ParseJson(result->body);
  ASSERT_FALSE(doc.HasParseError()) << result->body;
  const auto& p = doc["predictions"];
  EXPECT_TRUE(std::isnan(p[0][0].GetDouble()));
  EXPECT_EQ(p[1][0].GetDouble(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(p[2][0].GetDouble(), -std::numeric_limits<double>::infinity());
}

TEST_F(RestApiTest, FloatsRoundTripExactly) {
  // 0.5 * x is exact in float32, so y = 0.5 * x + 2 rounds once; the JSON text must bring back
  // exactly that float.
  const std::vector<float> xs = {0.1f, 1e-7f, 3.14159274f, 123456.789f, -7.77e10f, 16777215.0f, 0.3333333f};
  std::string instances;
  for (float x : xs) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.9g", x);
    absl::StrAppend(&instances, instances.empty() ? "" : ",", "[", buf, "]");
  }
  auto result = client_->Post("/v1/models/half_plus_two:predict", absl::StrCat("{\"instances\": [", instances, "]}"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, 200) << result->body;
  rapidjson::Document doc = ParseJson(result->body);
  ASSERT_TRUE(doc.IsObject()) << result->body;
  const auto& p = doc["predictions"];
  ASSERT_EQ(p.Size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = 0.5f * xs[i] + 2.0f;
    EXPECT_EQ(static_cast<float>(p[static_cast<rapidjson::SizeType>(i)][0].GetDouble()), want) << result->body;
  }
  // TensorFlow Serving writes whole floats with ".0".
  auto whole = client_->Post("/v1/models/half_plus_two:predict", R"({"instances": [[2.0]]})");
  ASSERT_TRUE(whole.ok());
  EXPECT_THAT(whole->body, HasSubstr("3.0"));
}

// ---- versions, labels, status and metadata ----

TEST_F(RestApiTest, VersionsAndLabels) {
  const std::string two = "/v1/models/saved_model_half_plus_two_2_versions";
  Expect("POST", two + "/versions/124:predict", R"({"instances": [[1.0]]})", 200, R"({"predictions": [[2.5]]})");
  Expect("POST", two + "/labels/canary:predict", R"({"instances": [[1.0]]})", 200, R"({"predictions": [[2.5]]})");
  Expect("GET", two, "", 200, R"({"model_version_status": [
     {"version": "124", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
     {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})");
  Expect("GET", two + "/versions/123", "", 200, R"({"model_version_status": [
     {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})");
  Expect("GET", two + "/labels/stable", "", 200, R"({"model_version_status": [
     {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})");
}

TEST_F(RestApiTest, MetadataMatchesTensorFlowServing) {
  for (const auto& [target, file] :
       std::vector<std::pair<std::string, std::string>>{
           {"/v1/models/saved_model_half_plus_two_2_versions/versions/123/metadata",
            "saved_model_half_plus_two_2_versions_metadata.json"},
           {"/v1/models/half_plus_two/metadata", "half_plus_two_model_metadata.json"}}) {
    SCOPED_TRACE(target);
    auto expected = ReadJsonFile(Fixture(file));
    ASSERT_TRUE(expected.ok()) << expected.status();
    auto result = client_->Get(target);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, 200) << result->body;
    rapidjson::Document actual = ParseJson(result->body);
    ASSERT_TRUE(actual.IsObject()) << result->body;
    // The half_plus_two answer was recorded for a model named "default".
    if (file == "half_plus_two_model_metadata.json") (*expected)["model_spec"]["name"].SetString("half_plus_two");
    std::string diff;
    EXPECT_TRUE(JsonValuesEqual(actual, *expected, &diff)) << "$" << diff << "\nactual: " << result->body;
  }
}

// ---- errors ----

TEST_F(RestApiTest, ErrorStatuses) {
  const std::string predict = "/v1/models/half_plus_two:predict";
  ExpectError("POST", predict, R"({"instances": [1.0,)", 400, "JSON Parse error");
  ExpectError("POST", predict, "", 400, "JSON Parse error");
  ExpectError("POST", predict, R"([1.0])", 400, "Is not object");
  ExpectError("POST", predict, R"({"instances": [["a"]]})", 400, "is not of expected type: float");
  ExpectError("POST", predict, R"({"instances": [[true]]})", 400, "is not of expected type: float");
  ExpectError("POST", predict, R"({"instances": [[16777217]]})", 400, "without loss of precision");
  ExpectError("POST", predict, R"({"instances": [[1.0], [2.0, 3.0]]})", 400, "unexpected size");
  ExpectError("POST", predict, R"({"instances": [[1.0], 2.0]})", 400, "incorrect level");
  ExpectError("POST", predict, R"({"inputs": [[1.0]], "instances": [[1.0]]})", 400, "only one of");
  ExpectError("POST", predict, R"({"signature_name": "serving_default"})", 400, "Missing 'inputs' or 'instances' key");
  ExpectError("POST", predict, R"({"instances": [{"y": [1.0]}]})", 400, "does not have named input: y");
  ExpectError("POST", predict, R"({"instances": [[1.0]], "signature_name": 7})", 400, "must be a string");
  ExpectError("POST", predict, R"({"signature_name": "nope", "instances": [[1.0]]})", 400,
              "Serving signature name: \"nope\" not found");
  ExpectError("POST", "/v1/models/nope:predict", R"({"instances": [[1.0]]})", 404,
              "Servable not found for request: Latest(nope)");
  ExpectError("POST", "/v1/models/half_plus_two/versions/999:predict", R"({"instances": [[1.0]]})", 404,
              "Servable not found for request: Specific(half_plus_two, 999)");
  ExpectError("POST", "/v1/models/half_plus_two/labels/nope:predict", R"({"instances": [[1.0]]})", 400,
              "Unrecognized servable version label: nope");
  ExpectError("GET", "/v1/models/nope", "", 404, "Could not find any versions of model nope");
  ExpectError("GET", "/v1/models/half_plus_two/versions/999", "", 404, "Could not find version 999 of model half_plus_two");
  ExpectError("GET", "/v1/models/nope/metadata", "", 404, "Servable not found");
  ExpectError("GET", "/v1/models", "", 400, "Missing model name in request.");
  ExpectError("GET", "/v1/models/half_plus_two:predict", "", 400, "Malformed request");
  ExpectError("POST", "/v1/models/half_plus_two:explain", "{}", 400, "Malformed request");
  ExpectError("GET", "/no/such/path", "", 404, "no such endpoint");
  ExpectError("POST", "/v1/models/half_plus_two:classify", R"({"examples": []})", 400, "empty array");
  ExpectError("POST", "/v1/models/half_plus_two:regress", R"({"signature_name": "regress_x_to_y", "examples": [{"x": [null]}]})",
              400, "unexpected JSON type");
  // Over --rest_max_tensor_elements (100000 here).
  std::string big = "{\"instances\": [";
  for (int i = 0; i < 100001; ++i) absl::StrAppend(&big, i ? "," : "", "[1]");
  big.append("]}");
  ExpectError("POST", predict, big, 400, "--rest_max_tensor_elements");
}

TEST_F(RestApiTest, OversizedBodyIs413AndOtherConnectionsKeepWorking) {
  HttpClient other(server().rest_port());
  ASSERT_TRUE(other.Get("/v1/models/half_plus_two").ok());
  std::string big = "{\"instances\": [[1.0]], \"pad\": \"";
  big.append(static_cast<size_t>(kMaxBody), 'x');
  big.append("\"}");
  auto result = client_->Post("/v1/models/half_plus_two:predict", big);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, 413) << result->body;
  auto again = other.Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0]]})");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(other.connections_opened(), 1);
}

TEST_F(RestApiTest, OversizedHeadersAre431) {
  auto result = client_->Send("GET", "/v1/models/half_plus_two", "",
                              absl::StrCat("X-Padding: ", std::string(70 << 10, 'p'), "\r\n"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, 431) << result->body;
}

TEST_F(RestApiTest, MalformedHttpClosesOnlyThatConnection) {
  HttpClient other(server().rest_port());
  ASSERT_TRUE(other.Get("/v1/models/half_plus_two").ok());
  auto bad = client_->SendRaw("THIS IS NOT HTTP\r\n\r\n");
  if (bad.ok()) {
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(bad->headers["connection"], "close");
  }
  auto good = other.Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0]]})");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(other.connections_opened(), 1);
}

TEST_F(RestApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 0; i < 200; ++i) {
    auto result = client_->Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0]]})");
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, 200);
  }
  EXPECT_EQ(client_->connections_opened(), 1);
}

// ---- KServe v2 ----

TEST_F(RestApiTest, KServeV2) {
  auto meta = client_->Get("/v2");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->status, 200);
  EXPECT_STREQ(ParseJson(meta->body)["name"].GetString(), "savant");
  auto live = client_->Get("/v2/health/live");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->status, 200);
  auto ready = client_->Get("/v2/health/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  auto model_ready = client_->Get("/v2/models/half_plus_two/versions/123/ready");
  ASSERT_TRUE(model_ready.ok());
  EXPECT_EQ(model_ready->status, 200);
  ExpectError("GET", "/v2/models/nope/ready", "", 404, "nope");
  Expect("GET", "/v2/models/half_plus_two", "", 200, R"({"name": "half_plus_two", "versions": ["123"],
      "platform": "tensorflow_savedmodel",
      "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}],
      "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]})");
  Expect("POST", "/v2/models/half_plus_two/infer",
         R"({"id": "r1", "inputs": [{"name": "x", "shape": [3, 1], "datatype": "FP32", "data": [1.0, 2.0, 5.0]}]})", 200,
         R"({"model_name": "half_plus_two", "model_version": "123", "id": "r1",
             "outputs": [{"name": "y", "datatype": "FP32", "shape": [3, 1], "data": [2.5, 3.0, 4.5]}]})");
  Expect("POST", "/v2/models/half_plus_three/versions/123/infer",
         R"({"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [[1.0], [2.0]]}]})", 200,
         R"({"model_name": "half_plus_three", "model_version": "123",
             "outputs": [{"name": "y", "datatype": "FP32", "shape": [2, 1], "data": [3.5, 4.0]}]})");
  // Keys in any order; an output filter.
  Expect("POST", "/v2/models/half_plus_two/infer",
         R"({"outputs": [{"name": "y"}], "inputs": [{"data": [[1.0], [2.0]], "name": "x", "shape": [2, 1], "datatype": "FP32"}]})",
         200, R"({"model_name": "half_plus_two", "model_version": "123",
                  "outputs": [{"name": "y", "datatype": "FP32", "shape": [2, 1], "data": [2.5, 3.0]}]})");
  ExpectError("POST", "/v2/models/half_plus_two/infer",
              R"({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}], "outputs": [{"name": "z"}]})",
              400, "z");
  ExpectError("POST", "/v2/models/half_plus_two/infer",
              R"({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": 1.0}]})", 400, "must be a list");
  ExpectError("POST", "/v2/models/half_plus_two/infer",
              R"({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": ["a"]}]})", 400,
              "is not of expected type: float");
  ExpectError("POST", "/v2/models/half_plus_two/infer",
              R"({"inputs": [{"name": "x", "shape": [3, 1], "datatype": "FP32", "data": [1.0, 2.0]}]})", 400, "x");
  ExpectError("POST", "/v2/models/half_plus_two/infer",
              R"({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "INT32", "data": [1]}]})", 400, "x");
  ExpectError("POST", "/v2/models/nope/infer",
              R"({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1]}]})", 404, "nope");
}

TEST_F(RestApiTest, KServeV2BinaryTensorExtension) {
  const std::string header =
      R"({"inputs": [{"name": "x", "shape": [3, 1], "datatype": "FP32", "parameters": {"binary_data_size": 12}}],)"
      R"( "outputs": [{"name": "y", "parameters": {"binary_data": true}}]})";
  const float xs[3] = {1.0f, 2.0f, 5.0f};
  std::string body = header;
  body.append(reinterpret_cast<const char*>(xs), sizeof(xs));
  auto result = client_->Send("POST", "/v2/models/half_plus_two/infer", body,
                              absl::StrCat("Inference-Header-Content-Length: ", header.size(), "\r\n"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, 200) << result->body;
  size_t json_size = 0;
  ASSERT_TRUE(absl::SimpleAtoi(result->headers["inference-header-content-length"], &json_size));
  ASSERT_EQ(result->body.size(), json_size + 12);
  rapidjson::Document doc = ParseJson(result->body.substr(0, json_size));
  ASSERT_TRUE(doc.IsObject()) << result->body.substr(0, json_size);
  EXPECT_EQ(doc["outputs"][0]["parameters"]["binary_data_size"].GetInt(), 12);
  // A shape far larger than the bytes sent is refused before anything is allocated for it.
  const std::string huge =
      R"({"inputs": [{"name": "x", "shape": [100000000000, 1000], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]})";
  auto refused = client_->Send("POST", "/v2/models/half_plus_two/infer", huge + std::string(4, '\0'),
                               absl::StrCat("Inference-Header-Content-Length: ", huge.size(), "\r\n"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 400) << refused->body;
  EXPECT_TRUE(server().running());
  float ys[3];
  std::memcpy(ys, result->body.data() + json_size, sizeof(ys));
  EXPECT_EQ(ys[0], 2.5f);
  EXPECT_EQ(ys[1], 3.0f);
  EXPECT_EQ(ys[2], 4.5f);
}

// ---- metrics ----

// The value of the first sample line of `page` that starts with `name` and has every label.
double Sample(const std::string& page, const std::string& name, const std::vector<std::string>& labels) {
  size_t pos = 0;
  while (pos < page.size()) {
    size_t end = page.find('\n', pos);
    if (end == std::string::npos) end = page.size();
    const std::string line = page.substr(pos, end - pos);
    pos = end + 1;
    if (!absl::StartsWith(line, name + "{")) continue;
    bool all = true;
    for (const auto& l : labels) all &= absl::StrContains(line, l);
    if (!all) continue;
    double v = 0;
    absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v);
    return v;
  }
  return 0;
}

TEST_F(RestApiTest, PrometheusPageCountsRestRequests) {
  const std::string path = "/monitoring/prometheus/metrics";  // monitoring_config.txt's path
  const std::vector<std::string> labels = {"model=\"half_plus_three\"", "api=\"regress\"", "protocol=\"rest\"",
                                           "code=\"OK\"", "version=\"123\"",
                                           "signature=\"tensorflow/serving/regress\""};
  auto before = client_->Get(path);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->status, 200) << before->body.substr(0, 300);
  EXPECT_EQ(before->headers["content-type"], "text/plain; version=0.0.4");
  const double count = Sample(before->body, "savant_requests_total", labels);
  for (int i = 0; i < 3; ++i) {
    Expect("POST", "/v1/models/half_plus_three:regress",
           R"({"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}]})", 200, R"({"results": [3.5]})");
  }
  ExpectError("POST", "/v1/models/half_plus_three:regress", R"({"examples": 1})", 400, "list/array");
  auto after = client_->Get(path);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(Sample(after->body, "savant_requests_total", labels), count + 3) << after->body;
  EXPECT_GE(Sample(after->body, "savant_requests_total",
                   {"model=\"half_plus_three\"", "api=\"regress\"", "protocol=\"rest\"", "code=\"INVALID_ARGUMENT\""}),
            1)
      << after->body;
}

// ---- slow clients ----

TEST(RestTimeoutTest, StalledClientIsDisconnectedWithoutDisturbingOthers) {
  SAVANT_FIXTURE_OR_SKIP(model, "tfserving/saved_model_half_plus_two_cpu");
  const fs::path dir = MakeTempDir("rest_timeout_test");
  CopyTree(model, dir / "models" / "half_plus_two");
  auto server = ServerProcess::Start({"--model_name=half_plus_two",
                                      "--model_base_path=" + (dir / "models" / "half_plus_two").string(),
                                      absl::StrCat("--rest_api_port=", FreeLoopbackPort()),
                                      "--rest_api_timeout_in_ms=300"},
                                     dir);
  ASSERT_TRUE(server.ok()) << server.status();
  HttpClient stalled((*server)->rest_port());
  HttpClient healthy((*server)->rest_port());
  // Half a request: headers promise a body that never comes.
  const absl::Time start = absl::Now();
  auto result = stalled.SendRaw("POST /v1/models/half_plus_two:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{");
  const absl::Duration waited = absl::Now() - start;
  EXPECT_FALSE(result.ok()) << "the server answered a request it never fully received";
  EXPECT_LT(waited, absl::Seconds(10)) << "the stalled connection was not closed by --rest_api_timeout_in_ms";
  // A client that keeps talking is served across several timeout periods.
  for (int i = 0; i < 5; ++i) {
    auto r = healthy.Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0]]})");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(healthy.connections_opened(), 1);
  (*server)->Signal(SIGTERM);
  auto code = (*server)->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  fs::remove_all(dir);
}

// ---- shutdown ----

TEST(RestShutdownTest, SigtermAnswersEveryRequestItReadAndExitsZero) {
  SAVANT_FIXTURE_OR_SKIP(model, "tfserving/saved_model_half_plus_two_cpu");
  const fs::path dir = MakeTempDir("rest_shutdown_test");
  CopyTree(model, dir / "models" / "half_plus_two");
  auto server = ServerProcess::Start({"--model_name=half_plus_two",
                                      "--model_base_path=" + (dir / "models" / "half_plus_two").string(),
                                      absl::StrCat("--rest_api_port=", FreeLoopbackPort())},
                                     dir);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->rest_port();
  std::atomic<int> ok{0}, bad{0}, refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < 8; ++c) {
    threads.emplace_back([&] {
      HttpClient client(port);
      while (!stop) {
        auto r = client.Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0], [2.0]]})");
        if (!r.ok()) {
          // The server stopped accepting or closed an idle connection: never a half answer.
          ++refused;
          if (!(*server)->running()) break;
          absl::SleepFor(absl::Milliseconds(5));
          continue;
        }
        if (r->status == 200 && r->body == R"({"predictions":[[2.5],[3.0]]})") {
          ++ok;
        } else {
          ++bad;
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  const int before = ok.load();
  (*server)->Signal(SIGTERM);
  auto code = (*server)->WaitForExit(absl::Seconds(30));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*server)->log();
  EXPECT_GT(before, 0);
  EXPECT_EQ(bad.load(), 0) << "answers other than 200 with the right predictions during shutdown";
  fs::remove_all(dir);
}

// ---- load ----

int64_t RssKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")), &kib);
      return kib;
    }
  }
  return -1;
}

TEST_F(RestApiTest, TenThousandRequestsFrom64KeepAliveConnections) {
  constexpr int kConnections = 64;
  constexpr int kRequests = 10000;
  // Warm up the allocator and the buffer caches before measuring.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(client_->Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0], [2.0]]})").ok());
  const int64_t rss_before = RssKiB(server().pid());
  std::atomic<int> next{0}, ok{0}, wrong{0}, failed{0}, reconnects{0};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&] {
      HttpClient client(server().rest_port());
      while (next.fetch_add(1) < kRequests) {
        auto result = client.Post("/v1/models/half_plus_two:predict", R"({"instances": [[1.0], [2.0], [5.0]]})");
        if (!result.ok()) {
          ++failed;
        } else if (result->status != 200 || !absl::StrContains(result->body, "[[2.5],[3.0],[4.5]]")) {
          ++wrong;
        } else {
          ++ok;
        }
      }
      reconnects += client.connections_opened() - 1;
    });
  }
  for (auto& t : threads) t.join();
  const absl::Duration elapsed = absl::Now() - start;
  const int64_t rss_after = RssKiB(server().pid());
  std::printf("rest load: %d requests over %d keep-alive connections in %.2f s (%.0f req/s); server RSS %lld KiB -> "
              "%lld KiB (%+lld KiB); reconnects %d\n",
              kRequests, kConnections, absl::ToDoubleSeconds(elapsed), kRequests / absl::ToDoubleSeconds(elapsed),
              static_cast<long long>(rss_before), static_cast<long long>(rss_after),
              static_cast<long long>(rss_after - rss_before), reconnects.load());
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(reconnects.load(), 0);
  EXPECT_TRUE(server().running());
#if defined(__SANITIZE_ADDRESS__)
  // An ASan build keeps freed memory in quarantine (256 MiB by default), so RSS growth says nothing
  // about leaks there; LeakSanitizer checks the server at exit instead.
#else
  EXPECT_LT(rss_after - rss_before, 50 * 1024) << "server memory grew by more than 50 MiB";
#endif
  auto status = client_->Get("/v1/models/half_plus_two");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status, 200);
}

}  // namespace
}  // namespace savant::testing
