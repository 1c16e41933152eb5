// JSON <-> tensors for the REST front end, with TensorFlow Serving's JSON mapping (its api_rest
// documentation): predict requests in row ("instances") and columnar ("inputs") format, {"b64":..}
// binary strings, NaN/Infinity tokens, the "predictions" / "outputs" response shapes, tf.Example
// requests for classify and regress, and their "results" answers.
//
// Predict bodies are parsed with RapidJSON's SAX reader straight into per-input typed buffers:
// the signature's dtypes are known before the body is read, so no DOM and no array of doubles is
// built for big tensors. (RapidJSON rather than simdjson: its SAX reader parses NaN/Infinity,
// which TensorFlow Serving accepts, and it runs on a non-padded buffer without a copy.)
// Responses are written by hand into one string; floats use the shortest text that round-trips
// (std::to_chars), with TensorFlow Serving's ".0" on whole numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"
#include "loader/model.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"

namespace savant::server {

enum class JsonFormat { kRow, kColumnar };

// The top-level "signature_name" of a request body; "" when absent. Reads only as far as needed.
// INVALID_ARGUMENT for a body that is not a JSON object or a signature_name that is not a string.
absl::StatusOr<std::string> JsonSignatureName(absl::string_view json);

struct JsonPredictRequest {
  JsonFormat format = JsonFormat::kRow;
  loader::NamedTensors inputs;
};

// Parses a predict body into one tensor per signature input, typed as `inputs` declare.
// INVALID_ARGUMENT with TensorFlow Serving's wording for malformed JSON, values of the wrong type
// or precision, ragged lists, unknown or missing inputs, and tensors over `max_elements` elements.
absl::StatusOr<JsonPredictRequest> ParseJsonPredictRequest(absl::string_view json,
                                                           const std::vector<loader::TensorBinding>& inputs,
                                                           int64_t max_elements);

// {"predictions": ...} (row) or {"outputs": ...} (columnar). Outputs whose alias ends in "_bytes"
// are written as {"b64": ...}. INVALID_ARGUMENT when row format meets a scalar output or outputs
// with different batch sizes, or for a dtype JSON cannot carry.
absl::StatusOr<std::string> WriteJsonPredictResponse(const loader::NamedTensors& outputs, JsonFormat format);

// Parses a classify/regress body: signature_name, optional "context" and "examples" as
// tf.Examples. INVALID_ARGUMENT as TensorFlow Serving for malformed bodies and feature values.
absl::Status ParseJsonExamplesRequest(absl::string_view json, std::string* signature_name,
                                      tensorflow::serving::Input* input);

// {"results": [[[label, score], ...], ...]} and {"results": [value, ...]}.
std::string WriteJsonClassificationResult(const tensorflow::serving::ClassificationResult& result);
std::string WriteJsonRegressionResult(const tensorflow::serving::RegressionResult& result);

// A KServe v2 inference request body (JSON part), read with the SAX reader. Each input's "data" is
// not converted here: its JSON text is kept (`data`) and converted by KServeJsonTensor once the
// datatype is known, whatever the key order.
struct KServeJsonInput {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  bool has_binary_size = false;
  uint64_t binary_size = 0;  // "parameters": {"binary_data_size": N}
  absl::string_view data;    // the "data" array's JSON text; empty when absent
};
struct KServeJsonOutput {
  std::string name;
  int binary = -1;  // "parameters": {"binary_data": bool}; -1 when absent
};
struct KServeJsonRequest {
  bool has_id = false;
  std::string id;
  std::string signature_name;       // "parameters": {"signature_name": ...}
  bool binary_data_output = false;  // "parameters": {"binary_data_output": ...}
  std::vector<KServeJsonInput> inputs;
  std::vector<KServeJsonOutput> outputs;
};

// Parses the JSON part of a KServe v2 infer request. INVALID_ARGUMENT for malformed JSON, fields of
// the wrong JSON type, and "data" that is not a list. Views point into `json`.
absl::StatusOr<KServeJsonRequest> ParseKServeInferJson(absl::string_view json);

// The number of elements of `shape`; INVALID_ARGUMENT naming input `name` when a dimension is
// negative or the product overflows int64.
absl::StatusOr<int64_t> ElementCount(const std::vector<int64_t>& shape, const std::string& name);

// The tensor `input.data` holds (flat or nested lists), typed `dtype` and shaped `input.shape`.
// INVALID_ARGUMENT naming the input for values of the wrong type or a count that does not match
// the shape.
absl::StatusOr<engine::Tensor> KServeJsonTensor(const KServeJsonInput& input, engine::DataType dtype,
                                                int64_t max_elements);

// JSON writing helpers shared with the KServe v2 routes.
void AppendJsonString(absl::string_view s, std::string* out);
void AppendJsonFloat(float v, std::string* out);
void AppendJsonDouble(double v, std::string* out);
// The tensor's values as nested lists (a scalar as a bare value); `flat` writes one flat list.
// INVALID_ARGUMENT for dtypes without a JSON form.
absl::Status AppendJsonTensor(const engine::Tensor& tensor, bool as_bytes, bool flat, std::string* out);

}  // namespace savant::server
