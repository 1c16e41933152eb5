// Tensors for the clients, as tensorflow.TensorProto only (clients depend on proto/, never on the
// engine): the `--inputs` syntax of `savant run` ('x=[[1.0],[2.0]];y=@file.npy'), NumPy .npy files,
// tf.Example lists as JSON, nested-list JSON for printing and for the REST API, and the KServe v2
// tensor forms (typed contents, raw little-endian bytes, flat JSON "data").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kserve/grpc_predict_v2.pb.h"
#include "rapidjson/document.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/apis/input.pb.h"

namespace savant::clients {

using NamedTensors = std::vector<std::pair<std::string, tensorflow::TensorProto>>;

// One `--inputs` entry: either a ready tensor (from a .npy file, which carries its dtype) or JSON
// text whose dtype comes from the model's signature.
struct InputValue {
  std::string alias;
  std::optional<tensorflow::TensorProto> tensor;
  std::string literal;
};

// Parses an `--inputs` value. Forms (may be combined with ';'):
//   alias=[[1.0],[2.0]]   JSON literal (nested lists of equal length, or a scalar)
//   alias=@file.npy       NumPy file (also alias=file.npy, as `savant run` accepts)
//   alias=@file.json      JSON literal read from a file
//   @file.json            a JSON object {"alias": literal, ...}, optionally wrapped as {"inputs": {...}}
// INVALID_ARGUMENT (unreadable file, bad JSON, missing '=') naming the entry.
absl::StatusOr<std::vector<InputValue>> ParseInputsFlag(const std::string& spec);

// A JSON value (number, bool, string, or nested lists of equal length) as a tensor of `dtype`.
// INVALID_ARGUMENT for ragged lists, values that do not fit, or bad JSON.
absl::StatusOr<tensorflow::TensorProto> LiteralToTensor(absl::string_view json, tensorflow::DataType dtype);
absl::StatusOr<tensorflow::TensorProto> JsonToTensor(const rapidjson::Value& value, tensorflow::DataType dtype);

// A .npy file (v1-v3, little-endian, C order; f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1).
absl::StatusOr<tensorflow::TensorProto> ReadNpy(const std::string& path);

// '[{"x": [1.0]}, ...]' as an ExampleList: integers become int64_list, other numbers float_list,
// strings bytes_list.
absl::StatusOr<tensorflow::serving::Input> ExamplesFromJson(absl::string_view json);

// Element count and dims ([-1] dims are not expected in a concrete tensor).
std::vector<int64_t> TensorShape(const tensorflow::TensorProto& t);
int64_t NumElements(const tensorflow::TensorProto& t);

// Each element as a JSON token ("2.5", "true", "\"abc\""), read from the typed *_val field or from
// tensor_content. Floats print in the shortest form that parses back to the same float. INVALID_ARGUMENT
// when the proto holds the wrong number of values or an unsupported dtype.
absl::StatusOr<std::vector<std::string>> ElementTokens(const tensorflow::TensorProto& t);

// Nested lists following the shape: "[[2.5], [3], [4.5]]".
absl::StatusOr<std::string> TensorToJson(const tensorflow::TensorProto& t);
// "DT_FLOAT" style names.
std::string DataTypeName(tensorflow::DataType dtype);

// KServe v2 datatype names ("FP32", "INT64", "BYTES", ...); DT_INVALID / "" when there is none.
std::string KServeDatatype(tensorflow::DataType dtype);
tensorflow::DataType FromKServeDatatype(absl::string_view datatype);

// `t` as a KServe input with typed contents. INVALID_ARGUMENT for dtypes KServe cannot carry.
absl::StatusOr<inference::ModelInferRequest::InferInputTensor> ToKServeInput(const std::string& name,
                                                                             const tensorflow::TensorProto& t);
// A KServe output (typed contents, or `raw` little-endian bytes when not null) as a TensorProto.
absl::StatusOr<tensorflow::TensorProto> FromKServeOutput(const inference::ModelInferResponse::InferOutputTensor& out,
                                                         const std::string* raw);
// The JSON form of a KServe REST input: {"name":..,"datatype":..,"shape":[..],"data":[flat]}.
absl::StatusOr<std::string> KServeJsonInput(const std::string& name, const tensorflow::TensorProto& t);

}  // namespace savant::clients
