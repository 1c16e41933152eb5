#include "server/http/json_tensor.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensorflow/core/example/example.pb.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

loader::TensorBinding Binding(const std::string& alias, DataType dtype) {
  loader::TensorBinding b;
  b.alias = alias;
  b.dtype = dtype;
  return b;
}

std::vector<float> Floats(const Tensor& t) { return {t.flat<float>().begin(), t.flat<float>().end()}; }
std::vector<int32_t> Ints(const Tensor& t) { return {t.flat<int32_t>().begin(), t.flat<int32_t>().end()}; }

TEST(JsonTensorTest, RowFormatSingleInputKeepsTheNesting) {
  const std::vector<loader::TensorBinding> inputs = {Binding("x", DataType::kFloat)};
  auto flat = ParseJsonPredictRequest(R"({"instances": [1.0, 2.0, 5.0]})", inputs, 1000);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->format, JsonFormat::kRow);
  ASSERT_EQ(flat->inputs.size(), 1u);
  EXPECT_EQ(flat->inputs[0].second.shape(), (Shape{3}));
  EXPECT_THAT(Floats(flat->inputs[0].second), ElementsAre(1.0f, 2.0f, 5.0f));

  // The documentation's "List of 2 tensors each of [1, 2] shape".
  auto nested = ParseJsonPredictRequest(R"({"instances": [ [[1, 2]], [[3, 4]] ]})", inputs, 1000);
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(nested->inputs[0].second.shape(), (Shape{2, 1, 2}));
  EXPECT_THAT(Floats(nested->inputs[0].second), ElementsAre(1, 2, 3, 4));
}

TEST(JsonTensorTest, DocumentationsNamedRowAndColumnarExamplesGiveTheSameTensors) {
  const std::vector<loader::TensorBinding> inputs = {Binding("sensor", DataType::kInt32),
                                                     Binding("signal", DataType::kInt32),
                                                     Binding("tag", DataType::kString)};
  auto row = ParseJsonPredictRequest(R"({
    "instances": [
      {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
      {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}
    ]})", inputs, 1000);
  ASSERT_TRUE(row.ok()) << row.status();
  auto columnar = ParseJsonPredictRequest(R"({
    "inputs": {
      "tag": ["foo", "bar"],
      "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
      "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]
    }})", inputs, 1000);
  ASSERT_TRUE(columnar.ok()) << columnar.status();
  EXPECT_EQ(columnar->format, JsonFormat::kColumnar);
  for (const auto* r : {&*row, &*columnar}) {
    ASSERT_EQ(r->inputs.size(), 3u);
    EXPECT_EQ(r->inputs[0].first, "sensor");
    EXPECT_EQ(r->inputs[0].second.shape(), (Shape{2, 2, 2}));
    EXPECT_THAT(Ints(r->inputs[0].second), ElementsAre(1, 2, 3, 4, 4, 5, 6, 8));
    EXPECT_EQ(r->inputs[1].second.shape(), (Shape{2, 5}));
    EXPECT_THAT(Ints(r->inputs[1].second), ElementsAre(1, 2, 3, 4, 5, 3, 4, 1, 2, 5));
    EXPECT_EQ(r->inputs[2].second.shape(), (Shape{2}));
    EXPECT_EQ(r->inputs[2].second.flat<std::string>()[0], "foo");
    EXPECT_EQ(r->inputs[2].second.flat<std::string>()[1], "bar");
  }
}

TEST(JsonTensorTest, Base64ObjectsDecodeForStrings) {
  const std::vector<loader::TensorBinding> inputs = {Binding("image_bytes", DataType::kString)};
  // "aW1hZ2UgYnl0ZXM=" is the documentation's base64 of "image bytes".
  auto row = ParseJsonPredictRequest(R"({"instances": [{"b64": "aW1hZ2UgYnl0ZXM="}, {"b64": "eA=="}]})", inputs, 10);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->inputs[0].second.shape(), (Shape{2}));
  EXPECT_EQ(row->inputs[0].second.flat<std::string>()[0], "image bytes");
  EXPECT_EQ(row->inputs[0].second.flat<std::string>()[1], "x");
  auto columnar = ParseJsonPredictRequest(R"({"inputs": {"b64": "aW1hZ2UgYnl0ZXM="}})", inputs, 10);
  ASSERT_TRUE(columnar.ok()) << columnar.status();
  EXPECT_EQ(columnar->inputs[0].second.rank(), 0);
  EXPECT_EQ(columnar->inputs[0].second.flat<std::string>()[0], "image bytes");
  auto bad = ParseJsonPredictRequest(R"({"instances": [{"b64": "!!!"}]})", inputs, 10);
  EXPECT_THAT(bad.status().message(), HasSubstr("Unable to base64 decode"));
}

TEST(JsonTensorTest, NanAndInfinityTokens) {
  const std::vector<loader::TensorBinding> inputs = {Binding("x", DataType::kFloat)};
  auto r = ParseJsonPredictRequest(R"({"inputs": [NaN, Infinity, -Infinity, 1e3]})", inputs, 10);
  ASSERT_TRUE(r.ok()) << r.status();
  auto v = Floats(r->inputs[0].second);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[3], 1000.0f);
}

TEST(JsonTensorTest, RejectsWhatTensorFlowServingRejects) {
  const std::vector<loader::TensorBinding> f = {Binding("x", DataType::kFloat)};
  const std::vector<loader::TensorBinding> i32 = {Binding("x", DataType::kInt32)};
  const std::vector<loader::TensorBinding> two = {Binding("a", DataType::kFloat), Binding("b", DataType::kFloat)};
  struct Case {
    const std::vector<loader::TensorBinding>* inputs;
    const char* json;
    const char* fragment;
  };
  for (const Case& c : std::vector<Case>{
           {&f, R"({"instances": [1.0, 2.0)", "JSON Parse error"},
           {&f, "", "The document is empty"},
           {&f, R"({"instances": ["a"]})", "is not of expected type: float"},
           {&f, R"({"instances": [null]})", "is not of expected type: float"},
           {&f, R"({"instances": [16777217]})", "Cannot convert JSON value: 16777217 to float without loss"},
           {&f, R"({"instances": [1e39]})", "without loss of precision"},
           {&i32, R"({"instances": [1.5]})", "is not of expected type: int32"},
           {&i32, R"({"instances": [4294967296]})", "is not of expected type: int32"},
           {&f, R"({"instances": [[1, 2], [3]]})", "Encountered list at unexpected size: 1 at level: 1 expected size: 2"},
           {&f, R"({"instances": [[1, 2], 3]})", "found at incorrect level"},
           {&f, R"({"instances": [1, [2]]})", "Encountered list at unexpected level"},
           {&f, R"({"instances": []})", "No values in 'instances'"},
           {&f, R"({"instances": 1})", "to be an list/array"},
           {&f, R"({"inputs": [1], "instances": [1]})", "only one of 'inputs' or 'instances'"},
           {&f, R"({"signature_name": "s"})", "Missing 'inputs' or 'instances' key"},
           {&two, R"({"instances": [1, 2]})", "expecting list of objects"},
           {&two, R"({"inputs": [1, 2]})", "expecting an object"},
           {&two, R"({"inputs": {"a": [1]}})", "Missing named input: b in 'inputs' object."},
           {&two, R"({"instances": [{"a": 1, "b": 2}, {"a": 1}]})", "Failed to process element: 1"},
           {&two, R"({"instances": [{"a": 1, "b": 2}, {"a": [1], "b": 2}]})", "Encountered list at unexpected level"},
           {&two, R"({"instances": [{"a": 1, "b": 2, "c": 3}]})", "does not have named input: c"},
           {&f, R"({"instances": [1]} x)", "JSON Parse error"},
           {&f, R"({"instances": [1,2,3,4,5,6,7,8,9,10,11]})", "more than 10 elements"},
       }) {
    SCOPED_TRACE(c.json);
    auto r = ParseJsonPredictRequest(c.json, *c.inputs, 10);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.fragment));
  }
}

TEST(JsonTensorTest, ColumnarIgnoresKeysTheSignatureDoesNotName) {
  const std::vector<loader::TensorBinding> inputs = {Binding("x", DataType::kFloat)};
  auto r = ParseJsonPredictRequest(R"({"inputs": {"extra": {"deep": [1, [2]]}, "x": [7]}, "other": [1]})", inputs, 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Floats(r->inputs[0].second), ElementsAre(7.0f));
}

TEST(JsonTensorTest, SignatureNameIsFoundAnywhereAtTopLevel) {
  EXPECT_EQ(JsonSignatureName(R"({"instances": [{"signature_name": "no"}], "signature_name": "yes"})").value(), "yes");
  EXPECT_EQ(JsonSignatureName(R"({"instances": [1]})").value(), "");
  EXPECT_FALSE(JsonSignatureName(R"({"signature_name": 1})").ok());
  EXPECT_FALSE(JsonSignatureName(R"([1])").ok());
}

TEST(JsonTensorTest, WritesRowAndColumnarResponses) {
  loader::NamedTensors one = {{"y", Tensor::FromVector<float>(DataType::kFloat, Shape{3, 1}, {2.5f, 3.0f, 4.5f})}};
  EXPECT_EQ(WriteJsonPredictResponse(one, JsonFormat::kRow).value(), R"({"predictions":[[2.5],[3.0],[4.5]]})");
  EXPECT_EQ(WriteJsonPredictResponse(one, JsonFormat::kColumnar).value(), R"({"outputs":[[2.5],[3.0],[4.5]]})");
  loader::NamedTensors named = {
      {"a", Tensor::FromVector<int64_t>(DataType::kInt64, Shape{2}, {1, -2})},
      {"b_bytes", Tensor::FromVector<std::string>(DataType::kString, Shape{2, 1}, {"hi", "\x01"})},
  };
  EXPECT_EQ(WriteJsonPredictResponse(named, JsonFormat::kRow).value(),
            R"({"predictions":[{"a":1,"b_bytes":[{"b64": "aGk="}]},{"a":-2,"b_bytes":[{"b64": "AQ=="}]}]})");
  EXPECT_EQ(WriteJsonPredictResponse(named, JsonFormat::kColumnar).value(),
            R"({"outputs":{"a":[1,-2],"b_bytes":[[{"b64": "aGk="}],[{"b64": "AQ=="}]]}})");
  loader::NamedTensors ragged = {{"a", Tensor::FromVector<float>(DataType::kFloat, Shape{2}, {1, 2})},
                                 {"b", Tensor::FromVector<float>(DataType::kFloat, Shape{3}, {1, 2, 3})}};
  EXPECT_THAT(WriteJsonPredictResponse(ragged, JsonFormat::kRow).status().message(),
              HasSubstr("Tensor name: b has inconsistent batch size: 3 expecting: 2"));
  loader::NamedTensors scalar = {{"s", Tensor::Scalar(1.5f)}};
  EXPECT_THAT(WriteJsonPredictResponse(scalar, JsonFormat::kRow).status().message(), HasSubstr("no shape information"));
  EXPECT_EQ(WriteJsonPredictResponse(scalar, JsonFormat::kColumnar).value(), R"({"outputs":1.5})");
}

TEST(JsonTensorTest, FloatTextRoundTripsAndMatchesTensorFlowServingForm) {
  auto text = [](float v) {
    std::string s;
    AppendJsonFloat(v, &s);
    return s;
  };
  EXPECT_EQ(text(0.1f), "0.1");
  EXPECT_EQ(text(3.0f), "3.0");
  EXPECT_EQ(text(-0.0f), "-0.0");
  EXPECT_EQ(text(1e20f), "1e+20");
  EXPECT_EQ(text(std::numeric_limits<float>::quiet_NaN()), "NaN");
  EXPECT_EQ(text(-std::numeric_limits<float>::infinity()), "-Infinity");
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100000; ++i) {
    uint32_t b = bits(rng);
    float v;
    std::memcpy(&v, &b, sizeof(v));
    if (!std::isfinite(v)) continue;
    const std::string s = text(v);
    ASSERT_EQ(std::strtof(s.c_str(), nullptr), v) << s;
  }
}

// Mutated bodies (byte flips, insertions, cuts) never crash the parsers and fail only with
// INVALID_ARGUMENT or UNIMPLEMENTED.
TEST(JsonTensorTest, MutatedBodiesFailCleanly) {
  const std::vector<loader::TensorBinding> inputs = {Binding("a", DataType::kFloat), Binding("b", DataType::kString),
                                                     Binding("c", DataType::kInt32)};
  const std::vector<std::string> seeds = {
      R"({"instances": [{"a": [1.5, 2], "b": {"b64": "eA=="}, "c": [[1], [2]]}, {"a": [3, NaN], "b": "s", "c": [[3], [4]]}]})",
      R"({"signature_name": "x", "inputs": {"a": [[1, 2], [3, 4]], "b": ["p", "q"], "c": 7}})",
      R"({"examples": [{"x": [1.0, 2.0], "y": "s", "z": {"b64": "eA=="}}], "context": {"k": 1}})",
  };
  const char kAlphabet[] = "{}[]\",:0123456789.eE-+ abnNI\\";
  std::mt19937 rng(11);
  int ok = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0:
          body[at] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
          break;
        case 1:
          body.insert(at, 1, kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
          break;
        case 2:
          body.erase(at, 1 + rng() % 8);
          break;
        case 3:
          body.resize(at);
          break;
      }
    }
    auto predict = ParseJsonPredictRequest(body, inputs, 1000);
    if (predict.ok()) {
      ++ok;
      for (const auto& [name, t] : predict->inputs) ASSERT_TRUE(t.valid()) << body;
    } else {
      ASSERT_TRUE(predict.status().code() == absl::StatusCode::kInvalidArgument ||
                  predict.status().code() == absl::StatusCode::kUnimplemented)
          << body << " -> " << predict.status();
    }
    std::string signature;
    tensorflow::serving::Input input;
    absl::Status examples = ParseJsonExamplesRequest(body, &signature, &input);
    ASSERT_TRUE(examples.ok() || examples.code() == absl::StatusCode::kInvalidArgument) << body << " -> " << examples;
    (void)JsonSignatureName(body);
  }
  EXPECT_GT(ok, 0);
}

TEST(JsonTensorTest, KServeInferRequestInAnyKeyOrder) {
  const std::string json = R"({"id": "7", "parameters": {"signature_name": "s", "binary_data_output": true},
      "inputs": [{"data": [[1, 2], [3, 4]], "shape": [2, 2], "name": "a", "datatype": "INT32"},
                 {"name": "b", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 12}}],
      "outputs": [{"name": "y", "parameters": {"binary_data": false}}, {"name": "z"}]})";
  auto r = ParseKServeInferJson(json);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->has_id);
  EXPECT_EQ(r->id, "7");
  EXPECT_EQ(r->signature_name, "s");
  EXPECT_TRUE(r->binary_data_output);
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->inputs[0].name, "a");
  EXPECT_EQ(r->inputs[0].data, "[[1, 2], [3, 4]]");
  EXPECT_THAT(r->inputs[0].shape, ElementsAre(2, 2));
  EXPECT_TRUE(r->inputs[1].has_binary_size);
  EXPECT_EQ(r->inputs[1].binary_size, 12u);
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_EQ(r->outputs[0].binary, 0);
  EXPECT_EQ(r->outputs[1].binary, -1);
  auto a = KServeJsonTensor(r->inputs[0], DataType::kInt32, 100);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->shape(), (Shape{2, 2}));
  EXPECT_THAT(Ints(*a), ElementsAre(1, 2, 3, 4));
  KServeJsonInput flat = r->inputs[0];
  flat.data = "[1, 2, 3]";
  EXPECT_THAT(KServeJsonTensor(flat, DataType::kInt32, 100).status().message(), HasSubstr("expected 4 values"));
  EXPECT_THAT(ParseKServeInferJson(R"({"inputs": [{"name": "a", "data": 1}]})").status().message(),
              HasSubstr("must be a list"));
  EXPECT_THAT(ParseKServeInferJson(R"({"inputs": [{"name": 1}]})").status().message(), HasSubstr("must be a string"));
  EXPECT_THAT(ParseKServeInferJson(R"({"inputs": [{"shape": [-1]}]})").status().message(),
              HasSubstr("non-negative integer"));
}

TEST(JsonTensorTest, ExamplesRequestWithContext) {
  std::string signature;
  tensorflow::serving::Input input;
  ASSERT_TRUE(ParseJsonExamplesRequest(R"({"signature_name": "s", "context": {"c": "v", "n": 3},
      "examples": [{"x": 1.5, "ids": [1, 2]}, {"img": {"b64": "eA=="}}]})", &signature, &input).ok());
  EXPECT_EQ(signature, "s");
  const auto& list = input.example_list_with_context();
  EXPECT_EQ(list.context().features().feature().at("c").bytes_list().value(0), "v");
  EXPECT_EQ(list.context().features().feature().at("n").int64_list().value(0), 3);
  ASSERT_EQ(list.examples_size(), 2);
  EXPECT_EQ(list.examples(0).features().feature().at("x").float_list().value(0), 1.5f);
  EXPECT_THAT(list.examples(0).features().feature().at("ids").int64_list().value(), ElementsAre(1, 2));
  EXPECT_EQ(list.examples(1).features().feature().at("img").bytes_list().value(0), "x");

  tensorflow::serving::Input plain;
  ASSERT_TRUE(ParseJsonExamplesRequest(R"({"examples": [{"x": 1}]})", &signature, &plain).ok());
  EXPECT_EQ(plain.example_list().examples_size(), 1);
  tensorflow::serving::Input bad;
  EXPECT_THAT(ParseJsonExamplesRequest(R"({"examples": [{"x": [1, "a"]}]})", &signature, &bad).message(),
              HasSubstr("Unexpected element type in feature: x expecting type: int64"));
  EXPECT_THAT(ParseJsonExamplesRequest(R"({"context": {}})", &signature, &bad).message(),
              HasSubstr("'examples' is expected"));
}

}  // namespace
}  // namespace savant::server
