// Shapes and data movement: ShapeN, Size, Rank, Unpack, StridedSlice, Slice, Split, SplitV,
// Transpose, Range, Tile, BroadcastTo, Gather, GatherV2, GatherNd, ResourceGather, ReverseV2, Pad,
// PadV2, MirrorPad, Where, OneHot, EnsureShape, PreventGradient and Assert.
//
// Most kernels reduce to one of two copies: StridedCopy (an affine view of the input: slices,
// transposes, broadcasts, reversals, padding) and MapCopy (a per-dim index map: mirror padding).
// Both merge contiguous dims first, so the common cases run as memcpy rows. Shape and index checks
// reproduce TensorFlow's rules and wording (strided_slice_op.cc, gather_op.cc, ...).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/resource_manager.h"

namespace savant::engine {
namespace {

// ---- Copy helpers ----

// Row-major element strides of `shape`.
std::vector<int64_t> ContiguousStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.rank());
  int64_t s = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape.dim(i);
  }
  return strides;
}

// An affine copy: for every index `idx` of `dims`,
//   dst[dst_offset + idx . dst_strides] = src[src_offset + idx . src_strides].
// Strides may be 0 (broadcast) or negative (reversal). Size-1 dims are dropped and adjacent dims
// that are contiguous in both tensors merged, so the innermost loop is as long as possible.
struct CopySpec {
  std::vector<int64_t> dims;
  std::vector<int64_t> src_strides;
  std::vector<int64_t> dst_strides;
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
};

void Simplify(CopySpec& spec) {
  CopySpec s;
  s.src_offset = spec.src_offset;
  s.dst_offset = spec.dst_offset;
  for (size_t i = 0; i < spec.dims.size(); ++i) {
    if (spec.dims[i] == 1) continue;
    if (!s.dims.empty() && s.src_strides.back() == spec.src_strides[i] * spec.dims[i] &&
        s.dst_strides.back() == spec.dst_strides[i] * spec.dims[i]) {
      s.dims.back() *= spec.dims[i];
      s.src_strides.back() = spec.src_strides[i];
      s.dst_strides.back() = spec.dst_strides[i];
      continue;
    }
    s.dims.push_back(spec.dims[i]);
    s.src_strides.push_back(spec.src_strides[i]);
    s.dst_strides.push_back(spec.dst_strides[i]);
  }
  if (s.dims.empty()) {
    s.dims.push_back(1);
    s.src_strides.push_back(1);
    s.dst_strides.push_back(1);
  }
  spec = std::move(s);
}

template <typename S>
void CopyRows(const CopySpec& spec, const S* src, S* dst, int64_t row_begin, int64_t row_end) {
  const int outer = static_cast<int>(spec.dims.size()) - 1;
  const int64_t inner = spec.dims.back();
  const int64_t ss = spec.src_strides.back();
  const int64_t ds = spec.dst_strides.back();
  std::vector<int64_t> index(outer, 0);
  int64_t so = spec.src_offset;
  int64_t dof = spec.dst_offset;
  int64_t rest = row_begin;
  for (int d = outer - 1; d >= 0; --d) {
    index[d] = rest % spec.dims[d];
    rest /= spec.dims[d];
    so += index[d] * spec.src_strides[d];
    dof += index[d] * spec.dst_strides[d];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    const S* s = src + so;
    S* o = dst + dof;
    if (ss == 1 && ds == 1) {
      if constexpr (std::is_trivially_copyable_v<S>) {
        std::memcpy(o, s, inner * sizeof(S));
      } else {
        std::copy(s, s + inner, o);
      }
    } else if (ss == 0) {
      for (int64_t i = 0; i < inner; ++i) o[i * ds] = *s;
    } else {
      for (int64_t i = 0; i < inner; ++i) o[i * ds] = s[i * ss];
    }
    for (int d = outer - 1; d >= 0; --d) {
      so += spec.src_strides[d];
      dof += spec.dst_strides[d];
      if (++index[d] < spec.dims[d]) break;
      so -= spec.src_strides[d] * spec.dims[d];
      dof -= spec.dst_strides[d] * spec.dims[d];
      index[d] = 0;
    }
  }
}

void StridedCopy(ThreadPool& pool, const Tensor& src, Tensor& dst, CopySpec spec) {
  int64_t total = 1;
  for (int64_t d : spec.dims) total *= d;
  if (total == 0) return;
  Simplify(spec);
  const int64_t inner = spec.dims.back();
  const int64_t rows = total / inner;
  VisitStorage(src.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* s = src.data<S>();
    S* d = dst.data<S>();
    if (total < kParallelElements || rows == 1 || pool.parallelism() == 1) {
      CopyRows<S>(spec, s, d, 0, rows);
    } else {
      pool.ParallelFor(rows, std::max<int64_t>(1, kParallelElements / inner),
                       [&](int64_t begin, int64_t end) { CopyRows<S>(spec, s, d, begin, end); });
    }
  });
}

// dst (contiguous, shape = the maps' sizes) gets src[maps[0][i0], maps[1][i1], ...].
void MapCopy(const Tensor& src, Tensor& dst, const std::vector<std::vector<int64_t>>& maps) {
  if (dst.num_elements() == 0) return;
  const int rank = static_cast<int>(maps.size());
  if (rank == 0) {
    CopyElements(src, 0, dst, 0, 1);
    return;
  }
  const std::vector<int64_t> strides = ContiguousStrides(src.shape());
  VisitStorage(src.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* s = src.data<S>();
    S* d = dst.data<S>();
    const std::vector<int64_t>& last = maps.back();
    const int64_t inner = static_cast<int64_t>(last.size());
    const int64_t rows = dst.num_elements() / inner;
    std::vector<int64_t> index(rank - 1, 0);
    for (int64_t row = 0; row < rows; ++row) {
      int64_t base = 0;
      for (int k = 0; k < rank - 1; ++k) base += maps[k][index[k]] * strides[k];
      for (int64_t i = 0; i < inner; ++i) d[row * inner + i] = s[base + last[i]];
      for (int k = rank - 2; k >= 0; --k) {
        if (++index[k] < static_cast<int64_t>(maps[k].size())) break;
        index[k] = 0;
      }
    }
  });
}

// "[2,3]" style index of flat element `i` of `shape` without brackets ("1,2"), as TensorFlow's
// SliceDebugString prints bad indices.
std::string IndexString(const Shape& shape, int64_t i) {
  std::vector<int64_t> idx(shape.rank());
  for (int d = shape.rank() - 1; d >= 0; --d) {
    idx[d] = shape.dim(d) == 0 ? 0 : i % shape.dim(d);
    i = shape.dim(d) == 0 ? 0 : i / shape.dim(d);
  }
  return absl::StrJoin(idx, ",");
}

// ---- ShapeN, Size, Rank ----

DataType OutTypeAttr(const Node& node, absl::string_view name, DataType fallback) {
  auto t = GetTypeAttr(node, name);
  return t.ok() ? *t : fallback;
}

absl::Status WriteIndex(Tensor& t, int64_t i, int64_t v) {
  if (t.dtype() == DataType::kInt32) {
    if (v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("value ", v, " does not fit the 32-bit out_type"));
    }
    t.data<int32_t>()[i] = static_cast<int32_t>(v);
  } else {
    t.data<int64_t>()[i] = v;
  }
  return absl::OkStatus();
}

class ShapeNKernel final : public OpKernel {
 public:
  explicit ShapeNKernel(DataType out_type) : out_type_(out_type) {}
  absl::Status Compute(KernelContext& ctx) const override {
    if (ctx.num_outputs() < ctx.num_inputs()) {
      return absl::InvalidArgumentError(absl::StrCat("expected ", ctx.num_inputs(),
                                                     " outputs, got ", ctx.num_outputs()));
    }
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Shape& shape = ctx.input(i).shape();
      Tensor& out = ctx.allocate_output(i, out_type_, Shape{shape.rank()});
      for (int d = 0; d < shape.rank(); ++d) RETURN_IF_ERROR(WriteIndex(out, d, shape.dim(d)));
    }
    return absl::OkStatus();
  }

 private:
  const DataType out_type_;
};

class SizeKernel final : public OpKernel {
 public:
  explicit SizeKernel(DataType out_type) : out_type_(out_type) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    Tensor& out = ctx.allocate_output(0, out_type_, Shape{});
    return WriteIndex(out, 0, ctx.input(0).num_elements());
  }

 private:
  const DataType out_type_;
};

template <typename K>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateWithOutType(const KernelConstruction& c) {
  const DataType out_type = OutTypeAttr(c.node(), "out_type", DataType::kInt32);
  if (out_type != DataType::kInt32 && out_type != DataType::kInt64) {
    return absl::UnimplementedError(absl::StrCat(
        "attr \"out_type\" must be DT_INT32 or DT_INT64, got ", DataTypeName(out_type)));
  }
  return std::make_unique<K>(out_type);
}

absl::Status Rank(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  ctx.allocate_output(0, DataType::kInt32, Shape{}).scalar<int32_t>() = ctx.input(0).rank();
  return absl::OkStatus();
}

absl::Status ForwardInput(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  ctx.set_output(0, ctx.input(0));
  return absl::OkStatus();
}

// ---- BroadcastGradientArgs ----

// The reduction indices of the gradients of a broadcasting binary op (TensorFlow's BCast): for
// each output dim (counted in the broadcast shape), r0 lists it when s0 was broadcast along it and
// r1 when s1 was; a dim where both are 1 is listed in both. Ascending.
absl::Status BroadcastGradientArgs(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& t0 = ctx.input(0);
  const Tensor& t1 = ctx.input(1);
  if (t0.rank() != 1 || t1.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("In[0] and In[1] must be vectors, got ",
                                                   t0.shape().DebugString(), " and ",
                                                   t1.shape().DebugString()));
  }
  if (t0.dtype() != t1.dtype()) {
    return absl::InvalidArgumentError(absl::StrCat("s0 and s1 must have one dtype, got ",
                                                   DataTypeName(t0.dtype()), " and ",
                                                   DataTypeName(t1.dtype())));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> s0, IndexValues(t0, "s0"));
  ASSIGN_OR_RETURN(std::vector<int64_t> s1, IndexValues(t1, "s1"));
  const int rank = static_cast<int>(std::max(s0.size(), s1.size()));
  std::vector<int64_t> r0, r1;
  for (int d = 0; d < rank; ++d) {
    const int i0 = d - (rank - static_cast<int>(s0.size()));
    const int i1 = d - (rank - static_cast<int>(s1.size()));
    const int64_t x = i0 >= 0 ? s0[i0] : 1;
    const int64_t y = i1 >= 0 ? s1[i1] : 1;
    if (x == y) {
      if (x == 1) {
        r0.push_back(d);
        r1.push_back(d);
      }
    } else if (x == 1) {
      r0.push_back(d);
    } else if (y == 1) {
      r1.push_back(d);
    } else {
      Shape a(s0), b(s1);
      return absl::InvalidArgumentError(
          absl::StrCat("Incompatible shapes: ", a.DebugString(), " vs. ", b.DebugString()));
    }
  }
  for (int k = 0; k < 2; ++k) {
    const std::vector<int64_t>& r = k == 0 ? r0 : r1;
    Tensor& out = ctx.allocate_output(k, t0.dtype(), Shape{static_cast<int64_t>(r.size())});
    for (size_t i = 0; i < r.size(); ++i) RETURN_IF_ERROR(WriteIndex(out, i, r[i]));
  }
  return absl::OkStatus();
}

// ---- Unpack ----

class UnpackKernel final : public OpKernel {
 public:
  UnpackKernel(int64_t num, int64_t axis) : num_(num), axis_(axis) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& in = ctx.input(0);
    const int rank = in.rank();
    if (axis_ < -rank || axis_ >= rank) {
      return absl::InvalidArgumentError(
          absl::StrCat("axis = ", axis_, " not in [", -rank, ", ", rank, ")"));
    }
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    if (in.dim(axis) != num_) {
      return absl::InvalidArgumentError(absl::StrCat("Input shape axis ", axis, " must equal ",
                                                     num_, ", got shape ",
                                                     in.shape().DebugString()));
    }
    if (ctx.num_outputs() < num_) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", num_, " outputs, got ", ctx.num_outputs()));
    }
    Shape out_shape = in.shape();
    out_shape.RemoveDim(axis);
    const int64_t before = DimProduct(in.shape(), 0, axis);
    const int64_t after = DimProduct(in.shape(), axis + 1, rank);
    for (int64_t i = 0; i < num_; ++i) {
      if (before == 1 && after > 0 && IsPodType(in.dtype()) && in.buffer() != nullptr) {
        // A contiguous block of the input: share its buffer.
        ctx.set_output(static_cast<int>(i),
                       Tensor(in.dtype(), out_shape, in.buffer(),
                              in.buffer_offset() + i * after * DataTypeSize(in.dtype())));
        continue;
      }
      Tensor& out = ctx.allocate_output(static_cast<int>(i), in.dtype(), out_shape);
      for (int64_t b = 0; b < before; ++b) {
        CopyElements(in, (b * num_ + i) * after, out, b * after, after);
      }
    }
    return absl::OkStatus();
  }

 private:
  const int64_t num_;
  const int64_t axis_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateUnpack(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(int64_t num, GetIntAttr(c.node(), "num"));
  return std::make_unique<UnpackKernel>(num, GetIntAttrOr(c.node(), "axis", 0));
}

// ---- StridedSlice ----

constexpr int kNewAxis = -1;
constexpr int kShrinkAxis = -2;

struct StridedSliceMasks {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t ellipsis = 0;
  int64_t new_axis = 0;
  int64_t shrink_axis = 0;
};

// The result of TensorFlow's ValidateStridedSliceOp: the dense begin/stride per input dim, the
// shape Eigen iterates (processing) and the shape returned (final).
struct StridedSlicePlan {
  std::vector<int64_t> begin;
  std::vector<int64_t> strides;
  Shape processing_shape;
  Shape final_shape;
  bool is_identity = true;
};

absl::StatusOr<StridedSlicePlan> PlanStridedSlice(const Shape& input, const Tensor& begin_t,
                                                  const Tensor& end_t, const Tensor& strides_t,
                                                  const StridedSliceMasks& m) {
  if (begin_t.rank() != 1 || end_t.rank() != 1 || strides_t.rank() != 1 ||
      begin_t.shape() != end_t.shape() || begin_t.shape() != strides_t.shape() ||
      begin_t.dim(0) >= 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected begin, end, and strides to be 1D equal size tensors, but got shapes ",
        begin_t.shape().DebugString(), ", ", end_t.shape().DebugString(), ", and ",
        strides_t.shape().DebugString(), " instead."));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> sparse_begin, IndexValues(begin_t, "begin"));
  ASSIGN_OR_RETURN(std::vector<int64_t> sparse_end, IndexValues(end_t, "end"));
  ASSIGN_OR_RETURN(std::vector<int64_t> sparse_strides, IndexValues(strides_t, "strides"));
  if (m.ellipsis & (m.ellipsis - 1)) {
    return absl::InvalidArgumentError("Multiple ellipses in slice spec not allowed");
  }
  // Sparse spec: the user's indices; an ellipsis is appended when there is none.
  int sparse_dims = static_cast<int>(begin_t.dim(0));
  int64_t ellipsis_mask = m.ellipsis;
  int num_add_axis_after_ellipsis = 0;
  bool ellipsis_seen = false;
  for (int i = 0; i < sparse_dims; ++i) {
    if (ellipsis_seen && ((int64_t{1} << i) & m.new_axis) != 0) ++num_add_axis_after_ellipsis;
    if ((int64_t{1} << i) & ellipsis_mask) ellipsis_seen = true;
  }
  if (!ellipsis_seen) {
    ellipsis_mask |= int64_t{1} << sparse_dims;
    ++sparse_dims;
  }
  // Dense spec: one entry per input dim.
  const int dims = input.rank();
  std::vector<int64_t> begin(dims, 0), end(dims, 0), strides(dims, 1);
  int64_t begin_mask = 0, end_mask = 0, shrink_mask = 0;
  std::vector<int> final_gather;
  int full_index = 0;
  for (int i = 0; i < sparse_dims; ++i) {
    const int64_t bit = int64_t{1} << i;
    if (bit & ellipsis_mask) {
      const int next_index =
          std::min(dims - (sparse_dims - i) + 1 + num_add_axis_after_ellipsis, dims);
      for (; full_index < next_index; ++full_index) {
        begin[full_index] = end[full_index] = 0;
        strides[full_index] = 1;
        begin_mask |= int64_t{1} << full_index;
        end_mask |= int64_t{1} << full_index;
        final_gather.push_back(full_index);
      }
    } else if (bit & m.new_axis) {
      final_gather.push_back(kNewAxis);
    } else {
      if (full_index == dims) {
        return absl::InvalidArgumentError(absl::StrCat("Index out of range using input dim ",
                                                       full_index, "; input has only ", dims,
                                                       " dims"));
      }
      begin[full_index] = sparse_begin[i];
      end[full_index] = sparse_end[i];
      strides[full_index] = sparse_strides[i];
      if (m.begin & bit) begin_mask |= int64_t{1} << full_index;
      if (m.end & bit) end_mask |= int64_t{1} << full_index;
      if (m.shrink_axis & bit) {
        final_gather.push_back(kShrinkAxis);
        shrink_mask |= int64_t{1} << full_index;
      } else {
        final_gather.push_back(full_index);
      }
      ++full_index;
    }
  }
  // Canonicalise ranges and bounds-check (TensorFlow's step 3).
  StridedSlicePlan plan;
  for (int i = 0; i < dims; ++i) {
    int64_t& begin_i = begin[i];
    int64_t& end_i = end[i];
    const int64_t stride_i = strides[i];
    const int64_t dim_i = input.dim(i);
    if (stride_i == 0) {
      return absl::InvalidArgumentError(absl::StrCat("strides[", i, "] must be non-zero"));
    }
    const bool shrink_i = shrink_mask & (int64_t{1} << i);
    const bool masks[2] = {(begin_mask & (int64_t{1} << i)) != 0,
                           (end_mask & (int64_t{1} << i)) != 0};
    const int64_t valid_range[2] = {stride_i > 0 ? 0 : -1, stride_i > 0 ? dim_i : dim_i - 1};
    auto canonical = [&](int64_t x, int c) {
      if (masks[c]) return stride_i > 0 ? valid_range[c] : valid_range[(c + 1) & 1];
      const int64_t x_fwd = x < 0 ? dim_i + x : x;
      return x_fwd < valid_range[0] ? valid_range[0]
                                    : (x_fwd > valid_range[1] ? valid_range[1] : x_fwd);
    };
    if (shrink_i && stride_i <= 0) {
      return absl::InvalidArgumentError("only stride 1 allowed on non-range indexing.");
    }
    if (shrink_i) {
      // foo[-1] gives begin -1, end 0; recreate end as begin + 1.
      const int64_t x_fwd = begin_i < 0 ? dim_i + begin_i : begin_i;
      begin_i = x_fwd;
      end_i = begin_i + 1;
      if (x_fwd < 0 || x_fwd >= dim_i) {
        return absl::InvalidArgumentError(
            absl::StrCat("slice index ", begin_i, " of dimension ", i, " out of bounds."));
      }
    } else {
      begin_i = canonical(begin_i, 0);
      end_i = canonical(end_i, 1);
    }
    plan.is_identity &= stride_i == 1 && begin_i == 0 && end_i == dim_i;
    const int64_t interval = end_i - begin_i;
    int64_t size_i;
    if (interval == 0 || ((interval < 0) != (stride_i < 0))) {
      size_i = 0;
    } else {
      size_i = interval / stride_i + (interval % stride_i != 0 ? 1 : 0);
    }
    plan.processing_shape.AddDim(size_i);
  }
  for (int g : final_gather) {
    if (g >= 0) {
      plan.final_shape.AddDim(plan.processing_shape.dim(g));
    } else if (g == kNewAxis) {
      plan.final_shape.AddDim(1);
    }
  }
  plan.begin = std::move(begin);
  plan.strides = std::move(strides);
  return plan;
}

class StridedSliceKernel final : public OpKernel {
 public:
  explicit StridedSliceKernel(StridedSliceMasks masks) : masks_(masks) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 4));
    const Tensor& in = ctx.input(0);
    ASSIGN_OR_RETURN(StridedSlicePlan plan, PlanStridedSlice(in.shape(), ctx.input(1),
                                                             ctx.input(2), ctx.input(3), masks_));
    if (plan.is_identity) {
      ASSIGN_OR_RETURN(Tensor out, in.Reshaped(plan.final_shape));
      ctx.set_output(0, std::move(out));
      return absl::OkStatus();
    }
    Tensor& out = ctx.allocate_output(0, in.dtype(), plan.final_shape);
    const std::vector<int64_t> in_strides = ContiguousStrides(in.shape());
    CopySpec spec;
    spec.dims.assign(plan.processing_shape.dims().begin(), plan.processing_shape.dims().end());
    spec.dst_strides = ContiguousStrides(plan.processing_shape);
    for (int i = 0; i < in.rank(); ++i) {
      spec.src_offset += plan.begin[i] * in_strides[i];
      spec.src_strides.push_back(plan.strides[i] * in_strides[i]);
    }
    StridedCopy(ctx.pool(), in, out, std::move(spec));
    return absl::OkStatus();
  }

 private:
  const StridedSliceMasks masks_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateStridedSlice(const KernelConstruction& c) {
  StridedSliceMasks m;
  m.begin = GetIntAttrOr(c.node(), "begin_mask", 0);
  m.end = GetIntAttrOr(c.node(), "end_mask", 0);
  m.ellipsis = GetIntAttrOr(c.node(), "ellipsis_mask", 0);
  m.new_axis = GetIntAttrOr(c.node(), "new_axis_mask", 0);
  m.shrink_axis = GetIntAttrOr(c.node(), "shrink_axis_mask", 0);
  return std::make_unique<StridedSliceKernel>(m);
}

// ---- Slice ----

absl::Status Slice(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  const Tensor& in = ctx.input(0);
  const Tensor& begin_t = ctx.input(1);
  const Tensor& size_t_ = ctx.input(2);
  const int rank = in.rank();
  if (begin_t.rank() != 1 || size_t_.rank() != 1 || begin_t.num_elements() != rank ||
      size_t_.num_elements() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected begin and size arguments to be 1-D tensors of size ", rank,
        ", but got shapes ", begin_t.shape().DebugString(), " and ",
        size_t_.shape().DebugString(), " instead."));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> begin, IndexValues(begin_t, "begin"));
  ASSIGN_OR_RETURN(std::vector<int64_t> size, IndexValues(size_t_, "size"));
  Shape out_shape;
  for (int i = 0; i < rank; ++i) {
    const int64_t b = begin[i];
    int64_t s = size[i];
    const int64_t dim = in.dim(i);
    if (s == -1) s = dim - b;
    if (dim == 0) {
      if (b != 0 || s != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("Expected begin[", i, "] == 0 (got ", b, ") and size[", i,
                         "] == 0 (got ", s, ") when input.dim_size(", i, ") == 0"));
      }
    } else {
      if (b < 0 || b > dim) {
        return absl::InvalidArgumentError(
            absl::StrCat("Expected begin[", i, "] in [0, ", dim, "], but got ", b));
      }
      if (s < 0 || b + s > dim) {
        return absl::InvalidArgumentError(
            absl::StrCat("Expected size[", i, "] in [0, ", dim - b, "], but got ", s));
      }
    }
    out_shape.AddDim(s);
  }
  if (out_shape == in.shape()) {
    ctx.set_output(0, in);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
  const std::vector<int64_t> in_strides = ContiguousStrides(in.shape());
  CopySpec spec;
  spec.dims.assign(out_shape.dims().begin(), out_shape.dims().end());
  spec.src_strides = in_strides;
  spec.dst_strides = ContiguousStrides(out_shape);
  for (int i = 0; i < rank; ++i) spec.src_offset += begin[i] * in_strides[i];
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

// ---- Split, SplitV ----

// Writes `sizes[i]` slices of `in` along `axis` to outputs 0..n-1.
absl::Status SplitInto(KernelContext& ctx, const Tensor& in, int axis,
                       const std::vector<int64_t>& sizes) {
  if (ctx.num_outputs() < static_cast<int>(sizes.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", sizes.size(), " outputs, got ", ctx.num_outputs()));
  }
  const int64_t before = DimProduct(in.shape(), 0, axis);
  const int64_t after = DimProduct(in.shape(), axis + 1, in.rank());
  const int64_t row = in.dim(axis) * after;
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape shape = in.shape();
    shape.set_dim(axis, sizes[i]);
    Tensor& out = ctx.allocate_output(static_cast<int>(i), in.dtype(), shape);
    for (int64_t b = 0; b < before; ++b) {
      CopyElements(in, b * row + start * after, out, b * sizes[i] * after, sizes[i] * after);
    }
    start += sizes[i];
  }
  return absl::OkStatus();
}

class SplitKernel final : public OpKernel {
 public:
  explicit SplitKernel(int64_t num_split) : num_split_(num_split) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    ASSIGN_OR_RETURN(int64_t split_dim, IndexScalar(ctx.input(0), "split_dim"));
    const Tensor& in = ctx.input(1);
    const int rank = in.rank();
    if (split_dim < -rank || split_dim >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("-input rank(-", rank, ") <= split_dim < input rank (",
                                                     rank, "), but got ", split_dim));
    }
    const int axis = static_cast<int>(split_dim < 0 ? split_dim + rank : split_dim);
    if (num_split_ <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Number of ways to split should be > 0, but got ", num_split_));
    }
    if (in.dim(axis) % num_split_ != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Number of ways to split should evenly divide the split dimension, but got split_dim ",
          split_dim, " (size = ", in.dim(axis), ") and num_split ", num_split_));
    }
    return SplitInto(ctx, in, axis, std::vector<int64_t>(num_split_, in.dim(axis) / num_split_));
  }

 private:
  const int64_t num_split_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateSplit(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(int64_t num_split, GetIntAttr(c.node(), "num_split"));
  return std::make_unique<SplitKernel>(num_split);
}

absl::Status SplitV(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  const Tensor& in = ctx.input(0);
  const Tensor& sizes_t = ctx.input(1);
  ASSIGN_OR_RETURN(int64_t split_dim, IndexScalar(ctx.input(2), "split_dim"));
  const int rank = in.rank();
  if (split_dim < -rank || split_dim >= rank) {
    return absl::InvalidArgumentError(absl::StrCat("-input rank(-", rank, ") <= split_dim < input rank (",
                                                   rank, "), but got ", split_dim));
  }
  const int axis = static_cast<int>(split_dim < 0 ? split_dim + rank : split_dim);
  if (sizes_t.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("size_splits must be a 1-D tensor, got shape ",
                                                   sizes_t.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, IndexValues(sizes_t, "size_splits"));
  int neg_one = -1;
  int64_t known = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      if (neg_one != -1) {
        return absl::InvalidArgumentError(
            "There can only be one -1 in the input.");
      }
      neg_one = static_cast<int>(i);
    } else if (sizes[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Split size at index ", i, " must be >= 0. Got: ", sizes[i]));
    } else {
      known += sizes[i];
    }
  }
  const int64_t dim = in.dim(axis);
  if ((neg_one == -1 && known != dim) || (neg_one != -1 && known > dim)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Determined shape must either match input shape along split_dim exactly if fully "
        "specified, or be less than the size of the input along split_dim if not fully "
        "specified.  Got: ",
        known));
  }
  if (neg_one != -1) sizes[neg_one] = dim - known;
  return SplitInto(ctx, in, axis, sizes);
}

// ---- Transpose ----

absl::Status Transpose(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& in = ctx.input(0);
  const Tensor& perm_t = ctx.input(1);
  if (perm_t.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("perm must be rank 1, got shape ", perm_t.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, IndexValues(perm_t, "perm"));
  const int rank = in.rank();
  if (static_cast<int>(perm.size()) != rank) {
    return absl::InvalidArgumentError(absl::StrCat("transpose expects a vector of size ", rank,
                                                   ". But input(1) is a vector of size ",
                                                   perm.size()));
  }
  std::vector<bool> seen(rank, false);
  for (int64_t d : perm) {
    if (d < 0 || d >= rank) {
      return absl::InvalidArgumentError(absl::StrCat(d, " is out of range [0 .. ", rank, ")"));
    }
    seen[d] = true;
  }
  for (int i = 0; i < rank; ++i) {
    if (!seen[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(i, " is missing from {", absl::StrJoin(perm, ","), "}."));
    }
  }
  Shape out_shape;
  for (int64_t d : perm) out_shape.AddDim(in.dim(static_cast<int>(d)));
  // When the dims larger than 1 keep their order, only size-1 dims move: a reshape.
  std::vector<int64_t> order;
  for (int64_t d : perm) {
    if (in.dim(static_cast<int>(d)) != 1) order.push_back(d);
  }
  const bool identity = std::is_sorted(order.begin(), order.end());
  if (identity) {
    ASSIGN_OR_RETURN(Tensor out, in.Reshaped(out_shape));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
  const std::vector<int64_t> in_strides = ContiguousStrides(in.shape());
  CopySpec spec;
  spec.dims.assign(out_shape.dims().begin(), out_shape.dims().end());
  spec.dst_strides = ContiguousStrides(out_shape);
  for (int64_t d : perm) spec.src_strides.push_back(in_strides[d]);
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

// ---- Range ----

absl::Status Range(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  for (int i = 0; i < 3; ++i) {
    if (ctx.input(i).num_elements() != 1 || ctx.input(i).rank() > 1) {
      static constexpr const char* kNames[] = {"start", "limit", "delta"};
      return absl::InvalidArgumentError(absl::StrCat(kNames[i], " must be a scalar, not shape ",
                                                     ctx.input(i).shape().DebugString()));
    }
    if (ctx.input(i).dtype() != ctx.input(0).dtype()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "start, limit and delta must have one dtype, got ", DataTypeName(ctx.input(0).dtype()),
          " and ", DataTypeName(ctx.input(i).dtype())));
    }
  }
  const DataType dtype = ctx.input(0).dtype();
  absl::Status status = absl::OkStatus();
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T start = ctx.input(0).data<T>()[0];
    const T limit = ctx.input(1).data<T>()[0];
    const T delta = ctx.input(2).data<T>()[0];
    if (delta == T(0)) {
      status = absl::InvalidArgumentError(absl::StrCat("Requires delta != 0: ", delta));
      return;
    }
    if (delta > T(0) && start > limit) {
      status = absl::InvalidArgumentError(
          absl::StrCat("Requires start <= limit when delta > 0: ", start, "/", limit));
      return;
    }
    if (delta < T(0) && start < limit) {
      status = absl::InvalidArgumentError(
          absl::StrCat("Requires start >= limit when delta < 0: ", start, "/", limit));
      return;
    }
    int64_t size;
    if constexpr (std::is_integral_v<T>) {
      const int64_t span = std::abs(static_cast<int64_t>(limit) - static_cast<int64_t>(start));
      const int64_t step = std::abs(static_cast<int64_t>(delta));
      size = (span + step - 1) / step;
    } else {
      const double n = std::ceil(std::abs((static_cast<double>(limit) - start) / delta));
      if (!(n <= static_cast<double>(std::numeric_limits<int64_t>::max() / 16))) {
        status = absl::InvalidArgumentError(absl::StrCat("Requires ((limit - start) / delta) <= ",
                                                         std::numeric_limits<int64_t>::max()));
        return;
      }
      size = static_cast<int64_t>(n);
    }
    Tensor& out = ctx.allocate_output(0, dtype, Shape{size});
    T* o = out.data<T>();
    // Accumulated like TensorFlow's kernel (val += delta), not start + i * delta.
    T val = start;
    for (int64_t i = 0; i < size; ++i) {
      o[i] = val;
      val = static_cast<T>(val + delta);
    }
  };
  switch (dtype) {
    case DataType::kFloat:
      run(Tag<float>{});
      break;
    case DataType::kDouble:
      run(Tag<double>{});
      break;
    case DataType::kInt32:
      run(Tag<int32_t>{});
      break;
    case DataType::kInt64:
      run(Tag<int64_t>{});
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "Range supports DT_FLOAT, DT_DOUBLE, DT_INT32 and DT_INT64, got ", DataTypeName(dtype)));
  }
  return status;
}

// ---- Tile, BroadcastTo ----

absl::Status Tile(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& in = ctx.input(0);
  const Tensor& multiples_t = ctx.input(1);
  const int rank = in.rank();
  if (multiples_t.rank() != 1 || multiples_t.num_elements() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected multiples argument to be a vector of length ", rank, " but got length ",
        multiples_t.rank() == 1 ? multiples_t.dim(0) : multiples_t.num_elements()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> multiples, IndexValues(multiples_t, "multiples"));
  Shape out_shape;
  for (int i = 0; i < rank; ++i) {
    if (multiples[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expected multiples[", i, "] >= 0, but got ", multiples[i]));
    }
    out_shape.AddDim(in.dim(i) * multiples[i]);
  }
  if (out_shape == in.shape()) {
    ctx.set_output(0, in);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
  // Output viewed as [m0, d0, m1, d1, ...]: the input repeats along every m.
  const std::vector<int64_t> in_strides = ContiguousStrides(in.shape());
  const std::vector<int64_t> out_strides = ContiguousStrides(out_shape);
  CopySpec spec;
  for (int i = 0; i < rank; ++i) {
    spec.dims.push_back(multiples[i]);
    spec.src_strides.push_back(0);
    spec.dst_strides.push_back(in.dim(i) * out_strides[i]);
    spec.dims.push_back(in.dim(i));
    spec.src_strides.push_back(in_strides[i]);
    spec.dst_strides.push_back(out_strides[i]);
  }
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

absl::Status BroadcastTo(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& in = ctx.input(0);
  const Tensor& shape_t = ctx.input(1);
  if (shape_t.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape must be a vector, got shape ", shape_t.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IndexValues(shape_t, "shape"));
  Shape out_shape;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", d, " must be >= 0"));
    }
    out_shape.AddDim(d);
  }
  if (in.rank() > out_shape.rank()) {
    return absl::InvalidArgumentError(absl::StrCat("Rank of input (", in.rank(),
                                                   ") must be no greater than rank of output "
                                                   "shape (",
                                                   out_shape.rank(), ")."));
  }
  for (int i = 0; i < in.rank(); ++i) {
    const int64_t d = in.dim(i);
    const int64_t o = out_shape.dim(i + out_shape.rank() - in.rank());
    if (d != o && d != 1) {
      return absl::InvalidArgumentError(absl::StrCat("Unable to broadcast tensor of shape ",
                                                     in.shape().DebugString(),
                                                     " to tensor of shape ",
                                                     out_shape.DebugString()));
    }
  }
  if (out_shape == in.shape()) {
    ctx.set_output(0, in);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
  CopySpec spec;
  spec.dims.assign(out_shape.dims().begin(), out_shape.dims().end());
  spec.src_strides = BroadcastStrides(in.shape(), out_shape);
  spec.dst_strides = ContiguousStrides(out_shape);
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

// ---- Gather, GatherV2, ResourceGather, GatherNd ----

// params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:], gathered along axis
// with the first batch_dims dims of params and indices matched. Out-of-range indices fail with
// TensorFlow's "indices[1,2] = 5 is not in [0, 3)".
absl::Status GatherInto(KernelContext& ctx, const Tensor& params, const Tensor& indices,
                        int64_t axis_arg, int64_t batch_dims) {
  const int rank = params.rank();
  if (params.rank() < 1 && axis_arg == 0) {
    return absl::InvalidArgumentError("params must be at least 1 dimensional");
  }
  if (axis_arg < -rank || axis_arg >= rank) {
    return absl::InvalidArgumentError(absl::StrCat("Expected axis in the range [", -rank, ", ",
                                                   rank, "), but got ", axis_arg));
  }
  const int axis = static_cast<int>(axis_arg < 0 ? axis_arg + rank : axis_arg);
  if (batch_dims < 0) batch_dims += indices.rank();
  if (batch_dims < 0 || batch_dims > indices.rank()) {
    return absl::InvalidArgumentError(absl::StrCat("batch_dims (", batch_dims,
                                                   ") must be less than or equal to rank(indices) (",
                                                   indices.rank(), ")"));
  }
  if (batch_dims > axis) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_dims (", batch_dims, ") must be less than or equal to axis (", axis, ")"));
  }
  for (int i = 0; i < batch_dims; ++i) {
    if (params.dim(i) != indices.dim(i)) {
      return absl::InvalidArgumentError(absl::StrCat("params.shape[", i, "]: ", params.dim(i),
                                                     " should be equal to indices.shape[", i,
                                                     "]: ", indices.dim(i)));
    }
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, IndexValues(indices, "indices"));
  Shape out_shape;
  for (int i = 0; i < axis; ++i) out_shape.AddDim(params.dim(i));
  for (int i = static_cast<int>(batch_dims); i < indices.rank(); ++i) {
    out_shape.AddDim(indices.dim(i));
  }
  for (int i = axis + 1; i < rank; ++i) out_shape.AddDim(params.dim(i));
  const int64_t batch = DimProduct(params.shape(), 0, static_cast<int>(batch_dims));
  const int64_t outer = DimProduct(params.shape(), static_cast<int>(batch_dims), axis);
  const int64_t limit = params.dim(axis);
  const int64_t inner = DimProduct(params.shape(), axis + 1, rank);
  const int64_t per_batch = DimProduct(indices.shape(), static_cast<int>(batch_dims),
                                       indices.rank());
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] < 0 || idx[i] >= limit) {
      return absl::InvalidArgumentError(absl::StrCat("indices[", IndexString(indices.shape(), i),
                                                     "] = ", idx[i], " is not in [0, ", limit,
                                                     ")"));
    }
  }
  Tensor& out = ctx.allocate_output(0, params.dtype(), out_shape);
  if (out.num_elements() == 0) return absl::OkStatus();
  int64_t at = 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t base = (b * outer + o) * limit * inner;
      for (int64_t n = 0; n < per_batch; ++n) {
        CopyElements(params, base + idx[b * per_batch + n] * inner, out, at, inner);
        at += inner;
      }
    }
  }
  return absl::OkStatus();
}

class GatherV2Kernel final : public OpKernel {
 public:
  explicit GatherV2Kernel(int64_t batch_dims) : batch_dims_(batch_dims) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
    const Tensor& axis_t = ctx.input(2);
    if (axis_t.rank() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("axis must be scalar, got shape ", axis_t.shape().DebugString()));
    }
    ASSIGN_OR_RETURN(int64_t axis, IndexScalar(axis_t, "axis"));
    return GatherInto(ctx, ctx.input(0), ctx.input(1), axis, batch_dims_);
  }

 private:
  const int64_t batch_dims_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateGatherV2(const KernelConstruction& c) {
  return std::make_unique<GatherV2Kernel>(GetIntAttrOr(c.node(), "batch_dims", 0));
}

absl::Status Gather(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  return GatherInto(ctx, ctx.input(0), ctx.input(1), 0, 0);
}

class ResourceGatherKernel final : public OpKernel {
 public:
  ResourceGatherKernel(int64_t batch_dims, DataType dtype) : batch_dims_(batch_dims), dtype_(dtype) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& handle = ctx.input(0);
    if (handle.dtype() != DataType::kResource || handle.num_elements() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input 0: expected a DT_RESOURCE scalar handle to a variable, got ",
          DataTypeName(handle.dtype()), " ", handle.shape().DebugString()));
    }
    auto var = std::dynamic_pointer_cast<Variable>(handle.data<ResourceHandle>()[0]);
    if (var == nullptr) {
      return absl::InvalidArgumentError("input 0: the resource handle does not point to a variable");
    }
    ASSIGN_OR_RETURN(Tensor params, var->Read());
    if (dtype_ != DataType::kInvalid && params.dtype() != dtype_) {
      return absl::InvalidArgumentError(
          absl::StrCat("Trying to read variable \"", var->name(), "\" with wrong dtype. Expected ",
                       TfTypeName(dtype_), " got ", TfTypeName(params.dtype())));
    }
    return GatherInto(ctx, params, ctx.input(1), batch_dims_, batch_dims_);
  }

 private:
  const int64_t batch_dims_;
  const DataType dtype_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateResourceGather(const KernelConstruction& c) {
  const DataType dtype = OutTypeAttr(c.node(), "dtype", DataType::kInvalid);
  return std::make_unique<ResourceGatherKernel>(GetIntAttrOr(c.node(), "batch_dims", 0), dtype);
}

absl::Status GatherNd(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& params = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (params.rank() < 1) return absl::InvalidArgumentError("params must be at least a vector");
  if (indices.rank() < 1) return absl::InvalidArgumentError("indices must be at least a vector");
  const int64_t depth = indices.dim(indices.rank() - 1);
  if (depth > params.rank()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index innermost dimension length must be <= params rank; saw: ", depth, " vs. ",
        params.rank()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, IndexValues(indices, "indices"));
  Shape out_shape;
  for (int i = 0; i + 1 < indices.rank(); ++i) out_shape.AddDim(indices.dim(i));
  for (int i = static_cast<int>(depth); i < params.rank(); ++i) out_shape.AddDim(params.dim(i));
  const int64_t slice = DimProduct(params.shape(), static_cast<int>(depth), params.rank());
  const int64_t n = depth == 0 ? DimProduct(indices.shape(), 0, indices.rank() - 1)
                               : static_cast<int64_t>(idx.size()) / depth;
  const std::vector<int64_t> strides = ContiguousStrides(params.shape());
  std::vector<int64_t> offsets(n, 0);
  Shape batch_shape;
  for (int i = 0; i + 1 < indices.rank(); ++i) batch_shape.AddDim(indices.dim(i));
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t d = 0; d < depth; ++d) {
      const int64_t v = idx[k * depth + d];
      if (v < 0 || v >= params.dim(static_cast<int>(d))) {
        std::vector<int64_t> bad(idx.begin() + k * depth, idx.begin() + (k + 1) * depth);
        return absl::InvalidArgumentError(absl::StrCat(
            "indices[", IndexString(batch_shape, k), "] = [", absl::StrJoin(bad, ", "),
            "] does not index into param shape ", params.shape().DebugString()));
      }
      offsets[k] += v * strides[d];
    }
  }
  Tensor& out = ctx.allocate_output(0, params.dtype(), out_shape);
  if (out.num_elements() == 0) return absl::OkStatus();
  for (int64_t k = 0; k < n; ++k) CopyElements(params, offsets[k], out, k * slice, slice);
  return absl::OkStatus();
}

// ---- ReverseV2 ----

absl::Status ReverseV2(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& in = ctx.input(0);
  const Tensor& axis_t = ctx.input(1);
  if (axis_t.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("'axis' must be 1-dimension, not ",
                                                   axis_t.rank()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, IndexValues(axis_t, "axis"));
  const int rank = in.rank();
  std::vector<bool> reverse(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i];
    if (a < -rank || a >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("'axis'[", i, "] = ", a,
                                                     " is out of valid range [", 0, ", ", rank,
                                                     ")"));
    }
    if (a < 0) a += rank;
    if (reverse[a]) {
      return absl::InvalidArgumentError(absl::StrCat("axis ", a, " specified more than once."));
    }
    reverse[a] = true;
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), in.shape());
  const std::vector<int64_t> strides = ContiguousStrides(in.shape());
  CopySpec spec;
  spec.dims.assign(in.shape().dims().begin(), in.shape().dims().end());
  spec.dst_strides = strides;
  for (int i = 0; i < rank; ++i) {
    if (reverse[i] && in.dim(i) > 0) {
      spec.src_offset += (in.dim(i) - 1) * strides[i];
      spec.src_strides.push_back(-strides[i]);
    } else {
      spec.src_strides.push_back(strides[i]);
    }
  }
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

// ---- Pad, PadV2, MirrorPad ----

absl::StatusOr<std::vector<int64_t>> ReadPaddings(const Tensor& in, const Tensor& paddings) {
  if (paddings.rank() != 2 || paddings.dim(1) != 2) {
    return absl::InvalidArgumentError(absl::StrCat("paddings must be a matrix with 2 columns: ",
                                                   paddings.shape().DebugString()));
  }
  if (paddings.dim(0) != in.rank()) {
    return absl::InvalidArgumentError(
        absl::StrCat("The first dimension of paddings must be the rank of inputs",
                     paddings.shape().DebugString(), " ", in.shape().DebugString()));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, IndexValues(paddings, "paddings"));
  for (int i = 0; i < in.rank(); ++i) {
    if (pads[2 * i] < 0 || pads[2 * i + 1] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("Paddings must be non-negative: ",
                                                     pads[2 * i], " ", pads[2 * i + 1]));
    }
  }
  return pads;
}

// Pad (zeros) and PadV2 (a scalar constant_values).
absl::Status Pad(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
  const Tensor& in = ctx.input(0);
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ReadPaddings(in, ctx.input(1)));
  Shape out_shape;
  for (int i = 0; i < in.rank(); ++i) out_shape.AddDim(in.dim(i) + pads[2 * i] + pads[2 * i + 1]);
  if (out_shape == in.shape()) {
    ctx.set_output(0, in);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
  if (ctx.num_inputs() > 2) {
    const Tensor& value = ctx.input(2);
    if (value.num_elements() != 1 || value.rank() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("constant_values must be a scalar. Got: ",
                                                     value.shape().DebugString()));
    }
    if (value.dtype() != in.dtype()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "constant_values must have the dtype of input: ", DataTypeName(value.dtype()), " vs ",
          DataTypeName(in.dtype())));
    }
    VisitStorage(in.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      std::fill_n(out.data<S>(), out.num_elements(), value.data<S>()[0]);
    });
  } else if (IsPodType(in.dtype())) {
    if (out.byte_size() > 0) std::memset(out.raw_data(), 0, out.byte_size());
  }
  const std::vector<int64_t> out_strides = ContiguousStrides(out_shape);
  CopySpec spec;
  spec.dims.assign(in.shape().dims().begin(), in.shape().dims().end());
  spec.src_strides = ContiguousStrides(in.shape());
  spec.dst_strides = out_strides;
  for (int i = 0; i < in.rank(); ++i) spec.dst_offset += pads[2 * i] * out_strides[i];
  StridedCopy(ctx.pool(), in, out, std::move(spec));
  return absl::OkStatus();
}

class MirrorPadKernel final : public OpKernel {
 public:
  explicit MirrorPadKernel(bool symmetric) : symmetric_(symmetric) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& in = ctx.input(0);
    ASSIGN_OR_RETURN(std::vector<int64_t> pads, ReadPaddings(in, ctx.input(1)));
    const int64_t offset = symmetric_ ? 0 : 1;
    Shape out_shape;
    std::vector<std::vector<int64_t>> maps(in.rank());
    for (int i = 0; i < in.rank(); ++i) {
      const int64_t dim = in.dim(i);
      const int64_t before = pads[2 * i];
      const int64_t after = pads[2 * i + 1];
      if (before > dim - offset || after > dim - offset) {
        return absl::InvalidArgumentError(absl::StrCat(
            "paddings must be no greater than the dimension size: ", before, ", ", after,
            " greater than ", dim - offset));
      }
      const int64_t size = dim + before + after;
      out_shape.AddDim(size);
      for (int64_t o = 0; o < size; ++o) {
        int64_t k = o - before;
        if (k < 0) k = -k - 1 + offset;
        if (k >= dim) k = 2 * dim - 1 - k - offset;
        maps[i].push_back(k);
      }
    }
    Tensor& out = ctx.allocate_output(0, in.dtype(), out_shape);
    MapCopy(in, out, maps);
    return absl::OkStatus();
  }

 private:
  const bool symmetric_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateMirrorPad(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(std::string mode, GetStringAttr(c.node(), "mode"));
  if (mode != "REFLECT" && mode != "SYMMETRIC") {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr \"mode\" must be \"REFLECT\" or \"SYMMETRIC\", got \"", mode, "\""));
  }
  return std::make_unique<MirrorPadKernel>(mode == "SYMMETRIC");
}

// ---- Where ----

// The coordinates of the true (non-zero) elements, in row-major order: int64 [count, rank].
absl::Status Where(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  const Tensor& in = ctx.input(0);
  std::vector<int64_t> hits;
  const int64_t n = in.num_elements();
  bool supported = true;
  if (in.dtype() == DataType::kBool) {
    const bool* p = in.data<bool>();
    for (int64_t i = 0; i < n; ++i) {
      if (p[i]) hits.push_back(i);
    }
  } else {
    supported = VisitRealType(in.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      const S* p = in.data<S>();
      for (int64_t i = 0; i < n; ++i) {
        if (Load(p[i]) != 0) hits.push_back(i);
      }
    });
  }
  if (!supported) {
    return absl::InvalidArgumentError(
        absl::StrCat("Where does not support ", DataTypeName(in.dtype())));
  }
  const int rank = in.rank();
  Tensor& out = ctx.allocate_output(0, DataType::kInt64,
                                    Shape{static_cast<int64_t>(hits.size()), rank});
  int64_t* o = out.data<int64_t>();
  for (size_t h = 0; h < hits.size(); ++h) {
    int64_t rest = hits[h];
    for (int d = rank - 1; d >= 0; --d) {
      o[h * rank + d] = rest % in.dim(d);
      rest /= in.dim(d);
    }
  }
  return absl::OkStatus();
}

// ---- OneHot ----

class OneHotKernel final : public OpKernel {
 public:
  explicit OneHotKernel(int64_t axis) : axis_(axis) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 4));
    const Tensor& indices = ctx.input(0);
    const Tensor& depth_t = ctx.input(1);
    const Tensor& on = ctx.input(2);
    const Tensor& off = ctx.input(3);
    const int rank = indices.rank();
    if (axis_ < -1 || axis_ > rank) {
      return absl::InvalidArgumentError(absl::StrCat("Expected axis to be -1 or between [0, ",
                                                     rank + 1, ").  But received: ", axis_));
    }
    if (depth_t.rank() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("depth must be a scalar, but got: ",
                                                     depth_t.shape().DebugString()));
    }
    if (on.rank() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("on_value must be a scalar, but got: ", on.shape().DebugString()));
    }
    if (off.rank() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("off_value must be a scalar, but got: ", off.shape().DebugString()));
    }
    if (on.dtype() != off.dtype()) {
      return absl::InvalidArgumentError(
          absl::StrCat("on_value and off_value must have one dtype, got ",
                       DataTypeName(on.dtype()), " and ", DataTypeName(off.dtype())));
    }
    ASSIGN_OR_RETURN(int64_t depth, IndexScalar(depth_t, "depth"));
    if (depth < 0) {
      return absl::InvalidArgumentError(absl::StrCat("depth must be non-negative, got: ", depth));
    }
    std::vector<int64_t> idx;
    if (indices.dtype() == DataType::kUInt8) {
      for (uint8_t v : indices.flat<uint8_t>()) idx.push_back(v);
    } else {
      ASSIGN_OR_RETURN(idx, IndexValues(indices, "indices"));
    }
    const int axis = static_cast<int>(axis_ == -1 ? rank : axis_);
    Shape out_shape = indices.shape();
    out_shape.InsertDim(axis, depth);
    Tensor& out = ctx.allocate_output(0, on.dtype(), out_shape);
    const int64_t prefix = DimProduct(indices.shape(), 0, axis);
    const int64_t suffix = DimProduct(indices.shape(), axis, rank);
    VisitStorage(on.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      const S on_v = on.data<S>()[0];
      const S off_v = off.data<S>()[0];
      S* o = out.data<S>();
      for (int64_t p = 0; p < prefix; ++p) {
        for (int64_t d = 0; d < depth; ++d) {
          for (int64_t s = 0; s < suffix; ++s) {
            o[(p * depth + d) * suffix + s] = idx[p * suffix + s] == d ? on_v : off_v;
          }
        }
      }
    });
    return absl::OkStatus();
  }

 private:
  const int64_t axis_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateOneHot(const KernelConstruction& c) {
  return std::make_unique<OneHotKernel>(GetIntAttrOr(c.node(), "axis", -1));
}

// ---- EnsureShape ----

class EnsureShapeKernel final : public OpKernel {
 public:
  explicit EnsureShapeKernel(PartialShape shape) : shape_(std::move(shape)) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& in = ctx.input(0);
    if (!shape_.IsCompatibleWith(in.shape())) {
      return absl::InvalidArgumentError(absl::StrCat("Shape of tensor ", in.shape().DebugString(),
                                                     " is not compatible with expected shape ",
                                                     shape_.DebugString(), "."));
    }
    ctx.set_output(0, in);
    return absl::OkStatus();
  }

 private:
  const PartialShape shape_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateEnsureShape(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(PartialShape shape, GetShapeAttr(c.node(), "shape"));
  return std::make_unique<EnsureShapeKernel>(std::move(shape));
}

// ---- Assert ----

std::string ElementString(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kString:
      return absl::Utf8SafeCEscape(t.data<std::string>()[i]);
    case DataType::kBool:
      return t.data<bool>()[i] ? "1" : "0";
    case DataType::kHalf:
      return absl::StrCat(HalfBitsToFloat(t.data<uint16_t>()[i]));
    case DataType::kBFloat16:
      return absl::StrCat(BFloat16BitsToFloat(t.data<uint16_t>()[i]));
    default: {
      std::string s = "?";
      VisitRealType(t.dtype(), [&](auto tag) {
        using S = typename decltype(tag)::type;
        if constexpr (std::is_same_v<S, int8_t> || std::is_same_v<S, uint8_t>) {
          s = absl::StrCat(static_cast<int>(t.data<S>()[i]));
        } else if constexpr (!std::is_same_v<S, Half> && !std::is_same_v<S, BFloat16>) {
          s = absl::StrCat(t.data<S>()[i]);
        }
      });
      return s;
    }
  }
}

// TensorFlow's Tensor::SummarizeValue (print_v2 = false): at most `limit` elements, nested
// brackets for rank >= 2, "..." when elements were left out.
void SummarizeDim(const Tensor& t, int dim, int64_t limit, int64_t* index, std::string* out) {
  if (*index >= limit) return;
  const int64_t count = t.dim(dim);
  if (dim == t.rank() - 1) {
    for (int64_t i = 0; i < count; ++i) {
      if (*index >= limit) {
        if (dim != 0) absl::StrAppend(out, "...");
        return;
      }
      if (i > 0) absl::StrAppend(out, " ");
      absl::StrAppend(out, ElementString(t, (*index)++));
    }
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    bool open = false;
    if (*index < limit) {
      absl::StrAppend(out, "[");
      open = true;
    }
    SummarizeDim(t, dim + 1, limit, index, out);
    if (*index < limit || open) absl::StrAppend(out, "]");
  }
}

std::string SummarizeValue(const Tensor& t, int64_t max_entries) {
  const int64_t n = t.num_elements();
  const int64_t limit = max_entries < 0 ? n : std::min(max_entries, n);
  std::string out;
  if (t.rank() == 0) {
    if (limit > 0) out = ElementString(t, 0);
  } else {
    int64_t index = 0;
    SummarizeDim(t, 0, limit, &index, &out);
  }
  if (n > limit) absl::StrAppend(&out, "...");
  return out;
}

class AssertKernel final : public OpKernel {
 public:
  explicit AssertKernel(int64_t summarize) : summarize_(summarize) {}
  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& cond = ctx.input(0);
    if (cond.dtype() != DataType::kBool || cond.rank() != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "In[0] should be a scalar bool: ", DataTypeName(cond.dtype()), " ",
          cond.shape().DebugString()));
    }
    if (cond.scalar<bool>()) return absl::OkStatus();
    std::string msg = "assertion failed: ";
    for (int i = 1; i < ctx.num_inputs(); ++i) {
      absl::StrAppend(&msg, "[", SummarizeValue(ctx.input(i), summarize_), "]");
      if (i < ctx.num_inputs() - 1) absl::StrAppend(&msg, " ");
    }
    return absl::InvalidArgumentError(msg);
  }

 private:
  const int64_t summarize_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateAssert(const KernelConstruction& c) {
  return std::make_unique<AssertKernel>(GetIntAttrOr(c.node(), "summarize", 3));
}

}  // namespace

void RegisterShapeOps(OpRegistry& registry) {
  registry.Add("Assert", {.factory = CreateAssert, .stateful = true, .num_outputs = 0});
  registry.Add("BroadcastGradientArgs", {.compute = BroadcastGradientArgs});
  registry.Add("BroadcastTo", {.compute = BroadcastTo});
  registry.Add("EnsureShape", {.factory = CreateEnsureShape});
  registry.Add("Gather", {.compute = Gather});
  registry.Add("GatherNd", {.compute = GatherNd});
  registry.Add("GatherV2", {.factory = CreateGatherV2});
  registry.Add("MirrorPad", {.factory = CreateMirrorPad});
  registry.Add("OneHot", {.factory = CreateOneHot});
  registry.Add("Pad", {.compute = Pad});
  registry.Add("PadV2", {.compute = Pad});
  registry.Add("PreventGradient", {.compute = ForwardInput});
  registry.Add("Range", {.compute = Range});
  registry.Add("Rank", {.compute = Rank});
  registry.Add("ResourceGather", {.factory = CreateResourceGather, .stateful = true});
  registry.Add("ReverseV2", {.compute = ReverseV2});
  registry.Add("ShapeN", {.factory = CreateWithOutType<ShapeNKernel>});
  registry.Add("Size", {.factory = CreateWithOutType<SizeKernel>});
  registry.Add("Slice", {.compute = Slice});
  registry.Add("Split", {.factory = CreateSplit});
  registry.Add("SplitV", {.compute = SplitV});
  registry.Add("StridedSlice", {.factory = CreateStridedSlice});
  registry.Add("Tile", {.compute = Tile});
  registry.Add("Transpose", {.compute = Transpose});
  registry.Add("Unpack", {.factory = CreateUnpack});
  registry.Add("Where", {.compute = Where});
}

}  // namespace savant::engine
