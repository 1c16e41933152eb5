// Highway implementation of elementwise_simd.h. This file is compiled once per target by
// hwy/foreach_target.h (each pass re-includes it with another HWY_NAMESPACE and function-level
// target attributes, so no ISA flags are needed); the HWY_ONCE section holds the dispatchers.
//
// Every loop handles full vectors first, then the tail one lane at a time with a one-lane
// descriptor, so a tail element goes through the same polynomial as the body: results never
// depend on an element's position.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/ops/elementwise_simd.cc"
#include <cmath>
#include <cstdint>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Order matters: foreach_target.h first, then highway.h and the contrib headers.
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include "engine/ops/elementwise_simd.h"

HWY_BEFORE_NAMESPACE();
namespace savant::engine::elementwise {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp with libm's edge cases: Highway's Exp is valid up to +104 and maps NaN to 0; overflow gives
// +inf and NaN propagates here.
template <class D, class V>
HWY_INLINE V ExpF(D d, V x) {
  const V y = hn::Exp(d, x);
  const V inf = hn::Set(d, HUGE_VALF);
  const V big = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.72283905206835f)), inf, y);
  return hn::IfThenElse(hn::IsNaN(x), x, big);
}

template <class D, class V>
HWY_INLINE V LogF(D d, V x) {
  const V y = hn::Log(d, x);
  const V zero = hn::Zero(d);
  V r = hn::IfThenElse(hn::Eq(x, zero), hn::Set(d, -HUGE_VALF), y);
  r = hn::IfThenElse(hn::Lt(x, zero), hn::Set(d, NAN), r);
  r = hn::IfThenElse(hn::Eq(x, hn::Set(d, HUGE_VALF)), x, r);
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

template <class D, class V>
HWY_INLINE V TanhF(D d, V x) {
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
}

template <class D, class V>
HWY_INLINE V SigmoidF(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V mid = hn::Div(one, hn::Add(one, ExpF(d, hn::Neg(x))));
  V r = hn::IfThenElse(hn::Lt(x, hn::Set(d, -9.0f)), ExpF(d, x), mid);
  r = hn::IfThenElse(hn::Gt(x, hn::Set(d, 16.619047164916992188f)), one, r);
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

// The one-vector body of each unary op.
template <class D, class V>
HWY_INLINE V UnaryVec(UnaryOpF32 op, D d, V x, float alpha) {
  const V zero = hn::Zero(d);
  const V one = hn::Set(d, 1.0f);
  switch (op) {
    case UnaryOpF32::kNeg:
      return hn::Neg(x);
    case UnaryOpF32::kAbs:
      return hn::Abs(x);
    case UnaryOpF32::kSquare:
      return hn::Mul(x, x);
    case UnaryOpF32::kSqrt:
      return hn::Sqrt(x);
    case UnaryOpF32::kRsqrt:
      return hn::Div(one, hn::Sqrt(x));
    case UnaryOpF32::kReciprocal:
      return hn::Div(one, x);
    case UnaryOpF32::kExp:
      return ExpF(d, x);
    case UnaryOpF32::kLog:
      return LogF(d, x);
    case UnaryOpF32::kTanh:
      return TanhF(d, x);
    case UnaryOpF32::kSigmoid:
      return SigmoidF(d, x);
    case UnaryOpF32::kRelu:
      return hn::IfThenElse(hn::Lt(x, zero), zero, x);
    case UnaryOpF32::kRelu6: {
      const V six = hn::Set(d, 6.0f);
      const V lo = hn::IfThenElse(hn::Lt(x, zero), zero, x);
      return hn::IfThenElse(hn::Gt(lo, six), six, lo);
    }
    case UnaryOpF32::kLeakyRelu:
      return hn::IfThenElse(hn::Gt(x, zero), x, hn::Mul(x, hn::Set(d, alpha)));
    case UnaryOpF32::kElu:
      return hn::IfThenElse(hn::Lt(x, zero), hn::Sub(ExpF(d, x), one), x);
    case UnaryOpF32::kSelu: {
      const V scale = hn::Set(d, 1.0507009873554804934193349852946f);
      const V scale_alpha = hn::Set(d, 1.7580993408473768599402175208123f);
      return hn::IfThenElse(hn::Lt(x, zero), hn::Mul(scale_alpha, hn::Sub(ExpF(d, x), one)),
                            hn::Mul(scale, x));
    }
    case UnaryOpF32::kSoftplus: {
      // TensorFlow's thresholds: log(FLT_EPSILON) + 2.
      const float threshold = -13.942385152878742f;
      const V e = ExpF(d, x);
      const V mid = LogF(d, hn::Add(e, one));
      const V r = hn::IfThenElse(hn::Lt(x, hn::Set(d, threshold)), e, mid);
      return hn::IfThenElse(hn::Gt(x, hn::Set(d, -threshold)), x, r);
    }
    case UnaryOpF32::kFloor:
      return hn::Floor(x);
    case UnaryOpF32::kCeil:
      return hn::Ceil(x);
    case UnaryOpF32::kRound:
      return hn::Round(x);
  }
  return x;
}

// The op is a template argument so that UnaryVec's switch folds away inside the loop.
template <UnaryOpF32 kOp>
void UnaryLoop(const float* in, float* out, int64_t n, float alpha) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(UnaryVec(kOp, d, hn::LoadU(d, in + i), alpha), d, out + i);
  }
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) hn::StoreU(UnaryVec(kOp, d1, hn::LoadU(d1, in + i), alpha), d1, out + i);
}

void UnaryF32Impl(UnaryOpF32 op, const float* in, float* out, int64_t n, float alpha) {
  using U = UnaryOpF32;
  switch (op) {
    case U::kNeg: return UnaryLoop<U::kNeg>(in, out, n, alpha);
    case U::kAbs: return UnaryLoop<U::kAbs>(in, out, n, alpha);
    case U::kSquare: return UnaryLoop<U::kSquare>(in, out, n, alpha);
    case U::kSqrt: return UnaryLoop<U::kSqrt>(in, out, n, alpha);
    case U::kRsqrt: return UnaryLoop<U::kRsqrt>(in, out, n, alpha);
    case U::kReciprocal: return UnaryLoop<U::kReciprocal>(in, out, n, alpha);
    case U::kExp: return UnaryLoop<U::kExp>(in, out, n, alpha);
    case U::kLog: return UnaryLoop<U::kLog>(in, out, n, alpha);
    case U::kTanh: return UnaryLoop<U::kTanh>(in, out, n, alpha);
    case U::kSigmoid: return UnaryLoop<U::kSigmoid>(in, out, n, alpha);
    case U::kRelu: return UnaryLoop<U::kRelu>(in, out, n, alpha);
    case U::kRelu6: return UnaryLoop<U::kRelu6>(in, out, n, alpha);
    case U::kLeakyRelu: return UnaryLoop<U::kLeakyRelu>(in, out, n, alpha);
    case U::kElu: return UnaryLoop<U::kElu>(in, out, n, alpha);
    case U::kSelu: return UnaryLoop<U::kSelu>(in, out, n, alpha);
    case U::kSoftplus: return UnaryLoop<U::kSoftplus>(in, out, n, alpha);
    case U::kFloor: return UnaryLoop<U::kFloor>(in, out, n, alpha);
    case U::kCeil: return UnaryLoop<U::kCeil>(in, out, n, alpha);
    case U::kRound: return UnaryLoop<U::kRound>(in, out, n, alpha);
  }
}

template <class D, class V>
HWY_INLINE V BinaryVec(BinaryOpF32 op, D d, V a, V b) {
  (void)d;
  switch (op) {
    case BinaryOpF32::kAdd:
      return hn::Add(a, b);
    case BinaryOpF32::kSub:
      return hn::Sub(a, b);
    case BinaryOpF32::kMul:
      return hn::Mul(a, b);
    case BinaryOpF32::kDiv:
      return hn::Div(a, b);
    case BinaryOpF32::kMax:
      return hn::IfThenElse(hn::Or(hn::IsNaN(a), hn::Gt(a, b)), a, b);
    case BinaryOpF32::kMin:
      return hn::IfThenElse(hn::Or(hn::IsNaN(a), hn::Lt(a, b)), a, b);
    case BinaryOpF32::kSquaredDifference: {
      const V diff = hn::Sub(a, b);
      return hn::Mul(diff, diff);
    }
  }
  return a;
}

template <bool kScalar, class D>
HWY_INLINE auto LoadOperand(D d, const float* p, int64_t i) {
  if constexpr (kScalar) {
    return hn::Set(d, p[0]);
  } else {
    return hn::LoadU(d, p + i);
  }
}

// One instantiation per (op, broadcast form) keeps the loop body branch-free.
template <BinaryOpF32 kOp, bool kAScalar, bool kBScalar>
void BinaryLoop(const float* a, const float* b, float* out, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(BinaryVec(kOp, d, LoadOperand<kAScalar>(d, a, i), LoadOperand<kBScalar>(d, b, i)),
               d, out + i);
  }
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) {
    hn::StoreU(
        BinaryVec(kOp, d1, LoadOperand<kAScalar>(d1, a, i), LoadOperand<kBScalar>(d1, b, i)), d1,
        out + i);
  }
}

template <BinaryOpF32 kOp>
void BinaryForms(const float* a, bool a_scalar, const float* b, bool b_scalar, float* out,
                 int64_t n) {
  if (a_scalar && b_scalar) {
    BinaryLoop<kOp, true, true>(a, b, out, n);
  } else if (a_scalar) {
    BinaryLoop<kOp, true, false>(a, b, out, n);
  } else if (b_scalar) {
    BinaryLoop<kOp, false, true>(a, b, out, n);
  } else {
    BinaryLoop<kOp, false, false>(a, b, out, n);
  }
}

void BinaryF32Impl(BinaryOpF32 op, const float* a, bool a_scalar, const float* b, bool b_scalar,
                   float* out, int64_t n) {
  using B = BinaryOpF32;
  switch (op) {
    case B::kAdd: return BinaryForms<B::kAdd>(a, a_scalar, b, b_scalar, out, n);
    case B::kSub: return BinaryForms<B::kSub>(a, a_scalar, b, b_scalar, out, n);
    case B::kMul: return BinaryForms<B::kMul>(a, a_scalar, b, b_scalar, out, n);
    case B::kDiv: return BinaryForms<B::kDiv>(a, a_scalar, b, b_scalar, out, n);
    case B::kMax: return BinaryForms<B::kMax>(a, a_scalar, b, b_scalar, out, n);
    case B::kMin: return BinaryForms<B::kMin>(a, a_scalar, b, b_scalar, out, n);
    case B::kSquaredDifference:
      return BinaryForms<B::kSquaredDifference>(a, a_scalar, b, b_scalar, out, n);
  }
}

double ExpShiftSumF32Impl(const float* HWY_RESTRICT in, float shift, float* HWY_RESTRICT out,
                          int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vshift = hn::Set(d, shift);
  auto acc = hn::Zero(d);
  // Partial sums in float lanes, flushed to double every 1024 vectors to bound rounding error.
  double sum = 0.0;
  int64_t pending = 0;
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = ExpF(d, hn::Sub(hn::LoadU(d, in + i), vshift));
    hn::StoreU(e, d, out + i);
    acc = hn::Add(acc, e);
    if (++pending == 1024) {
      sum += static_cast<double>(hn::GetLane(hn::SumOfLanes(d, acc)));
      acc = hn::Zero(d);
      pending = 0;
    }
  }
  sum += static_cast<double>(hn::GetLane(hn::SumOfLanes(d, acc)));
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) {
    const auto e = ExpF(d1, hn::Sub(hn::LoadU(d1, in + i), hn::Set(d1, shift)));
    hn::StoreU(e, d1, out + i);
    sum += static_cast<double>(hn::GetLane(e));
  }
  return sum;
}

float MaxF32Impl(const float* HWY_RESTRICT in, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  // Four independent chains; NaNs are tracked separately because Max of a NaN lane is
  // implementation-defined.
  auto m0 = hn::Set(d, -HUGE_VALF), m1 = m0, m2 = m0, m3 = m0;
  auto nan = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto a = hn::LoadU(d, in + i), b = hn::LoadU(d, in + i + lanes);
    const auto c = hn::LoadU(d, in + i + 2 * lanes), e = hn::LoadU(d, in + i + 3 * lanes);
    m0 = hn::Max(m0, a);
    m1 = hn::Max(m1, b);
    m2 = hn::Max(m2, c);
    m3 = hn::Max(m3, e);
    nan = hn::Or(nan, hn::Or(hn::VecFromMask(d, hn::IsNaN(hn::Add(a, b))),
                             hn::VecFromMask(d, hn::IsNaN(hn::Add(c, e)))));
  }
  for (; i + lanes <= n; i += lanes) {
    const auto a = hn::LoadU(d, in + i);
    m0 = hn::Max(m0, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  float best = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
  bool any_nan = !hn::AllFalse(d, hn::MaskFromVec(nan));
  for (; i < n; ++i) {
    any_nan = any_nan || std::isnan(in[i]);
    best = in[i] > best ? in[i] : best;
  }
  return any_nan ? NAN : best;
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace savant::engine::elementwise
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace savant::engine::elementwise {

HWY_EXPORT(UnaryF32Impl);
HWY_EXPORT(BinaryF32Impl);
HWY_EXPORT(ExpShiftSumF32Impl);
HWY_EXPORT(MaxF32Impl);
HWY_EXPORT(TargetNameImpl);

void UnaryF32(UnaryOpF32 op, const float* in, float* out, int64_t n, float alpha) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(UnaryF32Impl)(op, in, out, n, alpha);
}

void BinaryF32(BinaryOpF32 op, const float* a, bool a_scalar, const float* b, bool b_scalar,
               float* out, int64_t n) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(BinaryF32Impl)(op, a, a_scalar, b, b_scalar, out, n);
}

double ExpShiftSumF32(const float* in, float shift, float* out, int64_t n) {
  if (n <= 0) return 0.0;
  return HWY_DYNAMIC_DISPATCH(ExpShiftSumF32Impl)(in, shift, out, n);
}

float MaxF32(const float* in, int64_t n) { return HWY_DYNAMIC_DISPATCH(MaxF32Impl)(in, n); }

const char* TargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace savant::engine::elementwise
#endif  // HWY_ONCE
