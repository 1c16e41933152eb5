// Vector loops for the hot float32 elementwise kernels (unary_ops.cc, binary_ops.cc): exp, tanh,
// sigmoid, the relu family and the arithmetic binaries. They are written once with Highway and
// compiled for every x86/ARM target Highway knows (foreach_target.h); the best one the CPU supports
// is chosen at the first call (HWY_DYNAMIC_DISPATCH). Each function processes one contiguous span
// and is thread-safe; kernels split large tensors over their pool themselves.
//
// Semantics are TensorFlow's float32 kernels' (documented per op below); accuracy is within a few
// ulps of the libm reference (elementwise_simd_test.cc states the tolerance per op).
#pragma once

#include <cstdint>

namespace savant::engine::elementwise {

enum class UnaryOpF32 : int {
  kNeg,
  kAbs,
  kSquare,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kExp,
  kLog,
  kTanh,
  kSigmoid,    // 1 / (1 + exp(-x)); exp(x) below -9 and 1 above 16.6, like Eigen's logistic
  kRelu,       // x < 0 ? 0 : x (NaN propagates)
  kRelu6,      // min(max(x, 0), 6) (NaN propagates)
  kLeakyRelu,  // x > 0 ? x : alpha * x
  kElu,        // x < 0 ? exp(x) - 1 : x
  kSelu,       // scale * (x < 0 ? alpha * (exp(x) - 1) : x)
  kSoftplus,   // x above -log(eps)-2, exp(x) below log(eps)+2, else log(exp(x) + 1)
  kFloor,
  kCeil,
  kRound,  // half to even (TensorFlow's Round and Rint)
};

enum class BinaryOpF32 : int {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,  // NaN propagates
  kMin,  // NaN propagates
  kSquaredDifference,
};

// out[i] = op(in[i]) for i in [0, n); `alpha` is LeakyRelu's slope. `out` may equal `in`.
void UnaryF32(UnaryOpF32 op, const float* in, float* out, int64_t n, float alpha = 0.0f);

// out[i] = op(a[i], b[i]); with a_scalar (b_scalar) set, a[0] (b[0]) is used for every i. `out`
// may equal `a` or `b`.
void BinaryF32(BinaryOpF32 op, const float* a, bool a_scalar, const float* b, bool b_scalar,
               float* out, int64_t n);

// out[i] = exp(in[i] - shift), returning the sum of the outputs (in double, for softmax rows).
double ExpShiftSumF32(const float* in, float shift, float* out, int64_t n);

// The largest of in[0..n), n >= 1; NaN when any element is NaN (softmax's row maximum, which
// TensorFlow's Eigen reduction propagates).
float MaxF32(const float* in, int64_t n);

// The name of the Highway target the dispatcher picks on this CPU ("AVX2", "SSE4", "EMU128"...).
const char* TargetName();

}  // namespace savant::engine::elementwise
