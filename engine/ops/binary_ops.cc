// Elementwise binary ops with numpy/TensorFlow broadcasting: Add, AddV2, Sub, Mul, RealDiv,
// Maximum, Minimum, SquaredDifference. A family is a few scalar functors, one template that applies
// a functor over rows of the broadcast output, and the registrations.
//
// Broadcasting is planned once per call: dims of size 1 in the output are dropped and adjacent dims
// with the same broadcast pattern are merged, so [8,1,16] + [1,4,16] runs as rows of 16 with a
// two-dim odometer. The innermost loop is always a tight contiguous loop over one row, with either
// both operands contiguous or one of them a repeated scalar, which the compiler vectorises.
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {
namespace {

// Integer arithmetic wraps modulo 2^n like TensorFlow's on every real machine, without the UB of
// signed overflow (and without the int promotion of small unsigned types).
template <typename T>
using WrapType = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
  } else {
    return a + b;
  }
}
template <typename T>
T WrapSub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
  } else {
    return a - b;
  }
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
  } else {
    return a * b;
  }
}

struct AddFn {
  static constexpr bool kStrings = true;
  template <typename T>
  T operator()(const T& a, const T& b) const {
    if constexpr (std::is_same_v<T, std::string>) {
      return a + b;
    } else {
      return WrapAdd(a, b);
    }
  }
};
struct SubFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const { return WrapSub(a, b); }
};
struct MulFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const { return WrapMul(a, b); }
};
// Integer division truncates (TensorFlow's Div); zero divisors are rejected before the loop and
// MIN / -1 wraps instead of trapping.
struct DivFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return b == -1 ? WrapSub(T(0), a) : static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};
// NaN propagates, as in TensorFlow since 2.5 (Eigen's PropagateNaN).
struct MaxFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a > b) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};
struct MinFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a < b) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};
struct SquaredDifferenceFn {
  static constexpr bool kStrings = false;
  template <typename T>
  T operator()(T a, T b) const {
    const T d = WrapSub(a, b);
    return WrapMul(d, d);
  }
};

// The output iterated as rows: `dims` are the merged output dims (innermost last) and the strides
// say how far each operand moves per step in that dim (0 where it is broadcast). The innermost
// stride of an operand is 1 or 0.
struct BroadcastPlan {
  std::vector<int64_t> dims;
  std::vector<int64_t> a_strides;
  std::vector<int64_t> b_strides;
};

BroadcastPlan MakePlan(const Shape& a, const Shape& b, const Shape& out) {
  struct Group {
    int pattern;  // bit 0: a broadcast in this group, bit 1: b broadcast
    int64_t size;
  };
  std::vector<Group> groups;
  const int rank = out.rank();
  for (int i = 0; i < rank; ++i) {
    const int64_t d = out.dim(i);
    if (d == 1) continue;
    const int ia = i - (rank - a.rank());
    const int ib = i - (rank - b.rank());
    const bool a_bcast = ia < 0 || a.dim(ia) == 1;
    const bool b_bcast = ib < 0 || b.dim(ib) == 1;
    const int pattern = (a_bcast ? 1 : 0) | (b_bcast ? 2 : 0);
    if (!groups.empty() && groups.back().pattern == pattern) {
      groups.back().size *= d;
    } else {
      groups.push_back({pattern, d});
    }
  }
  if (groups.empty()) groups.push_back({0, 1});
  BroadcastPlan plan;
  const size_t n = groups.size();
  plan.dims.resize(n);
  plan.a_strides.resize(n);
  plan.b_strides.resize(n);
  int64_t sa = 1;
  int64_t sb = 1;
  for (size_t g = n; g-- > 0;) {
    plan.dims[g] = groups[g].size;
    plan.a_strides[g] = (groups[g].pattern & 1) ? 0 : sa;
    plan.b_strides[g] = (groups[g].pattern & 2) ? 0 : sb;
    if (!(groups[g].pattern & 1)) sa *= groups[g].size;
    if (!(groups[g].pattern & 2)) sb *= groups[g].size;
  }
  return plan;
}

template <typename T, typename F>
void ApplyRow(const T* a, bool a_contiguous, const T* b, bool b_contiguous, T* out, int64_t n,
              F f) {
  if (a_contiguous && b_contiguous) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (a_contiguous) {
    const T y = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], y);
  } else {
    const T x = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = f(x, b[i]);
  }
}

// Rows [row_begin, row_end) of the output.
template <typename T, typename F>
void ApplyRows(const BroadcastPlan& plan, const T* a, const T* b, T* out, int64_t row_begin,
               int64_t row_end) {
  const int outer = static_cast<int>(plan.dims.size()) - 1;
  const int64_t inner = plan.dims.back();
  const bool a_contiguous = plan.a_strides.back() != 0;
  const bool b_contiguous = plan.b_strides.back() != 0;
  // Odometer over the outer dims, started at row_begin.
  std::vector<int64_t> index(outer, 0);
  int64_t oa = 0;
  int64_t ob = 0;
  int64_t rest = row_begin;
  for (int d = outer - 1; d >= 0; --d) {
    index[d] = rest % plan.dims[d];
    rest /= plan.dims[d];
    oa += index[d] * plan.a_strides[d];
    ob += index[d] * plan.b_strides[d];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    ApplyRow(a + oa, a_contiguous, b + ob, b_contiguous, out + row * inner, inner, F());
    for (int d = outer - 1; d >= 0; --d) {
      oa += plan.a_strides[d];
      ob += plan.b_strides[d];
      if (++index[d] < plan.dims[d]) break;
      oa -= plan.a_strides[d] * plan.dims[d];
      ob -= plan.b_strides[d] * plan.dims[d];
      index[d] = 0;
    }
  }
}

// Below this many output elements a kernel stays on its calling thread.
constexpr int64_t kParallelThreshold = 1 << 15;

template <typename F, typename T>
absl::Status ComputeBinary(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(a.shape(), b.shape()));
  Tensor& out = ctx.allocate_output(0, a.dtype(), out_shape);
  const int64_t n = out.num_elements();
  if (n == 0) return absl::OkStatus();
  if constexpr (std::is_same_v<F, DivFn> && std::is_integral_v<T>) {
    for (const T& v : b.flat<T>()) {
      if (v == 0) return absl::InvalidArgumentError("Integer division by zero");
    }
  }
  const BroadcastPlan plan = MakePlan(a.shape(), b.shape(), out_shape);
  const int64_t inner = plan.dims.back();
  const int64_t rows = n / inner;
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  if (n < kParallelThreshold || rows == 1 || ctx.pool().parallelism() == 1) {
    ApplyRows<T, F>(plan, pa, pb, po, 0, rows);
  } else {
    const int64_t grain = std::max<int64_t>(1, kParallelThreshold / inner);
    ctx.pool().ParallelFor(rows, grain, [&](int64_t begin, int64_t end) {
      ApplyRows<T, F>(plan, pa, pb, po, begin, end);
    });
  }
  return absl::OkStatus();
}

template <typename F>
ComputeFn SelectCompute(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat: return ComputeBinary<F, float>;
    case DataType::kDouble: return ComputeBinary<F, double>;
    case DataType::kInt32: return ComputeBinary<F, int32_t>;
    case DataType::kInt64: return ComputeBinary<F, int64_t>;
    case DataType::kInt8: return ComputeBinary<F, int8_t>;
    case DataType::kInt16: return ComputeBinary<F, int16_t>;
    case DataType::kUInt8: return ComputeBinary<F, uint8_t>;
    case DataType::kUInt16: return ComputeBinary<F, uint16_t>;
    case DataType::kUInt32: return ComputeBinary<F, uint32_t>;
    case DataType::kUInt64: return ComputeBinary<F, uint64_t>;
    case DataType::kString:
      if constexpr (F::kStrings) return ComputeBinary<F, std::string>;
      return nullptr;
    default: return nullptr;
  }
}

// Checks the operands' dtypes against attr T, then runs the typed loop chosen at load time.
class BinaryKernel final : public OpKernel {
 public:
  BinaryKernel(DataType dtype, ComputeFn compute) : dtype_(dtype), compute_(compute) {}

  absl::Status Compute(KernelContext& ctx) const override {
    if (ctx.num_inputs() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected 2 inputs, got ", ctx.num_inputs()));
    }
    for (int i = 0; i < 2; ++i) {
      if (ctx.input(i).dtype() != dtype_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input ", i, ": expected ", DataTypeName(dtype_), " (attr T), got ",
            DataTypeName(ctx.input(i).dtype())));
      }
    }
    return compute_(ctx);
  }

 private:
  const DataType dtype_;
  const ComputeFn compute_;
};

template <typename F>
KernelFactory MakeFactory() {
  return [](const KernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
    ComputeFn compute = SelectCompute<F>(dtype);
    if (compute == nullptr) {
      return absl::UnimplementedError(absl::StrCat(
          "op \"", c.node().op, "\" does not support ", DataTypeName(dtype),
          F::kStrings ? " (supported: floating, integer and string types)"
                      : " (supported: floating and integer types)"));
    }
    return std::make_unique<BinaryKernel>(dtype, compute);
  };
}

}  // namespace

void RegisterBinaryOps(OpRegistry& registry) {
  registry.Add("Add", {.factory = MakeFactory<AddFn>()});
  registry.Add("AddV2", {.factory = MakeFactory<AddFn>()});
  registry.Add("Maximum", {.factory = MakeFactory<MaxFn>()});
  registry.Add("Minimum", {.factory = MakeFactory<MinFn>()});
  registry.Add("Mul", {.factory = MakeFactory<MulFn>()});
  registry.Add("RealDiv", {.factory = MakeFactory<DivFn>()});
  registry.Add("SquaredDifference", {.factory = MakeFactory<SquaredDifferenceFn>()});
  registry.Add("Sub", {.factory = MakeFactory<SubFn>()});
}

}  // namespace savant::engine
