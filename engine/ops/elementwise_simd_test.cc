// Runs every Highway loop of elementwise_simd.h on every target this CPU supports (forcing each with
// hwy::SetSupportedTargetsForTest) against a scalar libm reference, at lengths around every vector
// width (0, 1, W-1, W, W+1, 2W, 3W+1 for W = 4, 8, 16) and one large odd length, with special
// values mixed in, and in place. Tolerances are stated per op in ulps.
#include "engine/ops/elementwise_simd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace savant::engine::elementwise {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

std::vector<int64_t> Lengths() {
  std::vector<int64_t> lengths = {0};
  for (int64_t w : {4, 8, 16}) {
    for (int64_t n : {int64_t{1}, w - 1, w, w + 1, 2 * w, 3 * w + 1}) lengths.push_back(n);
  }
  lengths.push_back(1001);
  return lengths;
}

// Distance in units in the last place; NaN matches only NaN, infinities only themselves.
int64_t UlpDistance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  if (a == b) return 0;
  if (std::isinf(a) || std::isinf(b)) return INT64_MAX;
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return std::abs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

// Inputs in [lo, hi] with the special values spread through them.
std::vector<float> Inputs(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  const float specials[] = {0.0f, -0.0f, kNan, kInf, -kInf, 1.0f, -1.0f, 0.5f, -0.5f, 2.5f};
  for (int64_t i = 0; i < n; i += 7) v[i] = specials[(i / 7) % 10];
  return v;
}

struct UnaryCase {
  const char* name;
  UnaryOpF32 op;
  float (*reference)(float);
  int64_t max_ulp;
  float lo, hi;
  // Also accepted: an absolute error this small (formulas like exp(x) - 1 cancel near 0, so their
  // error is a few ulps of 1, not of the result; TensorFlow evaluates the same formulas).
  float abs_tol = 0.0f;
};

float RefSigmoid(float x) {
  if (x < -9.0f) return std::exp(x);
  if (x > 16.619047164916992188f) return 1.0f;
  return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
}
float RefSoftplus(float x) {
  const float threshold = -13.942385152878742f;
  if (x > -threshold) return x;
  if (x < threshold) return std::exp(x);
  return std::log(std::exp(x) + 1.0f);
}
float RefSelu(float x) {
  return x < 0 ? 1.7580993408473768599402175208123f * (std::exp(x) - 1.0f)
               : 1.0507009873554804934193349852946f * x;
}
float RefLeaky(float x) { return x > 0 ? x : x * 0.2f; }

const UnaryCase kUnaryCases[] = {
    {"Neg", UnaryOpF32::kNeg, [](float x) { return -x; }, 0, -100, 100},
    {"Abs", UnaryOpF32::kAbs, [](float x) { return std::fabs(x); }, 0, -100, 100},
    {"Square", UnaryOpF32::kSquare, [](float x) { return x * x; }, 0, -100, 100},
    {"Sqrt", UnaryOpF32::kSqrt, [](float x) { return std::sqrt(x); }, 0, -1, 1000},
    {"Rsqrt", UnaryOpF32::kRsqrt, [](float x) { return 1.0f / std::sqrt(x); }, 1, -1, 1000},
    {"Reciprocal", UnaryOpF32::kReciprocal, [](float x) { return 1.0f / x; }, 0, -100, 100},
    {"Exp", UnaryOpF32::kExp, [](float x) { return std::exp(x); }, 2, -110, 100},
    {"Log", UnaryOpF32::kLog, [](float x) { return std::log(x); }, 4, -1, 1e30f},
    {"Tanh", UnaryOpF32::kTanh, [](float x) { return std::tanh(x); }, 4, -12, 12},
    {"Sigmoid", UnaryOpF32::kSigmoid, RefSigmoid, 4, -30, 30},
    {"Relu", UnaryOpF32::kRelu, [](float x) { return x < 0 ? 0.0f : x; }, 0, -10, 10},
    {"Relu6", UnaryOpF32::kRelu6,
     [](float x) {
       const float lo = x < 0 ? 0.0f : x;
       return lo > 6 ? 6.0f : lo;
     },
     0, -10, 10},
    {"LeakyRelu", UnaryOpF32::kLeakyRelu, RefLeaky, 0, -10, 10},
    {"Elu", UnaryOpF32::kElu, [](float x) { return x < 0 ? std::exp(x) - 1.0f : x; }, 4, -20, 5,
     3e-7f},
    {"Selu", UnaryOpF32::kSelu, RefSelu, 4, -20, 5, 6e-7f},
    {"Softplus", UnaryOpF32::kSoftplus, RefSoftplus, 4, -40, 40, 3e-7f},
    {"Floor", UnaryOpF32::kFloor, [](float x) { return std::floor(x); }, 0, -1e8f, 1e8f},
    {"Ceil", UnaryOpF32::kCeil, [](float x) { return std::ceil(x); }, 0, -1e8f, 1e8f},
    {"Round", UnaryOpF32::kRound, [](float x) { return std::nearbyint(x); }, 0, -20, 20},
};

class ElementwiseSimdTest : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(ElementwiseSimdTest, DispatchesToTheForcedTarget) {
  EXPECT_STREQ(TargetName(), hwy::TargetName(GetParam()));
}

TEST_P(ElementwiseSimdTest, UnaryMatchesScalarReference) {
  for (const UnaryCase& c : kUnaryCases) {
    for (int64_t n : Lengths()) {
      SCOPED_TRACE(std::string(c.name) + " n=" + std::to_string(n));
      const std::vector<float> in = Inputs(n, c.lo, c.hi, static_cast<uint32_t>(n));
      std::vector<float> out(n, 12345.0f);
      UnaryF32(c.op, in.data(), out.data(), n, 0.2f);
      for (int64_t i = 0; i < n; ++i) {
        const float want = c.reference(in[i]);
        const bool close = UlpDistance(out[i], want) <= c.max_ulp ||
                           std::fabs(out[i] - want) <= c.abs_tol;
        ASSERT_TRUE(close) << "x=" << in[i] << " got " << out[i] << " want " << want;
      }
      // In place.
      std::vector<float> inplace = in;
      UnaryF32(c.op, inplace.data(), inplace.data(), n, 0.2f);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(UlpDistance(inplace[i], out[i]), 0);
    }
  }
}

struct BinaryCase {
  const char* name;
  BinaryOpF32 op;
  float (*reference)(float, float);
};

const BinaryCase kBinaryCases[] = {
    {"Add", BinaryOpF32::kAdd, [](float a, float b) { return a + b; }},
    {"Sub", BinaryOpF32::kSub, [](float a, float b) { return a - b; }},
    {"Mul", BinaryOpF32::kMul, [](float a, float b) { return a * b; }},
    {"Div", BinaryOpF32::kDiv, [](float a, float b) { return a / b; }},
    {"Max", BinaryOpF32::kMax, [](float a, float b) { return (a != a || a > b) ? a : b; }},
    {"Min", BinaryOpF32::kMin, [](float a, float b) { return (a != a || a < b) ? a : b; }},
    {"SquaredDifference", BinaryOpF32::kSquaredDifference,
     [](float a, float b) { return (a - b) * (a - b); }},
};

TEST_P(ElementwiseSimdTest, BinaryMatchesScalarReferenceInEveryBroadcastForm) {
  for (const BinaryCase& c : kBinaryCases) {
    for (int64_t n : Lengths()) {
      const std::vector<float> a = Inputs(n, -50, 50, 1 + static_cast<uint32_t>(n));
      const std::vector<float> b = Inputs(n, -50, 50, 2 + static_cast<uint32_t>(n * 3));
      for (int form = 0; form < 4; ++form) {
        const bool a_scalar = form & 1;
        const bool b_scalar = form & 2;
        if (n == 0 && (a_scalar || b_scalar)) continue;
        SCOPED_TRACE(std::string(c.name) + " n=" + std::to_string(n) + " form=" +
                     std::to_string(form));
        std::vector<float> out(n);
        BinaryF32(c.op, a.data(), a_scalar, b.data(), b_scalar, out.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          const float want = c.reference(a[a_scalar ? 0 : i], b[b_scalar ? 0 : i]);
          ASSERT_EQ(UlpDistance(out[i], want), 0) << "got " << out[i] << " want " << want;
        }
      }
      // In place on either operand.
      std::vector<float> x = a, y = b, expected(n);
      BinaryF32(c.op, a.data(), false, b.data(), false, expected.data(), n);
      BinaryF32(c.op, x.data(), false, b.data(), false, x.data(), n);
      BinaryF32(c.op, a.data(), false, y.data(), false, y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(UlpDistance(x[i], expected[i]), 0);
        ASSERT_EQ(UlpDistance(y[i], expected[i]), 0);
      }
    }
  }
}

TEST_P(ElementwiseSimdTest, ExpShiftSumMatchesScalarReference) {
  for (int64_t n : Lengths()) {
    SCOPED_TRACE("n=" + std::to_string(n));
    std::vector<float> in(n);
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::uniform_real_distribution<float> dist(-20, 3);
    for (auto& x : in) x = dist(rng);
    std::vector<float> out(n);
    const double sum = ExpShiftSumF32(in.data(), 3.0f, out.data(), n);
    double want_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float want = std::exp(in[i] - 3.0f);
      ASSERT_LE(UlpDistance(out[i], want), 2) << "x=" << in[i];
      want_sum += want;
    }
    EXPECT_NEAR(sum, want_sum, 1e-6 * std::max(1.0, want_sum));
  }
}

TEST_P(ElementwiseSimdTest, MaxMatchesScalarReferenceAndPropagatesNaN) {
  for (int64_t n : Lengths()) {
    if (n == 0) continue;  // MaxF32 requires n >= 1
    SCOPED_TRACE("n=" + std::to_string(n));
    std::vector<float> in(n);
    std::mt19937 rng(static_cast<uint32_t>(n) + 7);
    std::uniform_real_distribution<float> dist(-50, 50);
    for (auto& x : in) x = dist(rng);
    // The maximum at every position class: first, last, inside the vector body.
    for (int64_t at : {int64_t{0}, n - 1, n / 2}) {
      std::vector<float> v = in;
      v[at] = 1000.0f;
      EXPECT_EQ(MaxF32(v.data(), n), 1000.0f) << "max at " << at;
      v[at] = NAN;
      EXPECT_TRUE(std::isnan(MaxF32(v.data(), n))) << "NaN at " << at;
    }
    std::vector<float> neg(n, -HUGE_VALF);
    EXPECT_EQ(MaxF32(neg.data(), n), -HUGE_VALF);
    EXPECT_EQ(MaxF32(in.data(), n), *std::max_element(in.begin(), in.end()));
  }
}

std::string TargetParamName(const ::testing::TestParamInfo<int64_t>& info) {
  return hwy::TargetName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Targets, ElementwiseSimdTest,
                         ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()),
                         TargetParamName);

}  // namespace
}  // namespace savant::engine::elementwise
