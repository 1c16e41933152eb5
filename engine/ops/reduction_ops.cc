// Reductions: Sum, Mean, Prod, Max, Min, All, Any (axes as a scalar or vector of int32/int64,
// negative axes, keep_dims; an empty axis list returns the input), ArgMax and ArgMin, the scans
// Cumsum and Cumprod (exclusive, reverse) and TopKV2.
//
// A reduction first merges adjacent dims that are all reduced or all kept, so every request runs as
// one of a few shapes ([kept, reduced] rows, [reduced, kept] columns, or an alternation handled by
// an odometer). Float sums accumulate in double and are rounded once, which is at least as accurate
// as TensorFlow's float tree reduction; integers wrap.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/simd/simd.h"

namespace savant::engine {
namespace {

template <typename T>
T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

// The accumulator type of stored type S: double for every floating type, S itself otherwise.
template <typename S>
using AccType = std::conditional_t<std::is_integral_v<S>, S, double>;

enum class Reduce { kSum, kMean, kProd, kMax, kMin, kAll, kAny };

template <Reduce kOp, typename A>
A Identity() {
  if constexpr (kOp == Reduce::kSum || kOp == Reduce::kMean) {
    return A(0);
  } else if constexpr (kOp == Reduce::kProd) {
    return A(1);
  } else if constexpr (kOp == Reduce::kMax) {
    return std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity()
                                       : std::numeric_limits<A>::lowest();
  } else if constexpr (kOp == Reduce::kMin) {
    return std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity()
                                       : std::numeric_limits<A>::max();
  } else if constexpr (kOp == Reduce::kAll) {
    return A(true);
  } else {
    return A(false);
  }
}

// Max and Min propagate NaN, like TensorFlow's reduce_max/reduce_min.
template <Reduce kOp, typename A>
A Combine(A acc, A v) {
  if constexpr (kOp == Reduce::kSum || kOp == Reduce::kMean) {
    return WrapAdd(acc, v);
  } else if constexpr (kOp == Reduce::kProd) {
    return WrapMul(acc, v);
  } else if constexpr (kOp == Reduce::kMax) {
    return (v > acc || v != v) && acc == acc ? v : acc;
  } else if constexpr (kOp == Reduce::kMin) {
    return (v < acc || v != v) && acc == acc ? v : acc;
  } else if constexpr (kOp == Reduce::kAll) {
    return acc && v;
  } else {
    return acc || v;
  }
}

template <Reduce kOp, typename S>
S Finish(AccType<S> acc, int64_t count) {
  if constexpr (kOp == Reduce::kMean) {
    if constexpr (std::is_integral_v<S>) {
      // Divides in 64 bits: the count need not fit in S.
      using W = std::conditional_t<std::is_signed_v<S>, int64_t, uint64_t>;
      return count == 0 ? S(0) : static_cast<S>(static_cast<W>(acc) / static_cast<W>(count));
    } else {
      return Store<S>(static_cast<ComputeType<S>>(acc / static_cast<double>(count)));
    }
  } else if constexpr (std::is_integral_v<S>) {
    return acc;
  } else {
    return Store<S>(static_cast<ComputeType<S>>(acc));
  }
}

// The reduction as merged groups of dims: `dims[g]` elements, reduced or kept.
struct ReducePlan {
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
  Shape out_shape;
  int64_t count = 1;  // elements folded into each output
};

absl::StatusOr<ReducePlan> MakeReducePlan(const Shape& in, const std::vector<int64_t>& axes,
                                          bool keep_dims) {
  const int rank = in.rank();
  std::vector<bool> reduce(rank, false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid reduction dimension (", a,
                                                     " for input with ", rank, " dimension(s)"));
    }
    const int axis = static_cast<int>(a < 0 ? a + rank : a);
    if (reduce[axis]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid reduction arguments: Axes contains duplicate dimension: ", axis));
    }
    reduce[axis] = true;
  }
  ReducePlan plan;
  for (int i = 0; i < rank; ++i) {
    const int64_t d = in.dim(i);
    if (reduce[i]) {
      plan.count *= d;
      if (keep_dims) plan.out_shape.AddDim(1);
    } else {
      plan.out_shape.AddDim(d);
    }
    if (d == 1) continue;
    if (!plan.dims.empty() && plan.reduced.back() == reduce[i]) {
      plan.dims.back() *= d;
    } else {
      plan.dims.push_back(d);
      plan.reduced.push_back(reduce[i]);
    }
  }
  return plan;
}

template <Reduce kOp, typename S>
void RunReduce(KernelContext& ctx, const ReducePlan& plan, const Tensor& in, Tensor& out) {
  using A = AccType<S>;
  const S* src = in.data<S>();
  S* dst = out.data<S>();
  const int64_t out_n = out.num_elements();
  const int64_t in_n = in.num_elements();
  auto load = [](const S& v) -> A {
    if constexpr (std::is_integral_v<S>) {
      return v;
    } else {
      return static_cast<A>(Load(v));
    }
  };
  const int groups = static_cast<int>(plan.dims.size());
  if (in_n == 0 || groups == 0 || (groups == 1 && !plan.reduced[0])) {
    // Nothing to combine: every output folds `count` (0 or 1) elements.
    for (int64_t i = 0; i < out_n; ++i) {
      A acc = Identity<kOp, A>();
      if (plan.count == 1 && in_n == out_n) acc = load(src[i]);
      dst[i] = Finish<kOp, S>(acc, plan.count);
    }
    return;
  }
  if (plan.reduced.back() && groups <= 2) {
    // [kept?, reduced]: contiguous rows, one output each.
    const int64_t row = plan.dims.back();
    const int64_t rows = in_n / row;
    auto run = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const S* p = src + r * row;
        A acc = Identity<kOp, A>();
        if constexpr ((kOp == Reduce::kSum || kOp == Reduce::kMean) && std::is_same_v<S, float>) {
          // Double accumulators over vector lanes (the row of a LayerNorm mean).
          acc = simd::SumToDouble(p, row);
        } else {
          for (int64_t i = 0; i < row; ++i) acc = Combine<kOp, A>(acc, load(p[i]));
        }
        dst[r] = Finish<kOp, S>(acc, plan.count);
      }
    };
    if (in_n < kParallelElements || rows == 1 || ctx.pool().parallelism() == 1) {
      run(0, rows);
    } else {
      ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kParallelElements / row), run);
    }
    return;
  }
  // General case: accumulate in order with an odometer; the innermost group is either one
  // contiguous reduced run (folded into one accumulator) or a kept run (a row of accumulators).
  // Not std::vector: vector<bool> has no data() (All, Any).
  std::unique_ptr<A[]> acc(new A[out_n]);
  std::fill_n(acc.get(), out_n, Identity<kOp, A>());
  std::vector<int64_t> out_strides(groups, 0);
  int64_t stride = 1;
  for (int g = groups - 1; g >= 0; --g) {
    if (!plan.reduced[g]) {
      out_strides[g] = stride;
      stride *= plan.dims[g];
    }
  }
  const int64_t inner = plan.dims.back();
  const bool inner_reduced = plan.reduced.back();
  const int outer = groups - 1;
  std::vector<int64_t> index(outer, 0);
  int64_t o = 0;
  for (int64_t base = 0; base < in_n; base += inner) {
    const S* p = src + base;
    if (inner_reduced) {
      A a = acc[o];
      for (int64_t i = 0; i < inner; ++i) a = Combine<kOp, A>(a, load(p[i]));
      acc[o] = a;
    } else if constexpr ((kOp == Reduce::kSum || kOp == Reduce::kMean) &&
                         std::is_same_v<S, float>) {
      // A row of independent sums: vector lanes keep each output's order of additions.
      simd::AccumulateToDouble(p, inner, acc.get() + o);
    } else {
      A* q = acc.get() + o;
      for (int64_t i = 0; i < inner; ++i) q[i] = Combine<kOp, A>(q[i], load(p[i]));
    }
    for (int d = outer - 1; d >= 0; --d) {
      o += out_strides[d];
      if (++index[d] < plan.dims[d]) break;
      o -= out_strides[d] * plan.dims[d];
      index[d] = 0;
    }
  }
  for (int64_t i = 0; i < out_n; ++i) dst[i] = Finish<kOp, S>(acc[i], plan.count);
}

using ReduceFn = void (*)(KernelContext& ctx, const ReducePlan& plan, const Tensor& in,
                          Tensor& out);

template <Reduce kOp>
ReduceFn SelectReduce(DataType dtype) {
  ReduceFn fn = nullptr;
  if constexpr (kOp == Reduce::kAll || kOp == Reduce::kAny) {
    if (dtype == DataType::kBool) fn = RunReduce<kOp, bool>;
  } else {
    VisitRealType(dtype, [&](auto tag) { fn = RunReduce<kOp, typename decltype(tag)::type>; });
  }
  return fn;
}

class ReduceKernel final : public OpKernel {
 public:
  ReduceKernel(DataType dtype, ReduceFn fn, bool keep_dims)
      : dtype_(dtype), fn_(fn), keep_dims_(keep_dims) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& in = ctx.input(0);
    if (in.dtype() != dtype_) {
      return absl::InvalidArgumentError(absl::StrCat("input 0: expected ", DataTypeName(dtype_),
                                                     " (attr T), got ", DataTypeName(in.dtype())));
    }
    const Tensor& axes_t = ctx.input(1);
    if (axes_t.rank() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reduction_indices must be a scalar or a vector, got shape ",
          axes_t.shape().DebugString()));
    }
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, IndexValues(axes_t, "reduction_indices"));
    ASSIGN_OR_RETURN(ReducePlan plan, MakeReducePlan(in.shape(), axes, keep_dims_));
    if (axes.empty()) {
      ctx.set_output(0, in);
      return absl::OkStatus();
    }
    Tensor& out = ctx.allocate_output(0, dtype_, plan.out_shape);
    fn_(ctx, plan, in, out);
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
  const ReduceFn fn_;
  const bool keep_dims_;
};

template <Reduce kOp>
KernelFactory MakeReduce() {
  return [](const KernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    DataType dtype = DataType::kBool;
    if (kOp != Reduce::kAll && kOp != Reduce::kAny) {
      ASSIGN_OR_RETURN(dtype, GetTypeAttr(c.node(), "T"));
    }
    ReduceFn fn = SelectReduce<kOp>(dtype);
    if (fn == nullptr) {
      return absl::UnimplementedError(absl::StrCat("op \"", c.node().op, "\" does not support ",
                                                   DataTypeName(dtype),
                                                   " (supported: floating and integer types)"));
    }
    return std::make_unique<ReduceKernel>(dtype, fn, GetBoolAttrOr(c.node(), "keep_dims", false));
  };
}

// ---- ArgMax, ArgMin ----

template <bool kMax>
class ArgKernel final : public OpKernel {
 public:
  explicit ArgKernel(DataType output_type) : output_type_(output_type) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& in = ctx.input(0);
    const Tensor& dim_t = ctx.input(1);
    if (dim_t.rank() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("dim must be a scalar, but received tensor of shape: ",
                                                     dim_t.shape().DebugString()));
    }
    ASSIGN_OR_RETURN(int64_t dim, IndexScalar(dim_t, "dimension"));
    const int rank = in.rank();
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(dim, rank, "dimension"));
    if (in.dim(axis) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("Reduction axis ", dim,
                                                     " is empty in shape ",
                                                     in.shape().DebugString()));
    }
    Shape out_shape = in.shape();
    out_shape.RemoveDim(axis);
    Tensor& out = ctx.allocate_output(0, output_type_, out_shape);
    const int64_t outer = DimProduct(in.shape(), 0, axis);
    const int64_t size = in.dim(axis);
    const int64_t inner = DimProduct(in.shape(), axis + 1, rank);
    bool supported = VisitRealType(in.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      const S* src = in.data<S>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          const S* p = src + o * size * inner + i;
          auto best = Load(p[0]);
          int64_t best_index = 0;
          for (int64_t k = 1; k < size; ++k) {
            const auto v = Load(p[k * inner]);
            // Ties keep the first index (Eigen's argmax/argmin).
            if (kMax ? v > best : v < best) {
              best = v;
              best_index = k;
            }
          }
          const int64_t at = o * inner + i;
          if (output_type_ == DataType::kInt32) {
            out.data<int32_t>()[at] = static_cast<int32_t>(best_index);
          } else {
            out.data<int64_t>()[at] = best_index;
          }
        }
      }
    });
    if (!supported) {
      return absl::InvalidArgumentError(absl::StrCat("input must be a real numeric type, got ",
                                                     DataTypeName(in.dtype())));
    }
    return absl::OkStatus();
  }

 private:
  const DataType output_type_;
};

template <bool kMax>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateArg(const KernelConstruction& c) {
  DataType output_type = DataType::kInt64;
  if (FindAttr(c.node(), "output_type") != nullptr) {
    ASSIGN_OR_RETURN(output_type, GetTypeAttr(c.node(), "output_type"));
  }
  if (output_type != DataType::kInt32 && output_type != DataType::kInt64) {
    return absl::UnimplementedError(absl::StrCat(
        "attr \"output_type\" must be DT_INT32 or DT_INT64, got ", DataTypeName(output_type)));
  }
  return std::make_unique<ArgKernel<kMax>>(output_type);
}

// ---- Cumsum, Cumprod ----

template <bool kProd>
class ScanKernel final : public OpKernel {
 public:
  ScanKernel(bool exclusive, bool reverse) : exclusive_(exclusive), reverse_(reverse) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& in = ctx.input(0);
    const Tensor& axis_t = ctx.input(1);
    if (axis_t.rank() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("ScanOp: axis must be a scalar, not ",
                                                     axis_t.shape().DebugString()));
    }
    ASSIGN_OR_RETURN(int64_t axis_arg, IndexScalar(axis_t, "axis"));
    const int rank = in.rank();
    if (axis_arg < -rank || axis_arg >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("ScanOp: Expected scan axis in the range [",
                                                     -rank, ", ", rank, "), but got ", axis_arg));
    }
    const int axis = static_cast<int>(axis_arg < 0 ? axis_arg + rank : axis_arg);
    Tensor& out = ctx.allocate_output(0, in.dtype(), in.shape());
    if (in.num_elements() == 0) return absl::OkStatus();
    const int64_t outer = DimProduct(in.shape(), 0, axis);
    const int64_t size = in.dim(axis);
    const int64_t inner = DimProduct(in.shape(), axis + 1, rank);
    bool supported = VisitRealType(in.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      using C = ComputeType<S>;
      const S* src = in.data<S>();
      S* dst = out.data<S>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t base = o * size * inner + i;
          // Accumulates in the element's own arithmetic type, in scan order, like Eigen's scan.
          C acc = kProd ? C(1) : C(0);
          for (int64_t s = 0; s < size; ++s) {
            const int64_t k = reverse_ ? size - 1 - s : s;
            const int64_t at = base + k * inner;
            const C v = Load(src[at]);
            if (exclusive_) {
              dst[at] = Store<S>(acc);
              acc = kProd ? WrapMul(acc, v) : WrapAdd(acc, v);
            } else {
              acc = kProd ? WrapMul(acc, v) : WrapAdd(acc, v);
              dst[at] = Store<S>(acc);
            }
          }
        }
      }
    });
    if (!supported) {
      return absl::InvalidArgumentError(
          absl::StrCat("scan does not support ", DataTypeName(in.dtype())));
    }
    return absl::OkStatus();
  }

 private:
  const bool exclusive_;
  const bool reverse_;
};

template <bool kProd>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateScan(const KernelConstruction& c) {
  return std::make_unique<ScanKernel<kProd>>(GetBoolAttrOr(c.node(), "exclusive", false),
                                             GetBoolAttrOr(c.node(), "reverse", false));
}

// ---- TopKV2 ----

// The k largest entries of each row of the last dim, largest first; equal values keep the lower
// index first. `sorted=false` is free to return any order, so it returns the sorted one too.
class TopKKernel final : public OpKernel {
 public:
  explicit TopKKernel(DataType index_type) : index_type_(index_type) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& in = ctx.input(0);
    const Tensor& k_t = ctx.input(1);
    if (k_t.rank() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("k must be 0-D, got shape ", k_t.shape().DebugString()));
    }
    ASSIGN_OR_RETURN(int64_t k, IndexScalar(k_t, "k"));
    if (k < 0) return absl::InvalidArgumentError(absl::StrCat("Need k >= 0, got ", k));
    if (in.rank() < 1) {
      return absl::InvalidArgumentError(absl::StrCat("input must be >= 1-D, got shape ",
                                                     in.shape().DebugString()));
    }
    const int64_t cols = in.dim(in.rank() - 1);
    if (cols < k) {
      return absl::InvalidArgumentError(
          absl::StrCat("input must have at least k columns. Had ", cols, ", needed ", k));
    }
    Shape out_shape = in.shape();
    out_shape.set_dim(in.rank() - 1, k);
    Tensor& values = ctx.allocate_output(0, in.dtype(), out_shape);
    Tensor& indices = ctx.allocate_output(1, index_type_, out_shape);
    if (values.num_elements() == 0) return absl::OkStatus();
    const int64_t rows = in.num_elements() / cols;
    bool supported = VisitRealType(in.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      const S* src = in.data<S>();
      S* vals = values.data<S>();
      std::vector<int64_t> order(cols);
      for (int64_t r = 0; r < rows; ++r) {
        const S* row = src + r * cols;
        std::iota(order.begin(), order.end(), 0);
        auto greater = [&](int64_t a, int64_t b) {
          const auto va = Load(row[a]);
          const auto vb = Load(row[b]);
          // NaN sorts above every number, like TensorFlow's TopK.
          const bool na = va != va;
          const bool nb = vb != vb;
          if (na != nb) return na;
          if (!na && va != vb) return va > vb;
          return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), greater);
        for (int64_t j = 0; j < k; ++j) {
          vals[r * k + j] = row[order[j]];
          if (index_type_ == DataType::kInt32) {
            indices.data<int32_t>()[r * k + j] = static_cast<int32_t>(order[j]);
          } else {
            indices.data<int64_t>()[r * k + j] = order[j];
          }
        }
      }
    });
    if (!supported) {
      return absl::InvalidArgumentError(
          absl::StrCat("TopKV2 does not support ", DataTypeName(in.dtype())));
    }
    return absl::OkStatus();
  }

 private:
  const DataType index_type_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateTopK(const KernelConstruction& c) {
  DataType index_type = DataType::kInt32;
  if (FindAttr(c.node(), "index_type") != nullptr) {
    ASSIGN_OR_RETURN(index_type, GetTypeAttr(c.node(), "index_type"));
  }
  if (index_type != DataType::kInt32 && index_type != DataType::kInt64) {
    return absl::UnimplementedError(absl::StrCat(
        "attr \"index_type\" must be DT_INT32 or DT_INT64, got ", DataTypeName(index_type)));
  }
  return std::make_unique<TopKKernel>(index_type);
}

}  // namespace

void RegisterReductionOps(OpRegistry& registry) {
  registry.Add("All", {.factory = MakeReduce<Reduce::kAll>()});
  registry.Add("Any", {.factory = MakeReduce<Reduce::kAny>()});
  registry.Add("ArgMax", {.factory = CreateArg<true>});
  registry.Add("ArgMin", {.factory = CreateArg<false>});
  registry.Add("Cumprod", {.factory = CreateScan<true>});
  registry.Add("Cumsum", {.factory = CreateScan<false>});
  registry.Add("Max", {.factory = MakeReduce<Reduce::kMax>()});
  registry.Add("Mean", {.factory = MakeReduce<Reduce::kMean>()});
  registry.Add("Min", {.factory = MakeReduce<Reduce::kMin>()});
  registry.Add("Prod", {.factory = MakeReduce<Reduce::kProd>()});
  registry.Add("Sum", {.factory = MakeReduce<Reduce::kSum>()});
  registry.Add("TopKV2", {.factory = CreateTopK});
}

}  // namespace savant::engine
