// Tensors as text for `savant run`: JSON nested lists ("[[1.0],[2.0]]"), NumPy .npy files,
// tf.Example lists ('[{"x":[1.0],"x2":[2.0]}]'), and printing results as nested lists with float
// formatting that round-trips exactly. The text handling is proto/codec/tensor_text.h, shared with
// the clients; this file only converts between its TensorProtos and engine tensors.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"

namespace savant::server {

// Parses a JSON value (number, bool, string, or nested lists of equal length) into a tensor of
// `dtype`. INVALID_ARGUMENT for ragged lists, values that do not fit the dtype, or bad JSON.
absl::StatusOr<engine::Tensor> ParseTensorLiteral(absl::string_view text, engine::DataType dtype);

// Reads a NumPy .npy file (v1-v3 headers, little-endian, C order; f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1).
absl::StatusOr<engine::Tensor> ReadNpy(const std::string& path);

// Parses '[{"feature": [values...]}, ...]' into a DT_STRING vector of serialized tf.Example
// protos: integers become int64_list, other numbers float_list, strings bytes_list.
absl::StatusOr<engine::Tensor> ParseExamples(absl::string_view json);

// "[[2.5], [3], [4.5]]": nested lists, floats in the shortest form that parses back exactly.
// INVALID_ARGUMENT for dtypes that have no text form (complex, resource, variant).
absl::StatusOr<std::string> FormatTensor(const engine::Tensor& t);

}  // namespace savant::server
