// The op families of the engine and a few helpers they share. Each family lives in its own file
// (engine/ops/<family>_ops.cc) and exposes one Register...Ops(); all_ops.cc calls them in
// alphabetical order to fill OpRegistry::Global(). Kernels only see Tensors: attrs are read from
// the Node (engine/graph.h) and TensorProtos are decoded through engine/tensor_proto.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/status_macros.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/tensor.h"
#include "engine/tensor_proto.h"

namespace savant::engine {

// array_ops.cc: Const, Placeholder, Identity, Reshape, Pack, ConcatV2, Cast, Select, ...
void RegisterArrayOps(OpRegistry& registry);
// binary_ops.cc: Add, AddV2, AddN, Sub, Mul, RealDiv, Div, DivNoNan, FloorDiv, FloorMod, Pow,
// Maximum, Minimum, SquaredDifference, the comparisons and LogicalAnd/LogicalOr.
void RegisterBinaryOps(OpRegistry& registry);
// io_ops.cc: RestoreV2, Restore, RestoreSlice, ShardedFilename, ShardedFilespec, StringJoin and
// the save ops (registered so graphs load; they fail if ever run).
void RegisterIoOps(OpRegistry& registry);
// matmul_ops.cc: MatMul.
void RegisterMatMulOps(OpRegistry& registry);
// parse_example_ops.cc: ParseExample, ParseExampleV2.
void RegisterParseExampleOps(OpRegistry& registry);
// random_ops.cc: RandomUniform, RandomStandardNormal, TruncatedNormal (Philox, TF's seeding).
void RegisterRandomOps(OpRegistry& registry);
// variable_ops.cc: VariableV2, Assign*, _ReadRef, VarHandleOp, ReadVariableOp, Assign*VariableOp...
void RegisterVariableOps(OpRegistry& registry);

// image_ops.cc: ResizeBilinear, ResizeNearestNeighbor.
void RegisterImageOps(OpRegistry& registry);
// nn_ops.cc: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput, MaxPool, AvgPool, BiasAdd,
// FusedBatchNormV3, _FusedConv2D, _FusedMatMul.
void RegisterNnOps(OpRegistry& registry);
// reduction_ops.cc: Mean, Sum, Max, Min, Prod, All, Any, ArgMax, ArgMin, Cumsum, TopKV2.
void RegisterReductionOps(OpRegistry& registry);
// shape_ops.cc: StridedSlice, Slice, Split, Transpose, Tile, GatherV2, Pad, Where, OneHot, Assert,
// ... (shapes and data movement).
void RegisterShapeOps(OpRegistry& registry);
// unary_ops.cc: Neg, Abs, Exp, Log, Tanh, Sigmoid, Relu, Softmax, ClipByValue,
// FakeQuantWithMinMaxVars, ... (elementwise, one input, plus the row-wise softmaxes).
void RegisterUnaryOps(OpRegistry& registry);

// ---- Helpers shared by the op families ----

// TensorFlow's short dtype spelling ("float", "int64", "string"), used where we reproduce
// TensorFlow's own error messages (DataTypeString in TF); DataTypeName gives "DT_FLOAT".
inline absl::string_view TfTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat:
      return "float";
    case DataType::kDouble:
      return "double";
    case DataType::kInt32:
      return "int32";
    case DataType::kUInt8:
      return "uint8";
    case DataType::kInt16:
      return "int16";
    case DataType::kInt8:
      return "int8";
    case DataType::kString:
      return "string";
    case DataType::kComplex64:
      return "complex64";
    case DataType::kInt64:
      return "int64";
    case DataType::kBool:
      return "bool";
    case DataType::kQInt8:
      return "qint8";
    case DataType::kQUInt8:
      return "quint8";
    case DataType::kQInt32:
      return "qint32";
    case DataType::kBFloat16:
      return "bfloat16";
    case DataType::kQInt16:
      return "qint16";
    case DataType::kQUInt16:
      return "quint16";
    case DataType::kUInt16:
      return "uint16";
    case DataType::kComplex128:
      return "complex128";
    case DataType::kHalf:
      return "half";
    case DataType::kResource:
      return "resource";
    case DataType::kVariant:
      return "variant";
    case DataType::kUInt32:
      return "uint32";
    case DataType::kUInt64:
      return "uint64";
    case DataType::kInvalid:
      break;
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

// INVALID_ARGUMENT unless `ctx` has at least `n` inputs.
inline absl::Status ExpectNumInputs(const KernelContext& ctx, int n) {
  if (ctx.num_inputs() >= n) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", n, " inputs, got ", ctx.num_inputs()));
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

// Calls f(Tag<T>{}) to pass a type through a generic lambda.
template <typename T>
struct Tag {
  using type = T;
};

// Storage of a 16-byte POD element (complex128) when only copied.
struct Bytes16 {
  uint64_t lo;
  uint64_t hi;
};

// Calls f(Tag<S>{}) with a storage type S that copies elements of `dtype` by value: an unsigned
// integer of the element's size for POD types, std::string, or ResourceHandle. Does nothing for
// kInvalid.
template <typename F>
void VisitStorage(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kString:
      f(Tag<std::string>{});
      return;
    case DataType::kResource:
    case DataType::kVariant:
      f(Tag<ResourceHandle>{});
      return;
    default:
      break;
  }
  switch (DataTypeSize(dtype)) {
    case 1:
      f(Tag<uint8_t>{});
      return;
    case 2:
      f(Tag<uint16_t>{});
      return;
    case 4:
      f(Tag<uint32_t>{});
      return;
    case 8:
      f(Tag<uint64_t>{});
      return;
    case 16:
      f(Tag<Bytes16>{});
      return;
    default:
      return;
  }
}

// The values of an int32 or int64 tensor (shape arguments, axes, indices); INVALID_ARGUMENT naming
// `what` for any other dtype.
inline absl::StatusOr<std::vector<int64_t>> IndexValues(const Tensor& t, absl::string_view what) {
  std::vector<int64_t> values;
  values.reserve(t.num_elements());
  if (t.dtype() == DataType::kInt32) {
    for (int32_t v : t.flat<int32_t>()) values.push_back(v);
  } else if (t.dtype() == DataType::kInt64) {
    for (int64_t v : t.flat<int64_t>()) values.push_back(v);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be DT_INT32 or DT_INT64, got ", DataTypeName(t.dtype())));
  }
  return values;
}

// The single value of an int32/int64 tensor with one element (scalar or [1]).
inline absl::StatusOr<int64_t> IndexScalar(const Tensor& t, absl::string_view what) {
  if (t.num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must hold a single value, got shape ", t.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> v, IndexValues(t, what));
  return v[0];
}

// ---- IEEE half and bfloat16 ----
// Both are stored as their bit patterns. Arithmetic on them runs in float and rounds the result to
// nearest even, which is what Eigen::half and Eigen::bfloat16 do in TensorFlow's kernels.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

inline uint16_t FloatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  uint32_t mant = x & 0x7fffff;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  // Round to nearest even; a carry into the exponent is the correct result (up to infinity).
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(h);
}

inline float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  const uint32_t x = exp == 0x1f ? (sign | 0x7f800000 | (mant << 13))
                                 : (sign | ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline uint16_t FloatToBFloat16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>(((x >> 16) & 0x8000) | 0x7fc0);
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

inline float BFloat16BitsToFloat(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// The arithmetic type of a stored element type: float for Half and BFloat16, else itself.
template <typename S>
struct ComputeTypeOf {
  using type = S;
};
template <>
struct ComputeTypeOf<Half> {
  using type = float;
};
template <>
struct ComputeTypeOf<BFloat16> {
  using type = float;
};
template <typename S>
using ComputeType = typename ComputeTypeOf<S>::type;

// Converts a stored element to its arithmetic type and back (identity except for the 16-bit
// floats).
template <typename S>
inline ComputeType<S> Load(S v) {
  if constexpr (std::is_same_v<S, Half>) {
    return HalfBitsToFloat(v.bits);
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return BFloat16BitsToFloat(v.bits);
  } else {
    return v;
  }
}
template <typename S>
inline S Store(ComputeType<S> v) {
  if constexpr (std::is_same_v<S, Half>) {
    return Half{FloatToHalfBits(v)};
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return BFloat16{FloatToBFloat16Bits(v)};
  } else {
    return v;
  }
}

// Calls f(Tag<S>{}) for the floating-point dtypes (float, double, half, bfloat16); false otherwise.
template <typename F>
bool VisitFloatType(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kFloat:
      f(Tag<float>{});
      return true;
    case DataType::kDouble:
      f(Tag<double>{});
      return true;
    case DataType::kHalf:
      f(Tag<Half>{});
      return true;
    case DataType::kBFloat16:
      f(Tag<BFloat16>{});
      return true;
    default:
      return false;
  }
}

// Calls f(Tag<S>{}) for the integer dtypes; false otherwise.
template <typename F>
bool VisitIntegerType(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kInt8:
      f(Tag<int8_t>{});
      return true;
    case DataType::kInt16:
      f(Tag<int16_t>{});
      return true;
    case DataType::kInt32:
      f(Tag<int32_t>{});
      return true;
    case DataType::kInt64:
      f(Tag<int64_t>{});
      return true;
    case DataType::kUInt8:
      f(Tag<uint8_t>{});
      return true;
    case DataType::kUInt16:
      f(Tag<uint16_t>{});
      return true;
    case DataType::kUInt32:
      f(Tag<uint32_t>{});
      return true;
    case DataType::kUInt64:
      f(Tag<uint64_t>{});
      return true;
    default:
      return false;
  }
}

// Calls f(Tag<S>{}) for every real numeric dtype (floating and integer); false otherwise.
template <typename F>
bool VisitRealType(DataType dtype, F&& f) {
  return VisitFloatType(dtype, f) || VisitIntegerType(dtype, f);
}

// `axis` in [-rank, rank) made non-negative; INVALID_ARGUMENT in TensorFlow's wording otherwise
// ("Expected axis in the range [-2, 2), but got 3"; `what` replaces "axis").
inline absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank, absl::string_view what = "axis") {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat("Expected ", what, " in the range [", -rank,
                                                   ", ", rank, "), but got ", axis));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Product of dims [begin, end) of `shape`.
inline int64_t DimProduct(const Shape& shape, int begin, int end) {
  int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= shape.dim(i);
  return n;
}

// Below this many elements a kernel stays on its calling thread; above it, it splits work with
// ctx.pool().ParallelFor in chunks of about this size.
inline constexpr int64_t kParallelElements = 1 << 15;


}  // namespace savant::engine
