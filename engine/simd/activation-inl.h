// Per-target vector activations shared by gemm.cc and nn.cc. Included once per Highway target
// (hence the toggle guard instead of #pragma once), inside HWY_BEFORE_NAMESPACE().
#if defined(SAVANT_ENGINE_SIMD_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SAVANT_ENGINE_SIMD_ACTIVATION_INL_H_
#undef SAVANT_ENGINE_SIMD_ACTIVATION_INL_H_
#else
#define SAVANT_ENGINE_SIMD_ACTIVATION_INL_H_
#endif

#include "engine/simd/simd.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace savant::engine::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// erf(x) as Eigen (and so TensorFlow's Erf on CPU) computes it for float: a rational function of
// x clamped to [-4, 4]; absolute error below 1e-7.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  x = hn::Min(hn::Max(x, hn::Set(d, -4.0f)), hn::Set(d, 4.0f));
  const V x2 = hn::Mul(x, x);
  V p = hn::Set(d, -2.72614225801306e-10f);
  p = hn::MulAdd(x2, p, hn::Set(d, 2.77068142495902e-08f));
  p = hn::MulAdd(x2, p, hn::Set(d, -2.10102402082508e-06f));
  p = hn::MulAdd(x2, p, hn::Set(d, -5.69250639462346e-05f));
  p = hn::MulAdd(x2, p, hn::Set(d, -7.34990630326855e-04f));
  p = hn::MulAdd(x2, p, hn::Set(d, -2.95459980854025e-03f));
  p = hn::MulAdd(x2, p, hn::Set(d, -1.60960333262415e-02f));
  p = hn::Mul(x, p);
  V q = hn::Set(d, -1.45660718464996e-05f);
  q = hn::MulAdd(x2, q, hn::Set(d, -2.13374055278905e-04f));
  q = hn::MulAdd(x2, q, hn::Set(d, -1.68282697438203e-03f));
  q = hn::MulAdd(x2, q, hn::Set(d, -7.37332916720468e-03f));
  q = hn::MulAdd(x2, q, hn::Set(d, -1.42647390514189e-02f));
  return hn::Div(p, q);
}

// Loads the first `n` (< Lanes) floats at `p`, zeros elsewhere, never touching memory past p+n.
// Highway's MaskedLoad reads the whole vector on SSE targets, so tails go through a buffer.
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const float* HWY_RESTRICT p, size_t n) {
  HWY_ALIGN float buf[hn::MaxLanes(D())] = {};
  for (size_t i = 0; i < n; ++i) buf[i] = p[i];
  return hn::Load(d, buf);
}

// Stores the first `n` (< Lanes) lanes of `v` to `p`.
template <class D>
HWY_INLINE void StoreTail(D d, hn::Vec<D> v, float* HWY_RESTRICT p, size_t n) {
  HWY_ALIGN float buf[hn::MaxLanes(D())];
  hn::Store(v, d, buf);
  for (size_t i = 0; i < n; ++i) p[i] = buf[i];
}

// A NaN input gives NaN, as TensorFlow's kernels do (x86 min/max would return the other operand,
// and the sigmoid's clamp would turn NaN into 0 or 1).
template <Activation kAct, class D, class V = hn::Vec<D>>
HWY_INLINE V Activate(D d, V x, V alpha) {
  if constexpr (kAct == Activation::kRelu) {
    return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x);
  } else if constexpr (kAct == Activation::kRelu6) {
    const V six = hn::Set(d, 6.0f);
    const V r = hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x);
    return hn::IfThenElse(hn::Gt(r, six), six, r);
  } else if constexpr (kAct == Activation::kElu) {
    const V neg = hn::Expm1(d, hn::Min(x, hn::Zero(d)));
    return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), neg, x);
  } else if constexpr (kAct == Activation::kLeakyRelu) {
    return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(x, alpha), x);
  } else if constexpr (kAct == Activation::kSigmoid) {
    // Clamped so that exp stays finite; sigmoid is 0 or 1 in float beyond +-88 anyway.
    const V t = hn::Min(hn::Max(hn::Neg(x), hn::Set(d, -88.0f)), hn::Set(d, 88.0f));
    const V r = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), hn::Exp(d, t)));
    return hn::IfThenElse(hn::IsNaN(x), x, r);
  } else if constexpr (kAct == Activation::kTanh) {
    return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
  } else if constexpr (kAct == Activation::kGeluApprox) {
    const V x3 = hn::Mul(hn::Mul(x, x), x);
    const V inner =
        hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 0.044715f), x3, x));
    return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), hn::Tanh(d, inner)));
  } else if constexpr (kAct == Activation::kGeluExact) {
    const V e = Erf(d, hn::Mul(x, hn::Set(d, 0.7071067811865476f)));
    return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), e));
  } else {
    (void)d;
    (void)alpha;
    return x;
  }
}

// Calls fn.template operator()<kAct>() for the runtime value `act`, so that loops over many
// vectors are compiled once per activation without a branch inside.
template <class Fn>
HWY_INLINE void WithActivation(Activation act, Fn&& fn) {
  switch (act) {
    case Activation::kNone:
      return fn.template operator()<Activation::kNone>();
    case Activation::kRelu:
      return fn.template operator()<Activation::kRelu>();
    case Activation::kRelu6:
      return fn.template operator()<Activation::kRelu6>();
    case Activation::kElu:
      return fn.template operator()<Activation::kElu>();
    case Activation::kLeakyRelu:
      return fn.template operator()<Activation::kLeakyRelu>();
    case Activation::kSigmoid:
      return fn.template operator()<Activation::kSigmoid>();
    case Activation::kTanh:
      return fn.template operator()<Activation::kTanh>();
    case Activation::kGeluApprox:
      return fn.template operator()<Activation::kGeluApprox>();
    case Activation::kGeluExact:
      return fn.template operator()<Activation::kGeluExact>();
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace savant::engine::simd
HWY_AFTER_NAMESPACE();

#endif  // SAVANT_ENGINE_SIMD_ACTIVATION_INL_H_
