// Array ops: constants and placeholders, forwarding ops (Identity and friends), shape
// manipulation (Reshape, ExpandDims, Squeeze, Shape), construction (Pack, ConcatV2, Fill,
// ZerosLike, OnesLike), Cast and Select/SelectV2. Ops that only change the shape return a view of
// their input's buffer; nothing here copies element data it does not have to.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/tensor_proto.h"

namespace savant::engine {
namespace {

// ---- Const, Placeholder, forwarding ----

// Holds the value decoded once from the "value" attr; every run shares its buffer.
class ConstKernel final : public OpKernel {
 public:
  explicit ConstKernel(Tensor value) : value_(std::move(value)) {}
  absl::Status Compute(KernelContext& ctx) const override {
    ctx.set_output(0, value_);
    return absl::OkStatus();
  }

 private:
  const Tensor value_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateConst(const KernelConstruction& c) {
  const tensorflow::AttrValue* attr = FindAttr(c.node(), "value");
  if (attr == nullptr || attr->value_case() != tensorflow::AttrValue::kTensor) {
    return absl::InvalidArgumentError("attr \"value\" is missing or not a tensor");
  }
  auto value = TensorFromProto(attr->tensor());
  if (!value.ok()) return Annotate(value.status(), "attr \"value\"");
  if (FindAttr(c.node(), "dtype") != nullptr) {
    ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
    if (dtype != value->dtype()) {
      return absl::InvalidArgumentError(absl::StrCat("Type mismatch between value (",
                                                     TfTypeName(value->dtype()), ") and dtype (",
                                                     TfTypeName(dtype), ")"));
    }
  }
  return std::make_unique<ConstKernel>(*std::move(value));
}

// A placeholder that was not fed: the error TensorFlow gives, with the message built at load.
class PlaceholderKernel final : public OpKernel {
 public:
  explicit PlaceholderKernel(std::string message) : message_(std::move(message)) {}
  absl::Status Compute(KernelContext&) const override {
    return absl::InvalidArgumentError(message_);
  }

 private:
  const std::string message_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreatePlaceholder(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "dtype"));
  std::string message = absl::StrCat("You must feed a value for placeholder tensor '",
                                     c.node().name, "' with dtype ", TfTypeName(dtype));
  if (FindAttr(c.node(), "shape") != nullptr) {
    ASSIGN_OR_RETURN(PartialShape shape, GetShapeAttr(c.node(), "shape"));
    if (shape.rank() > 0) absl::StrAppend(&message, " and shape ", shape.DebugString());
  }
  return std::make_unique<PlaceholderKernel>(std::move(message));
}

// Identity, Snapshot, StopGradient, PlaceholderWithDefault: tensors are immutable once produced,
// so forwarding the buffer is the whole kernel (Snapshot's copy is unnecessary here).
absl::Status ForwardInput(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  ctx.set_output(0, ctx.input(0));
  return absl::OkStatus();
}

absl::Status IdentityN(KernelContext& ctx) {
  if (ctx.num_outputs() != ctx.num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("expected as many outputs as inputs, got ",
                                                   ctx.num_outputs(), " outputs for ",
                                                   ctx.num_inputs(), " inputs"));
  }
  for (int i = 0; i < ctx.num_inputs(); ++i) ctx.set_output(i, ctx.input(i));
  return absl::OkStatus();
}

absl::Status NoOp(KernelContext&) { return absl::OkStatus(); }

// ---- Shape manipulation ----

absl::Status Reshape(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& input = ctx.input(0);
  const Tensor& sizes = ctx.input(1);
  // TensorFlow still accepts a scalar as a one-element shape (legacy behaviour).
  if (sizes.rank() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sizes input must be 1-D, not ", sizes.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IndexValues(sizes, "shape"));
  // The inference rules of TensorFlow's ReshapeOp::ValidateSizes.
  Shape shape;
  int64_t product = 1;
  int unknown_index = -1;
  bool sizes_has_zero_dim = false;
  for (int d = 0; d < static_cast<int>(dims.size()); ++d) {
    const int64_t size = dims[d];
    if (size == -1) {
      if (unknown_index != -1) {
        return absl::InvalidArgumentError(
            absl::StrCat("Only one input size may be -1, not both ", unknown_index, " and ", d));
      }
      unknown_index = d;
      shape.AddDim(1);
    } else if (size < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Size ", d, " must be non-negative, not ", size));
    } else if (size == 0) {
      // Zero dims stay out of `product` so the other dims can still be inferred.
      shape.AddDim(0);
      sizes_has_zero_dim = true;
    } else {
      if (product > std::numeric_limits<int64_t>::max() / size) {
        return absl::InvalidArgumentError(
            absl::StrCat("requested shape [", absl::StrJoin(dims, ","), "] has too many elements"));
      }
      shape.AddDim(size);
      product *= size;
    }
  }
  if (unknown_index != -1) {
    int64_t input_num_elements = 1;
    bool input_has_zero_dim = false;
    for (int64_t d : input.shape().dims()) {
      if (d > 0 || !sizes_has_zero_dim) {
        input_num_elements *= d;
      } else {
        input_has_zero_dim = true;
      }
    }
    const int64_t missing = input_num_elements / product;
    if (!input_has_zero_dim && product * missing != input_num_elements) {
      return absl::InvalidArgumentError(
          absl::StrCat("Input to reshape is a tensor with ", input_num_elements,
                       " values, but the requested shape requires a multiple of ", product));
    }
    shape.set_dim(unknown_index, missing);
  }
  if (shape.num_elements() != input.num_elements()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Input to reshape is a tensor with ", input.num_elements(),
                     " values, but the requested shape has ", shape.num_elements()));
  }
  ASSIGN_OR_RETURN(Tensor out, input.Reshaped(shape));
  ctx.set_output(0, std::move(out));
  return absl::OkStatus();
}

absl::Status ExpandDims(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& input = ctx.input(0);
  if (ctx.input(1).num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'dim' must be a tensor with a single value, got shape ",
                     ctx.input(1).shape().DebugString()));
  }
  ASSIGN_OR_RETURN(int64_t dim, IndexScalar(ctx.input(1), "'dim'"));
  const int rank = input.rank();
  if (dim < -1 - rank || dim > rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("Tried to expand dim index ", dim, " for tensor with ", rank, " dimensions."));
  }
  if (dim < 0) dim += rank + 1;
  Shape shape = input.shape();
  shape.InsertDim(static_cast<int>(dim), 1);
  ASSIGN_OR_RETURN(Tensor out, input.Reshaped(shape));
  ctx.set_output(0, std::move(out));
  return absl::OkStatus();
}

class SqueezeKernel final : public OpKernel {
 public:
  explicit SqueezeKernel(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& input = ctx.input(0);
    const int rank = input.rank();
    std::vector<bool> squeeze(rank, false);
    for (int64_t d : dims_) {
      if (d < -rank || d >= rank) {
        return absl::InvalidArgumentError(absl::StrCat("Tried to squeeze dim index ", d,
                                                       " for tensor with ", rank, " dimensions."));
      }
      squeeze[d < 0 ? d + rank : d] = true;
    }
    Shape shape;
    for (int i = 0; i < rank; ++i) {
      const int64_t size = input.dim(i);
      if (dims_.empty()) {
        if (size != 1) shape.AddDim(size);
      } else if (squeeze[i]) {
        if (size != 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("Can not squeeze dim[", i, "], expected a dimension of 1, got ", size));
        }
      } else {
        shape.AddDim(size);
      }
    }
    ASSIGN_OR_RETURN(Tensor out, input.Reshaped(shape));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }

 private:
  const std::vector<int64_t> dims_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateSqueeze(const KernelConstruction& c) {
  std::vector<int64_t> dims;
  if (FindAttr(c.node(), "squeeze_dims") != nullptr) {
    ASSIGN_OR_RETURN(dims, GetIntListAttr(c.node(), "squeeze_dims"));
  }
  return std::make_unique<SqueezeKernel>(std::move(dims));
}

class ShapeKernel final : public OpKernel {
 public:
  explicit ShapeKernel(DataType out_type) : out_type_(out_type) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Shape& shape = ctx.input(0).shape();
    Tensor& out = ctx.allocate_output(0, out_type_, Shape{shape.rank()});
    for (int i = 0; i < shape.rank(); ++i) {
      const int64_t d = shape.dim(i);
      if (out_type_ == DataType::kInt32) {
        if (d > std::numeric_limits<int32_t>::max()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Shape output type is 32-bit but dim ", i, " is ", d));
        }
        out.data<int32_t>()[i] = static_cast<int32_t>(d);
      } else {
        out.data<int64_t>()[i] = d;
      }
    }
    return absl::OkStatus();
  }

 private:
  const DataType out_type_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateShape(const KernelConstruction& c) {
  DataType out_type = DataType::kInt32;
  if (FindAttr(c.node(), "out_type") != nullptr) {
    ASSIGN_OR_RETURN(out_type, GetTypeAttr(c.node(), "out_type"));
  }
  if (out_type != DataType::kInt32 && out_type != DataType::kInt64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr \"out_type\" must be DT_INT32 or DT_INT64, got ", DataTypeName(out_type)));
  }
  return std::make_unique<ShapeKernel>(out_type);
}

// ---- Construction ----

class PackKernel final : public OpKernel {
 public:
  explicit PackKernel(int64_t axis) : axis_(axis) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int n = ctx.num_inputs();
    if (n < 1) return absl::InvalidArgumentError("Pack needs at least one input");
    const Tensor& first = ctx.input(0);
    for (int i = 1; i < n; ++i) {
      if (ctx.input(i).dtype() != first.dtype()) {
        return absl::InvalidArgumentError(
            absl::StrCat("values[", i, "] has dtype ", DataTypeName(ctx.input(i).dtype()),
                         ", expected ", DataTypeName(first.dtype()), " like values[0]"));
      }
      if (ctx.input(i).shape() != first.shape()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Shapes of all inputs must match: values[0].shape = ", first.shape().DebugString(),
            " != values[", i, "].shape = ", ctx.input(i).shape().DebugString()));
      }
    }
    const int expanded_rank = first.rank() + 1;
    int64_t axis = axis_;
    if (axis < -expanded_rank || axis >= expanded_rank) {
      return absl::InvalidArgumentError(
          absl::StrCat("axis = ", axis, " not in [", -expanded_rank, ", ", expanded_rank, ")"));
    }
    if (axis < 0) axis += expanded_rank;
    Shape shape = first.shape();
    shape.InsertDim(static_cast<int>(axis), n);
    Tensor& out = ctx.allocate_output(0, first.dtype(), shape);
    int64_t before = 1;
    for (int i = 0; i < axis; ++i) before *= first.dim(i);
    const int64_t after = before == 0 ? 0 : first.num_elements() / before;
    for (int64_t b = 0; b < before; ++b) {
      for (int i = 0; i < n; ++i) {
        CopyElements(ctx.input(i), b * after, out, (b * n + i) * after, after);
      }
    }
    return absl::OkStatus();
  }

 private:
  const int64_t axis_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreatePack(const KernelConstruction& c) {
  return std::make_unique<PackKernel>(GetIntAttrOr(c.node(), "axis", 0));
}

absl::Status ConcatV2(KernelContext& ctx) {
  const int n = ctx.num_inputs() - 1;
  if (n < 1) return absl::InvalidArgumentError("ConcatV2 needs at least one value and an axis");
  ASSIGN_OR_RETURN(int64_t axis, IndexScalar(ctx.input(n), "axis"));
  const Tensor& first = ctx.input(0);
  const int rank = first.rank();
  if (rank == 0) {
    return absl::InvalidArgumentError(
        "ConcatOp : Can't concatenate scalars (use tf.stack instead)");
  }
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("ConcatOp : Expected concatenating dimensions in the range [", -rank, ", ",
                     rank, "), but got ", axis));
  }
  if (axis < 0) axis += rank;
  Shape shape = first.shape();
  int64_t axis_size = 0;
  for (int i = 0; i < n; ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype()) {
      return absl::InvalidArgumentError(
          absl::StrCat("values[", i, "] has dtype ", DataTypeName(t.dtype()), ", expected ",
                       DataTypeName(first.dtype()), " like values[0]"));
    }
    if (t.rank() != rank) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ConcatOp : Ranks of all input tensors should match: shape[0] = ",
          first.shape().DebugString(), " vs. shape[", i, "] = ", t.shape().DebugString()));
    }
    for (int d = 0; d < rank; ++d) {
      if (d != axis && t.dim(d) != first.dim(d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ConcatOp : Dimension ", d, " in both shapes must be equal: shape[0] = ",
            first.shape().DebugString(), " vs. shape[", i, "] = ", t.shape().DebugString()));
      }
    }
    axis_size += t.dim(static_cast<int>(axis));
  }
  if (n == 1) {
    ctx.set_output(0, first);
    return absl::OkStatus();
  }
  shape.set_dim(static_cast<int>(axis), axis_size);
  Tensor& out = ctx.allocate_output(0, first.dtype(), shape);
  if (out.num_elements() == 0) return absl::OkStatus();
  int64_t before = 1;
  for (int d = 0; d < axis; ++d) before *= first.dim(d);
  const int64_t out_row = out.num_elements() / before;
  std::vector<int64_t> rows(n);
  for (int i = 0; i < n; ++i) rows[i] = ctx.input(i).num_elements() / before;
  for (int64_t b = 0; b < before; ++b) {
    int64_t offset = b * out_row;
    for (int i = 0; i < n; ++i) {
      CopyElements(ctx.input(i), b * rows[i], out, offset, rows[i]);
      offset += rows[i];
    }
  }
  return absl::OkStatus();
}

// Sets every element of `out` to element 0 of `value` (same dtype).
void FillWith(Tensor& out, const Tensor& value) {
  VisitStorage(out.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S v = value.data<S>()[0];
    std::fill_n(out.data<S>(), out.num_elements(), v);
  });
}

absl::Status Fill(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& dims_t = ctx.input(0);
  const Tensor& value = ctx.input(1);
  if (dims_t.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dims must be a vector, got shape ", dims_t.shape().DebugString()));
  }
  if (value.rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("value must be a scalar, got shape ", value.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IndexValues(dims_t, "dims"));
  Shape shape;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("Dimension ", d, " must be >= 0"));
    }
    if (d > 0 && n > std::numeric_limits<int64_t>::max() / d) {
      return absl::InvalidArgumentError(
          absl::StrCat("dims [", absl::StrJoin(dims, ","), "] have too many elements"));
    }
    n *= d;
    shape.AddDim(d);
  }
  Tensor& out = ctx.allocate_output(0, value.dtype(), shape);
  FillWith(out, value);
  return absl::OkStatus();
}

absl::Status ZerosLike(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  const Tensor& input = ctx.input(0);
  if (!IsPodType(input.dtype()) && input.dtype() != DataType::kString) {
    return absl::InvalidArgumentError(
        absl::StrCat("ZerosLike does not support ", DataTypeName(input.dtype())));
  }
  Tensor& out = ctx.allocate_output(0, input.dtype(), input.shape());
  // Every POD dtype's zero is all-zero bytes; strings are constructed empty.
  if (out.byte_size() > 0) std::memset(out.raw_data(), 0, out.byte_size());
  return absl::OkStatus();
}

absl::Status OnesLike(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  const Tensor& input = ctx.input(0);
  Tensor one(input.dtype(), Shape{});
  switch (input.dtype()) {
    case DataType::kFloat:
      one.scalar<float>() = 1;
      break;
    case DataType::kDouble:
      one.scalar<double>() = 1;
      break;
    case DataType::kInt8:
      one.scalar<int8_t>() = 1;
      break;
    case DataType::kInt16:
      one.scalar<int16_t>() = 1;
      break;
    case DataType::kInt32:
      one.scalar<int32_t>() = 1;
      break;
    case DataType::kInt64:
      one.scalar<int64_t>() = 1;
      break;
    case DataType::kUInt8:
      one.scalar<uint8_t>() = 1;
      break;
    case DataType::kUInt16:
      one.scalar<uint16_t>() = 1;
      break;
    case DataType::kUInt32:
      one.scalar<uint32_t>() = 1;
      break;
    case DataType::kUInt64:
      one.scalar<uint64_t>() = 1;
      break;
    case DataType::kBool:
      one.scalar<bool>() = true;
      break;
    case DataType::kHalf:
      one.scalar<uint16_t>() = 0x3c00;
      break;
    case DataType::kBFloat16:
      one.scalar<uint16_t>() = 0x3f80;
      break;
    case DataType::kComplex64:
      one.data<float>()[0] = 1;
      one.data<float>()[1] = 0;
      break;
    case DataType::kComplex128:
      one.data<double>()[0] = 1;
      one.data<double>()[1] = 0;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("OnesLike does not support ", DataTypeName(input.dtype())));
  }
  Tensor& out = ctx.allocate_output(0, input.dtype(), input.shape());
  FillWith(out, one);
  return absl::OkStatus();
}

// ---- Cast ----

template <typename S>
auto Widen(S v) {
  if constexpr (std::is_same_v<S, Half>) {
    return HalfBitsToFloat(v.bits);
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return BFloat16BitsToFloat(v.bits);
  } else {
    return v;
  }
}

template <typename D, typename S>
D Convert(S s) {
  const auto v = Widen(s);
  using V = decltype(v);
  if constexpr (std::is_same_v<D, bool>) {
    return v != V(0);
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{FloatToHalfBits(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<D, BFloat16>) {
    return BFloat16{FloatToBFloat16Bits(static_cast<float>(v))};
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<V>) {
    // Out-of-range float-to-int is UB in C++; NaN gives 0 and the rest saturates.
    if (v != v) return D(0);
    if (v <= static_cast<V>(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
    if (v >= static_cast<V>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return static_cast<D>(v);
  } else {
    return static_cast<D>(v);
  }
}

using CastFn = void (*)(const void* in, void* out, int64_t n);

template <typename S, typename D>
void CastLoop(const void* in, void* out, int64_t n) {
  const S* src = static_cast<const S*>(in);
  D* dst = static_cast<D*>(out);
  for (int64_t i = 0; i < n; ++i) dst[i] = Convert<D>(src[i]);
}

template <typename F>
bool VisitCastType(DataType dtype, F&& f) {
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
    case DataType::kBool:
      f(Tag<bool>{});
      return true;
    default:
      return false;
  }
}

class CastKernel final : public OpKernel {
 public:
  CastKernel(DataType src, DataType dst, CastFn fn) : src_(src), dst_(dst), fn_(fn) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& input = ctx.input(0);
    if (input.dtype() != src_) {
      return absl::InvalidArgumentError(absl::StrCat("input 0: expected ", DataTypeName(src_),
                                                     " (attr SrcT), got ",
                                                     DataTypeName(input.dtype())));
    }
    if (fn_ == nullptr) {
      ctx.set_output(0, input);
      return absl::OkStatus();
    }
    Tensor& out = ctx.allocate_output(0, dst_, input.shape());
    if (input.num_elements() > 0) fn_(input.raw_data(), out.raw_data(), input.num_elements());
    return absl::OkStatus();
  }

 private:
  const DataType src_;
  const DataType dst_;
  const CastFn fn_;  // nullptr: same dtype, forward the input
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateCast(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType src, GetTypeAttr(c.node(), "SrcT"));
  ASSIGN_OR_RETURN(DataType dst, GetTypeAttr(c.node(), "DstT"));
  if (src == dst) return std::make_unique<CastKernel>(src, dst, nullptr);
  CastFn fn = nullptr;
  VisitCastType(src, [&](auto s) {
    VisitCastType(dst, [&](auto d) {
      fn = CastLoop<typename decltype(s)::type, typename decltype(d)::type>;
    });
  });
  if (fn == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("Cast from ", DataTypeName(src), " to ", DataTypeName(dst),
                     " is not supported (supported: real numeric types and DT_BOOL)"));
  }
  return std::make_unique<CastKernel>(src, dst, fn);
}

// ---- Select ----

absl::Status CheckSelectDTypes(const KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  RETURN_IF_ERROR(ExpectInputDType(ctx, 0, DataType::kBool, "condition"));
  if (ctx.input(1).dtype() != ctx.input(2).dtype()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'then' and 'else' must have the same dtype, got ", DataTypeName(ctx.input(1).dtype()),
        " and ", DataTypeName(ctx.input(2).dtype())));
  }
  return absl::OkStatus();
}

// TensorFlow's Select: a scalar condition picks a whole input; a vector condition with
// higher-rank inputs picks rows (dim 0); otherwise all three shapes are equal.
absl::Status Select(KernelContext& ctx) {
  RETURN_IF_ERROR(CheckSelectDTypes(ctx));
  const Tensor& cond = ctx.input(0);
  const Tensor& then_t = ctx.input(1);
  const Tensor& else_t = ctx.input(2);
  if (then_t.shape() != else_t.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'then' and 'else' must have the same size.  but received: ", then_t.shape().DebugString(),
        " vs. ", else_t.shape().DebugString()));
  }
  if (cond.rank() == 0) {
    ctx.set_output(0, cond.scalar<bool>() ? then_t : else_t);
    return absl::OkStatus();
  }
  const bool* c = cond.data<bool>();
  Tensor& out = ctx.allocate_output(0, then_t.dtype(), then_t.shape());
  if (cond.rank() == 1 && then_t.rank() > 1) {
    if (cond.dim(0) != then_t.dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Number of batches of 'then' must match size of 'condition', but saw: ", then_t.dim(0),
          " vs. ", cond.dim(0)));
    }
    const int64_t rows = cond.dim(0);
    const int64_t row = rows == 0 ? 0 : then_t.num_elements() / rows;
    for (int64_t r = 0; r < rows; ++r) {
      CopyElements(c[r] ? then_t : else_t, r * row, out, r * row, row);
    }
    return absl::OkStatus();
  }
  if (cond.shape() != then_t.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'condition' and 'then' must have the same shape, or 'condition' must be a scalar or a "
        "vector matching dim 0 of 'then', but received: ",
        cond.shape().DebugString(), " vs. ", then_t.shape().DebugString()));
  }
  VisitStorage(out.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* t = then_t.data<S>();
    const S* e = else_t.data<S>();
    S* o = out.data<S>();
    for (int64_t i = 0; i < out.num_elements(); ++i) o[i] = c[i] ? t[i] : e[i];
  });
  return absl::OkStatus();
}

// SelectV2 broadcasts condition, then and else against each other.
absl::Status SelectV2(KernelContext& ctx) {
  RETURN_IF_ERROR(CheckSelectDTypes(ctx));
  const Tensor& cond = ctx.input(0);
  const Tensor& then_t = ctx.input(1);
  const Tensor& else_t = ctx.input(2);
  auto bcast = BroadcastShapes(cond.shape(), then_t.shape());
  if (bcast.ok()) bcast = BroadcastShapes(*bcast, else_t.shape());
  if (!bcast.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "condition ", cond.shape().DebugString(), ", then ", then_t.shape().DebugString(),
        ", and else ", else_t.shape().DebugString(), " must be broadcastable"));
  }
  const Shape& shape = *bcast;
  if (cond.rank() == 0 && then_t.shape() == shape && else_t.shape() == shape) {
    ctx.set_output(0, cond.scalar<bool>() ? then_t : else_t);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, then_t.dtype(), shape);
  const int64_t n = out.num_elements();
  if (n == 0) return absl::OkStatus();
  const int rank = shape.rank();
  const std::vector<int64_t> sc = BroadcastStrides(cond.shape(), shape);
  const std::vector<int64_t> st = BroadcastStrides(then_t.shape(), shape);
  const std::vector<int64_t> se = BroadcastStrides(else_t.shape(), shape);
  const bool* c = cond.data<bool>();
  VisitStorage(out.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* t = then_t.data<S>();
    const S* e = else_t.data<S>();
    S* o = out.data<S>();
    std::vector<int64_t> index(rank, 0);
    int64_t oc = 0, ot = 0, oe = 0;
    for (int64_t i = 0; i < n; ++i) {
      o[i] = c[oc] ? t[ot] : e[oe];
      for (int d = rank - 1; d >= 0; --d) {
        oc += sc[d];
        ot += st[d];
        oe += se[d];
        if (++index[d] < shape.dim(d)) break;
        oc -= sc[d] * shape.dim(d);
        ot -= st[d] * shape.dim(d);
        oe -= se[d] * shape.dim(d);
        index[d] = 0;
      }
    }
  });
  return absl::OkStatus();
}

}  // namespace

void RegisterArrayOps(OpRegistry& registry) {
  registry.Add("Cast", {.factory = CreateCast});
  registry.Add("ConcatV2", {.compute = ConcatV2});
  registry.Add("Const", {.factory = CreateConst});
  registry.Add("ExpandDims", {.compute = ExpandDims});
  registry.Add("Fill", {.compute = Fill});
  registry.Add("Identity", {.compute = ForwardInput});
  registry.Add("IdentityN", {.compute = IdentityN});
  registry.Add("NoOp", {.compute = NoOp});
  registry.Add("OnesLike", {.compute = OnesLike});
  registry.Add("Pack", {.factory = CreatePack});
  registry.Add("Placeholder", {.factory = CreatePlaceholder});
  registry.Add("PlaceholderWithDefault", {.compute = ForwardInput});
  registry.Add("Reshape", {.compute = Reshape});
  registry.Add("Select", {.compute = Select});
  registry.Add("SelectV2", {.compute = SelectV2});
  registry.Add("Shape", {.factory = CreateShape});
  registry.Add("Snapshot", {.compute = ForwardInput});
  registry.Add("Squeeze", {.factory = CreateSqueeze});
  registry.Add("StopGradient", {.compute = ForwardInput});
  registry.Add("ZerosLike", {.compute = ZerosLike});
}

}  // namespace savant::engine
