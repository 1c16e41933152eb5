// Conversion between TensorFlow's TensorProto (the form tensors take in GraphDef attrs, checkpoints
// and Predict requests) and the engine's Tensor. This is the engine's boundary with generated proto
// code: kernels and the server convert here, once, and work on Tensors afterwards. Decoding follows
// tensorflow/core/framework/tensor.cc (Tensor::FromProto) so that whatever TensorFlow Serving
// accepts, we accept with the same values.
#pragma once

#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow/core/framework/tensor_shape.pb.h"

namespace savant::engine {

// Builds a tensor from `proto`.
//
// Values come from tensor_content (raw little-endian element bytes; for DT_STRING TensorFlow's
// string list encoding: one varint32 length per element, then the bytes) when it is non-empty,
// otherwise from the typed field of the dtype: float_val, double_val, int_val (int32, int16, int8,
// uint8, uint16 and the quantized types), int64_val, bool_val, string_val, scomplex_val and
// dcomplex_val (real/imaginary pairs), uint32_val, uint64_val, half_val (bit patterns of half and
// bfloat16). As in TensorFlow, a typed field with fewer values than elements is "splatted": the
// last value repeats to fill the tensor; an empty field means zeros (empty strings); surplus values
// are ignored. A tensor with zero elements ignores every value field.
//
// INVALID_ARGUMENT when the dtype is DT_INVALID or not a TensorFlow dtype, the shape has an unknown
// rank or a negative dim or too many elements, or tensor_content has the wrong byte count or a
// malformed string list. UNIMPLEMENTED for DT_RESOURCE and DT_VARIANT, which a serving engine never
// receives as values.
absl::StatusOr<Tensor> TensorFromProto(const tensorflow::TensorProto& proto);

// Writes `tensor` into `proto` (cleared first). With `use_tensor_content` POD values go to
// tensor_content as raw bytes, the compact form; otherwise to the typed fields (one value per
// element, no splatting). Strings always go to string_val, the form every client understands.
// DT_RESOURCE and DT_VARIANT tensors only get their dtype and shape. Precondition: tensor.valid().
void TensorToProto(const Tensor& tensor, tensorflow::TensorProto* proto,
                   bool use_tensor_content = true);

// A concrete shape; INVALID_ARGUMENT for an unknown rank, a negative dim or an element count that
// overflows int64.
absl::StatusOr<Shape> ShapeFromProto(const tensorflow::TensorShapeProto& proto);
// A shape that may be partly unknown (dims of -1, or unknown_rank), as in "shape" attrs.
PartialShape PartialShapeFromProto(const tensorflow::TensorShapeProto& proto);
void ShapeToProto(const Shape& shape, tensorflow::TensorShapeProto* proto);
void PartialShapeToProto(const PartialShape& shape, tensorflow::TensorShapeProto* proto);

}  // namespace savant::engine
