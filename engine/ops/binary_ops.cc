// Elementwise binary ops with numpy/TensorFlow broadcasting: the arithmetic (Add, AddV2, Sub, Mul,
// RealDiv, Div, DivNoNan, FloorDiv, FloorMod, Mod, TruncateDiv, TruncateMod, Pow, Maximum, Minimum,
// SquaredDifference), the comparisons (Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual),
// LogicalAnd and LogicalOr, plus AddN. A family is a few scalar functors, one template that
// applies a functor over rows of the broadcast output, and the registrations. half and bfloat16
// compute in float and round each result, like Eigen; float32 rows of the arithmetic ops run the
// Highway loops of elementwise_simd.h.
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
#include "engine/ops/elementwise_simd.h"
#include "engine/ops/ops.h"

namespace savant::engine {
namespace {

// Integer arithmetic wraps modulo 2^n like TensorFlow's on every real machine, without the UB of
// signed overflow (and without the int promotion of small unsigned types).
template <typename T>
using WrapType =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

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

// Which dtypes a functor accepts.
enum TypeClass : unsigned {
  kFloatTypes = 1,    // float, double, half, bfloat16
  kIntegerTypes = 2,  // signed and unsigned integers
  kBoolType = 4,
  kStringType = 8,
  kRealTypes = kFloatTypes | kIntegerTypes,
};

// Every functor names the dtypes it accepts (kTypes), whether its output is DT_BOOL (kBoolOutput),
// whether integer operands need a check before the loop (kCheck) and, for the float32 hot paths, the
// vector loop of elementwise_simd.h that implements it (kSimd). operator() gets the operands in
// their arithmetic type: float for half and bfloat16.
enum class Check { kNone, kIntegerDivisor, kIntegerExponent };

struct FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kBoolOutput = false;
  static constexpr Check kCheck = Check::kNone;
  static constexpr bool kHasSimd = false;
  static constexpr elementwise::BinaryOpF32 kSimd = elementwise::BinaryOpF32::kAdd;
};

struct AddFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes | kStringType;
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kAdd;
  template <typename T>
  T operator()(const T& a, const T& b) const {
    if constexpr (std::is_same_v<T, std::string>) {
      return a + b;
    } else {
      return WrapAdd(a, b);
    }
  }
};
struct SubFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kSub;
  template <typename T>
  T operator()(T a, T b) const {
    return WrapSub(a, b);
  }
};
struct MulFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kMul;
  template <typename T>
  T operator()(T a, T b) const {
    return WrapMul(a, b);
  }
};
// Integer division truncates (TensorFlow's Div, TruncateDiv); zero divisors are rejected before
// the loop and MIN / -1 wraps instead of trapping.
struct DivFn : FnTraits {
  static constexpr Check kCheck = Check::kIntegerDivisor;
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kDiv;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return b == -1 ? WrapSub(T(0), a) : static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};
struct TruncateDivFn : DivFn {
  static constexpr unsigned kTypes = kIntegerTypes;
};
// x / y, or 0 where y == 0 (even for x = NaN or inf).
struct DivNoNanFn : FnTraits {
  static constexpr unsigned kTypes = kFloatTypes;
  template <typename T>
  T operator()(T a, T b) const {
    return b == T(0) ? T(0) : a / b;
  }
};
// Python's floor division: TensorFlow's google_floor_div (integers) and floor(x / y) (floats).
struct FloorDivFn : FnTraits {
  static constexpr Check kCheck = Check::kIntegerDivisor;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::floor(a / b);
    } else if constexpr (std::is_signed_v<T>) {
      if (b == -1) return WrapSub(T(0), a);
      const T q = static_cast<T>(a / b);
      const T r = static_cast<T>(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
    } else {
      return static_cast<T>(a / b);
    }
  }
};
// Python's modulo: the result has the sign of the divisor (TensorFlow's google_floor_fmod and
// google_floor_mod).
struct FloorModFn : FnTraits {
  static constexpr Check kCheck = Check::kIntegerDivisor;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      const T r = std::fmod(a, b);
      return (r != 0 && ((b < 0) != (r < 0))) ? r + b : r;
    } else if constexpr (std::is_signed_v<T>) {
      if (b == -1) return T(0);
      const T r = static_cast<T>(a % b);
      return (r != 0 && ((b < 0) != (r < 0))) ? static_cast<T>(r + b) : r;
    } else {
      return static_cast<T>(a % b);
    }
  }
};
// C's truncated remainder (TensorFlow's Mod and TruncateMod): fmod for floats.
struct TruncateModFn : FnTraits {
  static constexpr Check kCheck = Check::kIntegerDivisor;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else if constexpr (std::is_signed_v<T>) {
      return b == -1 ? T(0) : static_cast<T>(a % b);
    } else {
      return static_cast<T>(a % b);
    }
  }
};
struct PowFn : FnTraits {
  static constexpr Check kCheck = Check::kIntegerExponent;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(a, b);
    } else {
      // Exponentiation by squaring, wrapping like TensorFlow's integer pow.
      T result = 1;
      T base = a;
      auto e = static_cast<std::make_unsigned_t<T>>(b);
      while (e != 0) {
        if (e & 1) result = WrapMul(result, base);
        e >>= 1;
        if (e != 0) base = WrapMul(base, base);
      }
      return result;
    }
  }
};
// NaN propagates, as in TensorFlow since 2.5 (Eigen's PropagateNaN).
struct MaxFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kMax;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a > b) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};
struct MinFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kMin;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a != a || a < b) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};
struct SquaredDifferenceFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr auto kSimd = elementwise::BinaryOpF32::kSquaredDifference;
  template <typename T>
  T operator()(T a, T b) const {
    const T d = WrapSub(a, b);
    return WrapMul(d, d);
  }
};

struct CompareTraits : FnTraits {
  static constexpr bool kBoolOutput = true;
};
struct LessFn : CompareTraits {
  template <typename T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct LessEqualFn : CompareTraits {
  template <typename T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterFn : CompareTraits {
  template <typename T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
struct GreaterEqualFn : CompareTraits {
  template <typename T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};
struct EqualFn : CompareTraits {
  static constexpr unsigned kTypes = kRealTypes | kBoolType | kStringType;
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return a == b;
  }
};
struct NotEqualFn : CompareTraits {
  static constexpr unsigned kTypes = kRealTypes | kBoolType | kStringType;
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return a != b;
  }
};
struct LogicalAndFn : CompareTraits {
  static constexpr unsigned kTypes = kBoolType;
  bool operator()(bool a, bool b) const { return a && b; }
};
struct LogicalOrFn : CompareTraits {
  static constexpr unsigned kTypes = kBoolType;
  bool operator()(bool a, bool b) const { return a || b; }
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

// The output element type of functor F on stored type S.
template <typename F, typename S>
using OutType = std::conditional_t<F::kBoolOutput, bool, S>;

template <typename F, typename S>
OutType<F, S> ApplyOne(const F& f, const S& a, const S& b) {
  if constexpr (std::is_same_v<S, std::string> || std::is_same_v<S, bool>) {
    return f(a, b);
  } else if constexpr (F::kBoolOutput) {
    return f(Load(a), Load(b));
  } else {
    return Store<S>(f(Load(a), Load(b)));
  }
}

// One row of n outputs; an operand that is not contiguous is one repeated element.
template <typename F, typename S>
void ApplyRow(const S* a, bool a_contiguous, const S* b, bool b_contiguous, OutType<F, S>* out,
              int64_t n) {
  const F f;
  if constexpr (std::is_same_v<S, float> && !F::kBoolOutput && F::kHasSimd) {
    elementwise::BinaryF32(F::kSimd, a, !a_contiguous, b, !b_contiguous, out, n);
  } else if (a_contiguous && b_contiguous) {
    for (int64_t i = 0; i < n; ++i) out[i] = ApplyOne(f, a[i], b[i]);
  } else if (a_contiguous) {
    const S y = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = ApplyOne(f, a[i], y);
  } else if (b_contiguous) {
    const S x = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = ApplyOne(f, x, b[i]);
  } else {
    const auto v = ApplyOne(f, *a, *b);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

// Rows [row_begin, row_end) of the output.
template <typename F, typename S>
void ApplyRows(const BroadcastPlan& plan, const S* a, const S* b, OutType<F, S>* out,
               int64_t row_begin, int64_t row_end) {
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
    ApplyRow<F, S>(a + oa, a_contiguous, b + ob, b_contiguous, out + row * inner, inner);
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

// TensorFlow's errors for integer operands that have no result.
template <typename F, typename S>
absl::Status CheckOperands(const Tensor& b) {
  if constexpr (std::is_integral_v<S> && !std::is_same_v<S, bool>) {
    if constexpr (F::kCheck == Check::kIntegerDivisor) {
      for (const S& v : b.flat<S>()) {
        if (v == 0) return absl::InvalidArgumentError("Integer division by zero");
      }
    } else if constexpr (F::kCheck == Check::kIntegerExponent && std::is_signed_v<S>) {
      for (const S& v : b.flat<S>()) {
        if (v < 0) {
          return absl::InvalidArgumentError("Integers to negative integer powers are not allowed");
        }
      }
    }
  }
  return absl::OkStatus();
}

template <typename F, typename S>
absl::Status ComputeBinary(KernelContext& ctx, const Shape& out_shape) {
  using O = OutType<F, S>;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.allocate_output(0, F::kBoolOutput ? DataType::kBool : a.dtype(), out_shape);
  const int64_t n = out.num_elements();
  if (n == 0) return absl::OkStatus();
  RETURN_IF_ERROR((CheckOperands<F, S>(b)));
  const BroadcastPlan plan = MakePlan(a.shape(), b.shape(), out_shape);
  const int64_t inner = plan.dims.back();
  const int64_t rows = n / inner;
  const S* pa = a.data<S>();
  const S* pb = b.data<S>();
  O* po = out.data<O>();
  if (n < kParallelElements || ctx.pool().parallelism() == 1) {
    ApplyRows<F, S>(plan, pa, pb, po, 0, rows);
  } else if (rows == 1) {
    // One long row: split it into contiguous chunks.
    const bool a_contiguous = plan.a_strides.back() != 0;
    const bool b_contiguous = plan.b_strides.back() != 0;
    ctx.pool().ParallelFor(n, kParallelElements, [&](int64_t begin, int64_t end) {
      ApplyRow<F, S>(pa + (a_contiguous ? begin : 0), a_contiguous, pb + (b_contiguous ? begin : 0),
                     b_contiguous, po + begin, end - begin);
    });
  } else {
    const int64_t grain = std::max<int64_t>(1, kParallelElements / inner);
    ctx.pool().ParallelFor(rows, grain, [&](int64_t begin, int64_t end) {
      ApplyRows<F, S>(plan, pa, pb, po, begin, end);
    });
  }
  return absl::OkStatus();
}

using BinaryFn = absl::Status (*)(KernelContext& ctx, const Shape& out_shape);

template <typename F>
BinaryFn SelectCompute(DataType dtype) {
  BinaryFn fn = nullptr;
  if constexpr ((F::kTypes & kFloatTypes) != 0) {
    VisitFloatType(dtype, [&](auto tag) { fn = ComputeBinary<F, typename decltype(tag)::type>; });
  }
  if constexpr ((F::kTypes & kIntegerTypes) != 0) {
    VisitIntegerType(dtype,
                     [&](auto tag) { fn = ComputeBinary<F, typename decltype(tag)::type>; });
  }
  if constexpr ((F::kTypes & kBoolType) != 0) {
    if (dtype == DataType::kBool) fn = ComputeBinary<F, bool>;
  }
  if constexpr ((F::kTypes & kStringType) != 0) {
    if (dtype == DataType::kString) fn = ComputeBinary<F, std::string>;
  }
  return fn;
}

std::string SupportedTypes(unsigned types) {
  std::vector<std::string> names;
  if (types & kFloatTypes) names.push_back("floating");
  if (types & kIntegerTypes) names.push_back("integer");
  if (types & kBoolType) names.push_back("bool");
  if (types & kStringType) names.push_back("string");
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, i + 1 == names.size() ? " and " : ", ");
    absl::StrAppend(&out, names[i]);
  }
  return absl::StrCat(out, " types");
}

// Checks the operands' dtypes against attr T, broadcasts, then runs the typed loop chosen at load
// time. Equal and NotEqual with incompatible_shape_error=false answer a scalar false (true) for
// shapes that do not broadcast, as TensorFlow does.
class BinaryKernel final : public OpKernel {
 public:
  BinaryKernel(DataType dtype, BinaryFn compute, int incompatible_result)
      : dtype_(dtype), compute_(compute), incompatible_result_(incompatible_result) {}

  absl::Status Compute(KernelContext& ctx) const override {
    if (ctx.num_inputs() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("expected 2 inputs, got ", ctx.num_inputs()));
    }
    for (int i = 0; i < 2; ++i) {
      if (ctx.input(i).dtype() != dtype_) {
        return absl::InvalidArgumentError(absl::StrCat("input ", i, ": expected ",
                                                       DataTypeName(dtype_), " (attr T), got ",
                                                       DataTypeName(ctx.input(i).dtype())));
      }
    }
    auto out_shape = BroadcastShapes(ctx.input(0).shape(), ctx.input(1).shape());
    if (!out_shape.ok()) {
      if (incompatible_result_ < 0) return out_shape.status();
      Tensor& out = ctx.allocate_output(0, DataType::kBool, Shape{});
      out.scalar<bool>() = incompatible_result_ == 1;
      return absl::OkStatus();
    }
    return compute_(ctx, *out_shape);
  }

 private:
  const DataType dtype_;
  const BinaryFn compute_;
  // -1: incompatible shapes are an error; else the scalar answer (0 or 1).
  const int incompatible_result_;
};

template <typename F>
KernelFactory MakeFactory() {
  return [](const KernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    // LogicalAnd and LogicalOr have no T attr: they are bool-only.
    DataType dtype = DataType::kBool;
    if (F::kTypes != kBoolType) {
      ASSIGN_OR_RETURN(dtype, GetTypeAttr(c.node(), "T"));
    }
    BinaryFn compute = SelectCompute<F>(dtype);
    if (compute == nullptr) {
      return absl::UnimplementedError(absl::StrCat("op \"", c.node().op, "\" does not support ",
                                                   DataTypeName(dtype), " (supported: ",
                                                   SupportedTypes(F::kTypes), ")"));
    }
    int incompatible_result = -1;
    if constexpr (std::is_same_v<F, EqualFn> || std::is_same_v<F, NotEqualFn>) {
      if (!GetBoolAttrOr(c.node(), "incompatible_shape_error", true)) {
        incompatible_result = std::is_same_v<F, NotEqualFn> ? 1 : 0;
      }
    }
    return std::make_unique<BinaryKernel>(dtype, compute, incompatible_result);
  };
}

// ---- AddN ----

template <typename S>
void AddNRange(KernelContext& ctx, Tensor& out, int64_t begin, int64_t end) {
  S* o = out.data<S>();
  const int n = ctx.num_inputs();
  const S* first = ctx.input(0).data<S>();
  for (int64_t i = begin; i < end; ++i) o[i] = first[i];
  for (int k = 1; k < n; ++k) {
    const S* in = ctx.input(k).data<S>();
    for (int64_t i = begin; i < end; ++i) o[i] = Store<S>(WrapAdd(Load(o[i]), Load(in[i])));
  }
}

// Sums n tensors of one shape (no broadcasting, like TensorFlow's AddN).
absl::Status AddN(KernelContext& ctx) {
  const int n = ctx.num_inputs();
  if (n < 1) return absl::InvalidArgumentError("AddN needs at least one input");
  const Tensor& first = ctx.input(0);
  for (int i = 1; i < n; ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype()) {
      return absl::InvalidArgumentError(
          absl::StrCat("inputs[", i, "] has dtype ", DataTypeName(t.dtype()), ", expected ",
                       DataTypeName(first.dtype()), " like inputs[0]"));
    }
    if (t.shape() != first.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Inputs to operation AddN must have the same size and shape.  Input 0: ",
          first.shape().DebugString(), " != input ", i, ": ", t.shape().DebugString()));
    }
  }
  if (n == 1) {
    ctx.set_output(0, first);
    return absl::OkStatus();
  }
  Tensor& out = ctx.allocate_output(0, first.dtype(), first.shape());
  const int64_t size = out.num_elements();
  bool supported = VisitRealType(first.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    if (size * n < kParallelElements || ctx.pool().parallelism() == 1) {
      AddNRange<S>(ctx, out, 0, size);
    } else {
      ctx.pool().ParallelFor(size, std::max<int64_t>(1024, kParallelElements / n),
                             [&](int64_t begin, int64_t end) { AddNRange<S>(ctx, out, begin, end); });
    }
  });
  if (!supported) {
    return absl::UnimplementedError(absl::StrCat("AddN does not support ",
                                                 DataTypeName(first.dtype()),
                                                 " (supported: floating and integer types)"));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBinaryOps(OpRegistry& registry) {
  registry.Add("Add", {.factory = MakeFactory<AddFn>()});
  registry.Add("AddN", {.compute = AddN});
  registry.Add("AddV2", {.factory = MakeFactory<AddFn>()});
  registry.Add("Div", {.factory = MakeFactory<DivFn>()});
  registry.Add("DivNoNan", {.factory = MakeFactory<DivNoNanFn>()});
  registry.Add("Equal", {.factory = MakeFactory<EqualFn>()});
  registry.Add("FloorDiv", {.factory = MakeFactory<FloorDivFn>()});
  registry.Add("FloorMod", {.factory = MakeFactory<FloorModFn>()});
  registry.Add("Greater", {.factory = MakeFactory<GreaterFn>()});
  registry.Add("GreaterEqual", {.factory = MakeFactory<GreaterEqualFn>()});
  registry.Add("Less", {.factory = MakeFactory<LessFn>()});
  registry.Add("LessEqual", {.factory = MakeFactory<LessEqualFn>()});
  registry.Add("LogicalAnd", {.factory = MakeFactory<LogicalAndFn>()});
  registry.Add("LogicalOr", {.factory = MakeFactory<LogicalOrFn>()});
  registry.Add("Maximum", {.factory = MakeFactory<MaxFn>()});
  registry.Add("Minimum", {.factory = MakeFactory<MinFn>()});
  registry.Add("Mod", {.factory = MakeFactory<TruncateModFn>()});
  registry.Add("Mul", {.factory = MakeFactory<MulFn>()});
  registry.Add("NotEqual", {.factory = MakeFactory<NotEqualFn>()});
  registry.Add("Pow", {.factory = MakeFactory<PowFn>()});
  registry.Add("RealDiv", {.factory = MakeFactory<DivFn>()});
  registry.Add("SquaredDifference", {.factory = MakeFactory<SquaredDifferenceFn>()});
  registry.Add("Sub", {.factory = MakeFactory<SubFn>()});
  registry.Add("TruncateDiv", {.factory = MakeFactory<TruncateDivFn>()});
  registry.Add("TruncateMod", {.factory = MakeFactory<TruncateModFn>()});
}

}  // namespace savant::engine
