// Tensors as text, at the level of the generated protos (tensorflow.TensorProto) so that both the
// clients (which depend on proto/ only) and the server's `savant run` share one implementation:
// JSON nested-list literals, NumPy .npy files, tf.Example lists as JSON, and printing a tensor as
// nested lists with floats in the shortest form that parses back exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/apis/input.pb.h"

namespace savant::codec {

// A JSON value (number, bool, string, or nested lists of equal length) as a tensor of `dtype`.
// Strings may also be TensorFlow Serving's {"b64": "..."} form. INVALID_ARGUMENT for ragged lists,
// values that do not fit, or bad JSON.
absl::StatusOr<tensorflow::TensorProto> LiteralToTensor(absl::string_view json, tensorflow::DataType dtype);
absl::StatusOr<tensorflow::TensorProto> JsonToTensor(const rapidjson::Value& value, tensorflow::DataType dtype);

// A .npy file (v1-v3, little-endian, C order; f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1), values in
// tensor_content. INVALID_ARGUMENT naming the file when it cannot be read or is malformed.
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
// `s` as a JSON string literal, quotes included (control characters as \u00XX).
std::string JsonQuote(absl::string_view s);
// The whole file; INVALID_ARGUMENT naming it when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace savant::codec
