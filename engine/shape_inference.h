// Static shape inference: the shape of a node's outputs from its attrs, the static shapes of its
// inputs (PartialShape: dims may be unknown, -1, as the batch dimension of a signature usually is)
// and the values of the inputs that are compile-time constants (a Reshape's target shape, a
// reduction's axes). Function::Compile runs it over the plan when the spec gives feed shapes, so
// shapes that cannot fit fail the load naming the node, and signature outputs can be checked.
//
// The rules are TensorFlow's shape functions (tensorflow/core/ops/*.cc) for the common ops:
// element-wise unary and broadcasting binary ops, MatMul/BatchMatMul (and _FusedMatMul), Reshape,
// Conv2D/DepthwiseConv2dNative (and their _Fused forms), MaxPool/AvgPool, Pack, ConcatV2,
// ExpandDims, Squeeze, Transpose, reductions, ArgMax/ArgMin, Shape/Size/Rank, Fill, Select,
// GatherV2, Pad, Tile, Slice, OneHot. Every other op yields an unknown rank, which never causes
// an error.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/graph.h"
#include "engine/tensor.h"

namespace savant::engine {

// The static shapes of the `num_outputs` outputs of `node`. `inputs[i]` is the static shape of
// input i and `constants[i]` its value when known at compile time (else nullptr). INVALID_ARGUMENT
// stating the rule and the shapes when the inputs' known dims cannot satisfy the op (inner
// dimensions of a MatMul differ, a Reshape changes the element count, ...); the caller adds the
// node's name and op. Unknown dims never cause an error.
absl::StatusOr<std::vector<PartialShape>> InferNodeShapes(const Node& node,
                                                          std::span<const PartialShape> inputs,
                                                          std::span<const Tensor* const> constants,
                                                          int num_outputs);

// Numpy broadcasting of two static shapes, as TensorFlow's BroadcastBinaryOpShapeFn: an unknown dim
// against 1 or an unknown dim stays unknown; against n > 1 it is n. INVALID_ARGUMENT
// "Incompatible shapes: [2,3] vs. [4]" when known dims differ and neither is 1.
absl::StatusOr<PartialShape> BroadcastShapes(const PartialShape& a, const PartialShape& b);

// An Einsum equation's input terms and output term, spaces removed; nullopt when it has no "->"
// (an implicit output). Labels are not validated.
struct EinsumEquation {
  std::vector<std::string> inputs;
  std::string output;
};
std::optional<EinsumEquation> ParseEinsumEquation(absl::string_view equation);

// The values of an int32/int64 constant (a shape, axes, a permutation), or nullopt when `t` is
// null (not a compile-time constant) or of another dtype.
std::optional<std::vector<int64_t>> ConstantInts(const Tensor* t);

// True when some tensor could have both shapes (ranks agree when known, known dims agree).
bool ShapesCompatible(const PartialShape& a, const PartialShape& b);

}  // namespace savant::engine
