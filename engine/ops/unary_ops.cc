// Elementwise ops of one input (Neg, Abs, Exp, Log, Tanh, Sigmoid, the relu family, rounding,
// IsNan, LogicalNot, ...), the row-wise Softmax and LogSoftmax, ClipByValue and the
// FakeQuantWithMinMax ops. Each op is a scalar functor with TensorFlow's formula; float32 tensors
// of the hot ops run the Highway loops of elementwise_simd.h instead, and half and bfloat16 compute
// in float and round each result (as Eigen does). Large tensors are split over the pool.
#include <cmath>
#include <limits>
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

using elementwise::UnaryOpF32;

// Which dtypes a functor accepts.
enum TypeClass : unsigned {
  kFloatTypes = 1,
  kIntegerTypes = 2,
  kRealTypes = 3,
};

// Every functor names its dtypes (kTypes), whether its output is DT_BOOL (kBoolOutput) and, when a
// Highway loop implements it for float32, that loop (kSimd). operator() works in the arithmetic
// type (float for half and bfloat16). `alpha` is LeakyRelu's attr.
struct FnTraits {
  static constexpr unsigned kTypes = kFloatTypes;
  static constexpr bool kBoolOutput = false;
  static constexpr bool kHasSimd = false;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kNeg;
  float alpha = 0.0f;
};

template <typename T>
T WrapNeg(T x) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x));
  } else {
    return -x;
  }
}

struct NegFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kNeg;
  template <typename T>
  T operator()(T x) const {
    return WrapNeg(x);
  }
};
struct AbsFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kAbs;
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fabs(x);
    } else if constexpr (std::is_signed_v<T>) {
      return x < 0 ? WrapNeg(x) : x;
    } else {
      return x;
    }
  }
};
// Sign of NaN is 0, like Eigen's (x > 0) - (x < 0).
struct SignFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  template <typename T>
  T operator()(T x) const {
    return static_cast<T>((x > T(0)) - (x < T(0)));
  }
};
struct SquareFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kSquare;
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) {
      using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned,
                                   std::make_unsigned_t<T>>;
      return static_cast<T>(static_cast<U>(x) * static_cast<U>(x));
    } else {
      return x * x;
    }
  }
};
struct SqrtFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kSqrt;
  template <typename T>
  T operator()(T x) const {
    return std::sqrt(x);
  }
};
struct RsqrtFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kRsqrt;
  template <typename T>
  T operator()(T x) const {
    return T(1) / std::sqrt(x);
  }
};
struct ReciprocalFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kReciprocal;
  template <typename T>
  T operator()(T x) const {
    return T(1) / x;
  }
};
struct ExpFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kExp;
  template <typename T>
  T operator()(T x) const {
    return std::exp(x);
  }
};
struct Expm1Fn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::expm1(x);
  }
};
struct LogFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kLog;
  template <typename T>
  T operator()(T x) const {
    return std::log(x);
  }
};
struct Log1pFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::log1p(x);
  }
};
struct SinFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::sin(x);
  }
};
struct CosFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::cos(x);
  }
};
struct TanFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::tan(x);
  }
};
struct AtanFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::atan(x);
  }
};
struct ErfFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return std::erf(x);
  }
};
struct TanhFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kTanh;
  template <typename T>
  T operator()(T x) const {
    return std::tanh(x);
  }
};
// Eigen's float logistic: exp(x) below -9 (where 1 + exp(-x) loses exp(x)'s digits), 1 above
// 16.6, the plain formula in between.
struct SigmoidFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kSigmoid;
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) {
      if (x < -9.0f) return std::exp(x);
      if (x > 16.619047164916992188f) return 1.0f;
    }
    return T(1) / (T(1) + std::exp(-x));
  }
};
// max(x, 0) with NaN passed through.
struct ReluFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kRelu;
  template <typename T>
  T operator()(T x) const {
    return x < T(0) ? T(0) : x;
  }
};
struct Relu6Fn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kRelu6;
  template <typename T>
  T operator()(T x) const {
    const T lo = x < T(0) ? T(0) : x;
    return lo > T(6) ? T(6) : lo;
  }
};
struct LeakyReluFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kLeakyRelu;
  template <typename T>
  T operator()(T x) const {
    return x > T(0) ? x : x * static_cast<T>(alpha);
  }
};
// TensorFlow's Elu and Selu use exp(x) - 1, not expm1.
struct EluFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kElu;
  template <typename T>
  T operator()(T x) const {
    return x < T(0) ? std::exp(x) - T(1) : x;
  }
};
struct SeluFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kSelu;
  template <typename T>
  T operator()(T x) const {
    const T scale = static_cast<T>(1.0507009873554804934193349852946);
    const T scale_alpha = static_cast<T>(1.7580993408473768599402175208123);
    return x < T(0) ? scale_alpha * (std::exp(x) - T(1)) : scale * x;
  }
};
// TensorFlow's thresholds avoid overflow and underflow of exp: log(epsilon) + 2.
struct SoftplusFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kSoftplus;
  template <typename T>
  T operator()(T x) const {
    const T threshold = std::log(std::numeric_limits<T>::epsilon()) + T(2);
    if (x > -threshold) return x;
    if (x < threshold) return std::exp(x);
    return std::log(std::exp(x) + T(1));
  }
};
struct SoftsignFn : FnTraits {
  template <typename T>
  T operator()(T x) const {
    return x / (std::fabs(x) + T(1));
  }
};
struct FloorFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kFloor;
  template <typename T>
  T operator()(T x) const {
    return std::floor(x);
  }
};
struct CeilFn : FnTraits {
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kCeil;
  template <typename T>
  T operator()(T x) const {
    return std::ceil(x);
  }
};
// Round half to even (TensorFlow's Round and Rint); integers are unchanged.
struct RoundFn : FnTraits {
  static constexpr unsigned kTypes = kRealTypes;
  static constexpr bool kHasSimd = true;
  static constexpr UnaryOpF32 kSimd = UnaryOpF32::kRound;
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::nearbyint(x);
    } else {
      return x;
    }
  }
};
struct RintFn : RoundFn {
  static constexpr unsigned kTypes = kFloatTypes;
};

struct PredicateTraits : FnTraits {
  static constexpr bool kBoolOutput = true;
};
struct IsNanFn : PredicateTraits {
  template <typename T>
  bool operator()(T x) const {
    return std::isnan(x);
  }
};
struct IsInfFn : PredicateTraits {
  template <typename T>
  bool operator()(T x) const {
    return std::isinf(x);
  }
};
struct IsFiniteFn : PredicateTraits {
  template <typename T>
  bool operator()(T x) const {
    return std::isfinite(x);
  }
};

template <typename F, typename S>
using OutType = std::conditional_t<F::kBoolOutput, bool, S>;

template <typename F, typename S>
void ApplyRange(const F& f, const S* in, OutType<F, S>* out, int64_t n) {
  if constexpr (std::is_same_v<S, float> && F::kHasSimd) {
    elementwise::UnaryF32(F::kSimd, in, out, n, f.alpha);
  } else if constexpr (F::kBoolOutput) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(Load(in[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = Store<S>(f(Load(in[i])));
  }
}

using UnaryFn = void (*)(const FnTraits& params, KernelContext& ctx, const Tensor& in, Tensor& out);

template <typename F, typename S>
void ComputeUnary(const FnTraits& params, KernelContext& ctx, const Tensor& in, Tensor& out) {
  F f;
  f.alpha = params.alpha;
  const S* src = in.data<S>();
  auto* dst = out.data<OutType<F, S>>();
  const int64_t n = in.num_elements();
  if (n < kParallelElements || ctx.pool().parallelism() == 1) {
    ApplyRange<F, S>(f, src, dst, n);
  } else {
    ctx.pool().ParallelFor(n, kParallelElements / 4, [&](int64_t begin, int64_t end) {
      ApplyRange<F, S>(f, src + begin, dst + begin, end - begin);
    });
  }
}

template <typename F>
UnaryFn SelectUnary(DataType dtype) {
  UnaryFn fn = nullptr;
  if constexpr ((F::kTypes & kFloatTypes) != 0) {
    VisitFloatType(dtype, [&](auto tag) { fn = ComputeUnary<F, typename decltype(tag)::type>; });
  }
  if constexpr ((F::kTypes & kIntegerTypes) != 0) {
    VisitIntegerType(dtype, [&](auto tag) { fn = ComputeUnary<F, typename decltype(tag)::type>; });
  }
  return fn;
}

class UnaryKernel final : public OpKernel {
 public:
  UnaryKernel(DataType dtype, bool bool_output, UnaryFn fn, FnTraits params)
      : dtype_(dtype), bool_output_(bool_output), fn_(fn), params_(params) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    const Tensor& in = ctx.input(0);
    if (in.dtype() != dtype_) {
      return absl::InvalidArgumentError(absl::StrCat("input 0: expected ", DataTypeName(dtype_),
                                                     " (attr T), got ",
                                                     DataTypeName(in.dtype())));
    }
    Tensor& out = ctx.allocate_output(0, bool_output_ ? DataType::kBool : dtype_, in.shape());
    if (in.num_elements() > 0) fn_(params_, ctx, in, out);
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
  const bool bool_output_;
  const UnaryFn fn_;
  const FnTraits params_;
};

template <typename F>
KernelFactory MakeUnary() {
  return [](const KernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
    UnaryFn fn = SelectUnary<F>(dtype);
    if (fn == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat("op \"", c.node().op, "\" does not support ", DataTypeName(dtype),
                       (F::kTypes & kIntegerTypes) != 0
                           ? " (supported: floating and integer types)"
                           : " (supported: DT_FLOAT, DT_DOUBLE, DT_HALF, DT_BFLOAT16)"));
    }
    FnTraits params;
    if constexpr (std::is_same_v<F, LeakyReluFn>) params.alpha = GetFloatAttrOr(c.node(), "alpha", 0.2f);
    return std::make_unique<UnaryKernel>(dtype, F::kBoolOutput, fn, params);
  };
}

absl::Status LogicalNot(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  RETURN_IF_ERROR(ExpectInputDType(ctx, 0, DataType::kBool, "x"));
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.allocate_output(0, DataType::kBool, in.shape());
  const bool* src = in.data<bool>();
  bool* dst = out.data<bool>();
  for (int64_t i = 0; i < in.num_elements(); ++i) dst[i] = !src[i];
  return absl::OkStatus();
}

// ---- Softmax, LogSoftmax ----

// One row: TensorFlow's formula, shifted by the row maximum for stability. Softmax multiplies by
// the reciprocal of the sum; LogSoftmax subtracts the log of the sum.
template <typename S, bool kLog>
void SoftmaxRow(const S* in, S* out, int64_t n, float* scratch) {
  using C = ComputeType<S>;
  C max;
  if constexpr (std::is_same_v<S, float>) {
    max = elementwise::MaxF32(in, n);
  } else {
    max = Load(in[0]);
    for (int64_t i = 1; i < n; ++i) {
      const C v = Load(in[i]);
      if (v > max || v != v) max = v;
    }
  }
  if constexpr (std::is_same_v<S, float>) {
    // The exps land in `out` for Softmax, in the scratch row for LogSoftmax.
    float* e = kLog ? scratch : out;
    const float sum = static_cast<float>(elementwise::ExpShiftSumF32(in, max, e, n));
    if constexpr (kLog) {
      const float log_sum = std::log(sum);
      for (int64_t i = 0; i < n; ++i) out[i] = (in[i] - max) - log_sum;
    } else {
      const float inv = 1.0f / sum;
      elementwise::BinaryF32(elementwise::BinaryOpF32::kMul, out, false, &inv, true, out, n);
    }
  } else {
    C sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(Load(in[i]) - max);
    if constexpr (kLog) {
      const C log_sum = std::log(sum);
      for (int64_t i = 0; i < n; ++i) out[i] = Store<S>((Load(in[i]) - max) - log_sum);
    } else {
      const C inv = C(1) / sum;
      for (int64_t i = 0; i < n; ++i) out[i] = Store<S>(std::exp(Load(in[i]) - max) * inv);
    }
  }
}

template <bool kLog>
absl::Status ComputeSoftmax(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
  const Tensor& in = ctx.input(0);
  if (in.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits must have >= 1 dimension, got ", in.shape().DebugString()));
  }
  Tensor& out = ctx.allocate_output(0, in.dtype(), in.shape());
  const int64_t depth = in.dim(in.rank() - 1);
  if (in.num_elements() == 0) return absl::OkStatus();
  const int64_t rows = in.num_elements() / depth;
  const bool supported = VisitFloatType(in.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* src = in.data<S>();
    S* dst = out.data<S>();
    auto run = [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(kLog && std::is_same_v<S, float> ? depth : 0);
      for (int64_t r = begin; r < end; ++r) {
        SoftmaxRow<S, kLog>(src + r * depth, dst + r * depth, depth, scratch.data());
      }
    };
    if (in.num_elements() < kParallelElements || rows == 1 || ctx.pool().parallelism() == 1) {
      run(0, rows);
    } else {
      ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kParallelElements / 4 / depth), run);
    }
  });
  if (!supported) {
    return absl::InvalidArgumentError(absl::StrCat(
        "logits must be DT_FLOAT, DT_DOUBLE, DT_HALF or DT_BFLOAT16, got ",
        DataTypeName(in.dtype())));
  }
  return absl::OkStatus();
}

// ---- ClipByValue ----

// min(max(x, lo), hi) as TensorFlow evaluates it, x.cwiseMin(hi).cwiseMax(lo): lo wins when
// lo > hi. clip_value_min and clip_value_max are scalars or shaped like x.
absl::Status ClipByValue(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
  const Tensor& x = ctx.input(0);
  const Tensor& lo = ctx.input(1);
  const Tensor& hi = ctx.input(2);
  for (const Tensor* bound : {&lo, &hi}) {
    if (bound->rank() != 0 && bound->shape() != x.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "clip_value_min and clip_value_max must be either scalars or have the same shape as "
          "the input: t ",
          x.shape().DebugString(), ", clip_value_min ", lo.shape().DebugString(),
          ", clip_value_max ", hi.shape().DebugString()));
    }
  }
  for (int i = 1; i < 3; ++i) {
    if (ctx.input(i).dtype() != x.dtype()) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, ": expected ",
                                                     DataTypeName(x.dtype()), " like t, got ",
                                                     DataTypeName(ctx.input(i).dtype())));
    }
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.shape());
  const int64_t n = x.num_elements();
  const bool lo_scalar = lo.rank() == 0;
  const bool hi_scalar = hi.rank() == 0;
  const bool supported = VisitRealType(x.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    using C = ComputeType<S>;
    const S* px = x.data<S>();
    const S* pl = lo.data<S>();
    const S* ph = hi.data<S>();
    S* po = out.data<S>();
    for (int64_t i = 0; i < n; ++i) {
      const C v = Load(px[i]);
      const C l = Load(pl[lo_scalar ? 0 : i]);
      const C h = Load(ph[hi_scalar ? 0 : i]);
      // NaN in x propagates through both comparisons.
      const C m = h < v ? h : v;
      po[i] = Store<S>(m < l ? l : m);
    }
  });
  if (!supported) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClipByValue does not support ", DataTypeName(x.dtype())));
  }
  return absl::OkStatus();
}

// ---- FakeQuantWithMinMaxVars, FakeQuantWithMinMaxArgs ----

// TensorFlow's Nudge (fake_quant_ops_functor.h): the range is moved so that zero is exactly
// representable, then inputs are clamped to it and rounded to the quantization grid.
struct Nudged {
  float min;
  float max;
  float scale;
  float inv_scale;
};

Nudged Nudge(float min, float max, int quant_min, int quant_max) {
  const float quant_min_float = static_cast<float>(quant_min);
  const float quant_max_float = static_cast<float>(quant_max);
  Nudged n;
  n.scale = (max - min) / (quant_max_float - quant_min_float);
  n.inv_scale = (quant_max_float - quant_min_float) / (max - min);
  const float zero_point_from_min = quant_min_float - min / n.scale;
  uint16_t zero_point;
  if (zero_point_from_min < quant_min_float) {
    zero_point = static_cast<uint16_t>(quant_min);
  } else if (zero_point_from_min > quant_max_float) {
    zero_point = static_cast<uint16_t>(quant_max);
  } else {
    zero_point = static_cast<uint16_t>(std::round(zero_point_from_min));
  }
  n.min = (quant_min_float - zero_point) * n.scale;
  n.max = (quant_max_float - zero_point) * n.scale;
  return n;
}

void FakeQuant(const float* in, float* out, int64_t count, float min, float max, int num_bits,
               bool narrow_range) {
  // Both zero: TensorFlow returns zeros (the nudged scale would divide by zero).
  if (min == 0.0f && max == 0.0f) {
    std::fill_n(out, count, 0.0f);
    return;
  }
  const int quant_min = narrow_range ? 1 : 0;
  const int quant_max = (1 << num_bits) - 1;
  const Nudged n = Nudge(min, max, quant_min, quant_max);
  for (int64_t i = 0; i < count; ++i) {
    const float clamped = std::max(std::min(in[i], n.max), n.min);
    const float shifted = clamped - n.min;
    out[i] = std::floor(shifted * n.inv_scale + 0.5f) * n.scale + n.min;
  }
}

absl::Status CheckNumBits(int64_t num_bits) {
  if (num_bits < 2 || num_bits > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_bits is out of range, expected between 2 and 16, was: ", num_bits));
  }
  return absl::OkStatus();
}

class FakeQuantVarsKernel final : public OpKernel {
 public:
  FakeQuantVarsKernel(int num_bits, bool narrow_range)
      : num_bits_(num_bits), narrow_range_(narrow_range) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 0, DataType::kFloat, "inputs"));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 1, DataType::kFloat, "min"));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 2, DataType::kFloat, "max"));
    for (int i = 1; i < 3; ++i) {
      if (ctx.input(i).rank() != 0) {
        return absl::InvalidArgumentError(absl::StrCat(i == 1 ? "`min`" : "`max`",
                                                       " must be rank 0 but is rank ",
                                                       ctx.input(i).rank()));
      }
    }
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, in.shape());
    FakeQuant(in.data<float>(), out.data<float>(), in.num_elements(),
              ctx.input(1).scalar<float>(), ctx.input(2).scalar<float>(), num_bits_,
              narrow_range_);
    return absl::OkStatus();
  }

 private:
  const int num_bits_;
  const bool narrow_range_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateFakeQuantVars(const KernelConstruction& c) {
  const int64_t num_bits = GetIntAttrOr(c.node(), "num_bits", 8);
  RETURN_IF_ERROR(CheckNumBits(num_bits));
  return std::make_unique<FakeQuantVarsKernel>(static_cast<int>(num_bits),
                                               GetBoolAttrOr(c.node(), "narrow_range", false));
}

class FakeQuantArgsKernel final : public OpKernel {
 public:
  FakeQuantArgsKernel(float min, float max, int num_bits, bool narrow_range)
      : min_(min), max_(max), num_bits_(num_bits), narrow_range_(narrow_range) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 1));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 0, DataType::kFloat, "inputs"));
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, in.shape());
    FakeQuant(in.data<float>(), out.data<float>(), in.num_elements(), min_, max_, num_bits_,
              narrow_range_);
    return absl::OkStatus();
  }

 private:
  const float min_;
  const float max_;
  const int num_bits_;
  const bool narrow_range_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateFakeQuantArgs(const KernelConstruction& c) {
  const int64_t num_bits = GetIntAttrOr(c.node(), "num_bits", 8);
  RETURN_IF_ERROR(CheckNumBits(num_bits));
  const float min = GetFloatAttrOr(c.node(), "min", -6.0f);
  const float max = GetFloatAttrOr(c.node(), "max", 6.0f);
  if (!(min < max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min has to be smaller than max, was: ", min, " >= ", max));
  }
  return std::make_unique<FakeQuantArgsKernel>(
      min, max, static_cast<int>(num_bits), GetBoolAttrOr(c.node(), "narrow_range", false));
}

}  // namespace

void RegisterUnaryOps(OpRegistry& registry) {
  registry.Add("Abs", {.factory = MakeUnary<AbsFn>()});
  registry.Add("Atan", {.factory = MakeUnary<AtanFn>()});
  registry.Add("Ceil", {.factory = MakeUnary<CeilFn>()});
  registry.Add("ClipByValue", {.compute = ClipByValue});
  registry.Add("Cos", {.factory = MakeUnary<CosFn>()});
  registry.Add("Elu", {.factory = MakeUnary<EluFn>()});
  registry.Add("Erf", {.factory = MakeUnary<ErfFn>()});
  registry.Add("Exp", {.factory = MakeUnary<ExpFn>()});
  registry.Add("Expm1", {.factory = MakeUnary<Expm1Fn>()});
  registry.Add("FakeQuantWithMinMaxArgs", {.factory = CreateFakeQuantArgs});
  registry.Add("FakeQuantWithMinMaxVars", {.factory = CreateFakeQuantVars});
  registry.Add("Floor", {.factory = MakeUnary<FloorFn>()});
  registry.Add("Inv", {.factory = MakeUnary<ReciprocalFn>()});
  registry.Add("IsFinite", {.factory = MakeUnary<IsFiniteFn>()});
  registry.Add("IsInf", {.factory = MakeUnary<IsInfFn>()});
  registry.Add("IsNan", {.factory = MakeUnary<IsNanFn>()});
  registry.Add("LeakyRelu", {.factory = MakeUnary<LeakyReluFn>()});
  registry.Add("Log", {.factory = MakeUnary<LogFn>()});
  registry.Add("Log1p", {.factory = MakeUnary<Log1pFn>()});
  registry.Add("LogSoftmax", {.compute = ComputeSoftmax<true>});
  registry.Add("LogicalNot", {.compute = LogicalNot});
  registry.Add("Neg", {.factory = MakeUnary<NegFn>()});
  registry.Add("Reciprocal", {.factory = MakeUnary<ReciprocalFn>()});
  registry.Add("Relu", {.factory = MakeUnary<ReluFn>()});
  registry.Add("Relu6", {.factory = MakeUnary<Relu6Fn>()});
  registry.Add("Rint", {.factory = MakeUnary<RintFn>()});
  registry.Add("Round", {.factory = MakeUnary<RoundFn>()});
  registry.Add("Rsqrt", {.factory = MakeUnary<RsqrtFn>()});
  registry.Add("Selu", {.factory = MakeUnary<SeluFn>()});
  registry.Add("Sigmoid", {.factory = MakeUnary<SigmoidFn>()});
  registry.Add("Sign", {.factory = MakeUnary<SignFn>()});
  registry.Add("Sin", {.factory = MakeUnary<SinFn>()});
  registry.Add("Softmax", {.compute = ComputeSoftmax<false>});
  registry.Add("Softplus", {.factory = MakeUnary<SoftplusFn>()});
  registry.Add("Softsign", {.factory = MakeUnary<SoftsignFn>()});
  registry.Add("Sqrt", {.factory = MakeUnary<SqrtFn>()});
  registry.Add("Square", {.factory = MakeUnary<SquareFn>()});
  registry.Add("Tan", {.factory = MakeUnary<TanFn>()});
  registry.Add("Tanh", {.factory = MakeUnary<TanhFn>()});
}

}  // namespace savant::engine
