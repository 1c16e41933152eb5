// The op families of the engine and a few helpers they share. Each family lives in its own file
// (engine/ops/<family>_ops.cc) and exposes one Register...Ops(); all_ops.cc calls them in
// alphabetical order to fill OpRegistry::Global(). Kernels only see Tensors: attrs are read from
// the Node (engine/graph.h) and TensorProtos are decoded through engine/tensor_proto.h.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/tensor.h"
#include "engine/tensor_proto.h"

namespace savant::engine {

// array_ops.cc: Const, Placeholder, Identity, Reshape, Pack, ConcatV2, Cast, Select, ...
void RegisterArrayOps(OpRegistry& registry);
// binary_ops.cc: Add, AddV2, Sub, Mul, RealDiv, Maximum, Minimum, SquaredDifference.
void RegisterBinaryOps(OpRegistry& registry);
// io_ops.cc: RestoreV2, Restore, RestoreSlice, ShardedFilename, ShardedFilespec, StringJoin and
// the save ops (registered so graphs load; they fail if ever run).
void RegisterIoOps(OpRegistry& registry);
// matmul_ops.cc: MatMul.
void RegisterMatMulOps(OpRegistry& registry);
// parse_example_ops.cc: ParseExample, ParseExampleV2.
void RegisterParseExampleOps(OpRegistry& registry);
// variable_ops.cc: VariableV2, Assign*, _ReadRef, VarHandleOp, ReadVariableOp, Assign*VariableOp...
void RegisterVariableOps(OpRegistry& registry);

// ---- Helpers shared by the op families ----

// TensorFlow's short dtype spelling ("float", "int64", "string"), used where we reproduce
// TensorFlow's own error messages (DataTypeString in TF); DataTypeName gives "DT_FLOAT".
inline absl::string_view TfTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat: return "float";
    case DataType::kDouble: return "double";
    case DataType::kInt32: return "int32";
    case DataType::kUInt8: return "uint8";
    case DataType::kInt16: return "int16";
    case DataType::kInt8: return "int8";
    case DataType::kString: return "string";
    case DataType::kComplex64: return "complex64";
    case DataType::kInt64: return "int64";
    case DataType::kBool: return "bool";
    case DataType::kQInt8: return "qint8";
    case DataType::kQUInt8: return "quint8";
    case DataType::kQInt32: return "qint32";
    case DataType::kBFloat16: return "bfloat16";
    case DataType::kQInt16: return "qint16";
    case DataType::kQUInt16: return "quint16";
    case DataType::kUInt16: return "uint16";
    case DataType::kComplex128: return "complex128";
    case DataType::kHalf: return "half";
    case DataType::kResource: return "resource";
    case DataType::kVariant: return "variant";
    case DataType::kUInt32: return "uint32";
    case DataType::kUInt64: return "uint64";
    case DataType::kInvalid: break;
  }
  return "invalid";
}

// The numpy/TensorFlow broadcast of two shapes: dims are aligned from the right and each pair must
// be equal or contain a 1. INVALID_ARGUMENT "Incompatible shapes: [2,3] vs. [4]" (TF's wording).
inline absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank());
    const int ib = i - (rank - b.rank());
    const int64_t da = ia >= 0 ? a.dim(ia) : 1;
    const int64_t db = ib >= 0 ? b.dim(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Incompatible shapes: ", a.DebugString(), " vs. ", b.DebugString()));
    }
    out.AddDim(da == 1 ? db : da);
  }
  return out;
}

// Element strides of `in` when read as the broadcast shape `out` (rank(out) >= rank(in)): 0 on
// broadcast dims, so out index . strides is the input's flat index. Precondition: `in`
// broadcasts to `out`.
inline std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.rank(), 0);
  int64_t stride = 1;
  for (int i = in.rank() - 1; i >= 0; --i) {
    const int o = i + (out.rank() - in.rank());
    strides[o] = in.dim(i) == 1 ? 0 : stride;
    stride *= in.dim(i);
  }
  return strides;
}

// A "shape" attr (TensorShapeProto); INVALID_ARGUMENT naming the attr when missing or mistyped.
inline absl::StatusOr<PartialShape> GetShapeAttr(const Node& node, absl::string_view name) {
  const tensorflow::AttrValue* attr = FindAttr(node, name);
  if (attr == nullptr || attr->value_case() != tensorflow::AttrValue::kShape) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr \"", name, "\" is ", attr == nullptr ? "missing" : "not a shape"));
  }
  return PartialShapeFromProto(attr->shape());
}

// A "list(shape)" attr; an absent attr or an empty list gives an empty vector.
inline absl::StatusOr<std::vector<PartialShape>> GetShapeListAttr(const Node& node,
                                                                  absl::string_view name) {
  std::vector<PartialShape> shapes;
  const tensorflow::AttrValue* attr = FindAttr(node, name);
  if (attr == nullptr) return shapes;
  if (attr->value_case() != tensorflow::AttrValue::kList) {
    return absl::InvalidArgumentError(absl::StrCat("attr \"", name, "\" is not a list of shapes"));
  }
  for (const auto& s : attr->list().shape()) shapes.push_back(PartialShapeFromProto(s));
  return shapes;
}

// INVALID_ARGUMENT unless input `i` of `ctx` has dtype `want`; `what` names the input.
inline absl::Status ExpectInputDType(const KernelContext& ctx, int i, DataType want,
                                     absl::string_view what) {
  const DataType got = ctx.input(i).dtype();
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("input ", i, " (", what, "): expected ",
                                                 DataTypeName(want), ", got ", DataTypeName(got)));
}

// Copies `count` elements of any dtype (POD bytes, strings, resource handles) from `src` starting
// at element `src_offset` to `dst` starting at `dst_offset`. Precondition: same dtype, in range.
inline void CopyElements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                         int64_t count) {
  if (count <= 0) return;
  switch (src.dtype()) {
    case DataType::kString: {
      const std::string* s = src.data<std::string>() + src_offset;
      std::copy(s, s + count, dst.data<std::string>() + dst_offset);
      break;
    }
    case DataType::kResource:
    case DataType::kVariant: {
      const ResourceHandle* s = src.data<ResourceHandle>() + src_offset;
      std::copy(s, s + count, dst.data<ResourceHandle>() + dst_offset);
      break;
    }
    default: {
      const size_t size = DataTypeSize(src.dtype());
      std::memcpy(static_cast<char*>(dst.raw_data()) + dst_offset * size,
                  static_cast<const char*>(src.raw_data()) + src_offset * size, count * size);
    }
  }
}

}  // namespace savant::engine
