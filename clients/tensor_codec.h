// Tensors for the clients, as tensorflow.TensorProto only (clients depend on proto/, never on the
// engine): the `--inputs` syntax of `savant run` ('x=[[1.0],[2.0]];y=@file.npy') and the KServe v2
// tensor forms (typed contents, raw little-endian bytes, flat JSON "data"). Literals, .npy files,
// tf.Example JSON and nested-list printing come from proto/codec/tensor_text.h, shared with the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kserve/grpc_predict_v2.pb.h"
#include "proto/codec/tensor_text.h"
#include "rapidjson/document.h"
#include "tensorflow/core/framework/tensor.pb.h"

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

// The tensor text codec shared with `savant run` (proto/codec/tensor_text.h).
using codec::DataTypeName;
using codec::ElementTokens;
using codec::ExamplesFromJson;
using codec::JsonQuote;
using codec::JsonToTensor;
using codec::LiteralToTensor;
using codec::NumElements;
using codec::ReadNpy;
using codec::TensorShape;
using codec::TensorToJson;

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
