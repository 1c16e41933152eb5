#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "engine/ops/ops.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeTensor;
using testing::OpTest;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

template <typename T>
absl::StatusOr<Tensor> RunUnary(const std::string& op, const Tensor& x, ThreadPool* pool = nullptr,
                                float alpha = -1) {
  OpTest t(op);
  t.TypeAttr("T", x.dtype()).Input(x).UsePool(pool);
  if (alpha >= 0) t.FloatAttr("alpha", alpha);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// Float results within `rel` relative (or 1e-6 absolute) error; NaN must match NaN.
void ExpectNear(const Tensor& t, const std::vector<float>& want, float rel = 1e-6f) {
  ASSERT_EQ(t.dtype(), DataType::kFloat);
  ASSERT_EQ(static_cast<size_t>(t.num_elements()), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const float got = t.flat<float>()[i];
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got)) << "element " << i << " got " << got;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got, want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(got, want[i], std::max(1e-6f, rel * std::fabs(want[i]))) << "element " << i;
    }
  }
}

void ExpectFloatOp(const std::string& op, const std::vector<float>& x,
                   const std::vector<float>& want, float rel = 1e-6f) {
  SCOPED_TRACE(op);
  auto out = RunUnary<float>(op, MakeTensor<float>({static_cast<int64_t>(x.size())}, x));
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear(*out, want, rel);
}

TEST(UnaryOpsTest, FloatFormulas) {
  ExpectFloatOp("Neg", {1, -2, 0}, {-1, 2, 0});
  ExpectFloatOp("Abs", {-1.5f, 2, kNan}, {1.5f, 2, kNan});
  ExpectFloatOp("Sign", {-3, 0, 2, kNan}, {-1, 0, 1, 0});
  ExpectFloatOp("Square", {-3, 0.5f}, {9, 0.25f});
  ExpectFloatOp("Sqrt", {4, 2, -1}, {2, std::sqrt(2.0f), kNan});
  ExpectFloatOp("Rsqrt", {4, 0}, {0.5f, kInf});
  ExpectFloatOp("Reciprocal", {4, -0.5f, 0}, {0.25f, -2, kInf});
  ExpectFloatOp("Inv", {8}, {0.125f});
  ExpectFloatOp("Exp", {0, 1, -kInf, 100, kNan}, {1, std::exp(1.0f), 0, kInf, kNan});
  ExpectFloatOp("Expm1", {0, 1e-10f}, {0, 1e-10f});
  ExpectFloatOp("Log", {1, std::exp(2.0f), 0, -1}, {0, 2, -kInf, kNan});
  ExpectFloatOp("Log1p", {0, 1e-10f}, {0, 1e-10f});
  ExpectFloatOp("Sin", {0, 1}, {0, std::sin(1.0f)});
  ExpectFloatOp("Cos", {0, 1}, {1, std::cos(1.0f)});
  ExpectFloatOp("Tan", {0, 1}, {0, std::tan(1.0f)});
  ExpectFloatOp("Atan", {0, 1}, {0, std::atan(1.0f)});
  ExpectFloatOp("Erf", {0, 0.5f, -3}, {0, std::erf(0.5f), std::erf(-3.0f)});
  ExpectFloatOp("Tanh", {0, 0.5f, 20, -20}, {0, std::tanh(0.5f), 1, -1});
  ExpectFloatOp("Sigmoid", {0, 2, -100, 100}, {0.5f, 1 / (1 + std::exp(-2.0f)), 3.7200760e-44f, 1});
  ExpectFloatOp("Relu", {-1, 0, 3, kNan}, {0, 0, 3, kNan});
  ExpectFloatOp("Relu6", {-1, 3, 7}, {0, 3, 6});
  ExpectFloatOp("Elu", {-1, 2}, {std::exp(-1.0f) - 1, 2});
  ExpectFloatOp("Selu", {-1, 2},
                {1.7580993408473768599402175208123f * (std::exp(-1.0f) - 1),
                 2 * 1.0507009873554804934193349852946f});
  ExpectFloatOp("Softplus", {0, 100, -100}, {std::log(2.0f), 100, std::exp(-100.0f)});
  ExpectFloatOp("Softsign", {1, -3}, {0.5f, -0.75f});
  ExpectFloatOp("Floor", {-1.5f, 1.5f}, {-2, 1});
  ExpectFloatOp("Ceil", {-1.5f, 1.5f}, {-1, 2});
  // Banker's rounding: halves go to the even neighbour.
  ExpectFloatOp("Round", {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f}, {0, 2, 2, -0, -2, 2});
  ExpectFloatOp("Rint", {0.5f, 1.5f, 2.5f, -2.5f}, {0, 2, 2, -2});
}

TEST(UnaryOpsTest, LeakyReluAlpha) {
  auto out = RunUnary<float>("LeakyRelu", MakeTensor<float>({3}, {-2, 0, 3}), nullptr, 0.1f);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear(*out, {-0.2f, 0, 3});
  // TensorFlow's default alpha is 0.2.
  auto def = RunUnary<float>("LeakyRelu", MakeTensor<float>({1}, {-1}));
  ASSERT_TRUE(def.ok());
  ExpectNear(*def, {-0.2f});
}

TEST(UnaryOpsTest, OtherDtypes) {
  auto d = RunUnary<double>("Exp", MakeTensor<double>({2}, {0, 1}));
  ASSERT_TRUE(d.ok());
  ExpectTensor<double>(*d, {2}, {1, std::exp(1.0)});
  auto i = RunUnary<int32_t>("Abs", MakeTensor<int32_t>({3}, {-3, 4, std::numeric_limits<int32_t>::min()}));
  ASSERT_TRUE(i.ok());
  ExpectTensor<int32_t>(*i, {3}, {3, 4, std::numeric_limits<int32_t>::min()});
  auto n = RunUnary<int64_t>("Neg", MakeTensor<int64_t>({2}, {5, -7}));
  ASSERT_TRUE(n.ok());
  ExpectTensor<int64_t>(*n, {2}, {-5, 7});
  auto r = RunUnary<int32_t>("Relu", MakeTensor<int32_t>({2}, {-5, 7}));
  ASSERT_TRUE(r.ok());
  ExpectTensor<int32_t>(*r, {2}, {0, 7});
  auto s = RunUnary<int8_t>("Sign", MakeTensor<int8_t>({3}, {-5, 0, 7}));
  ASSERT_TRUE(s.ok());
  ExpectTensor<int8_t>(*s, {3}, {-1, 0, 1});
  auto sq = RunUnary<int32_t>("Square", MakeTensor<int32_t>({1}, {-9}));
  ASSERT_TRUE(sq.ok());
  ExpectTensor<int32_t>(*sq, {1}, {81});
}

TEST(UnaryOpsTest, HalfAndBFloat16ComputeInFloatAndRound) {
  Tensor h(DataType::kHalf, Shape{2});
  h.data<uint16_t>()[0] = FloatToHalfBits(1.0f);
  h.data<uint16_t>()[1] = FloatToHalfBits(-2.0f);
  auto out = RunUnary<float>("Exp", h);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->dtype(), DataType::kHalf);
  EXPECT_EQ(out->data<uint16_t>()[0], FloatToHalfBits(std::exp(1.0f)));
  EXPECT_EQ(out->data<uint16_t>()[1], FloatToHalfBits(std::exp(-2.0f)));
  Tensor b(DataType::kBFloat16, Shape{1});
  b.data<uint16_t>()[0] = FloatToBFloat16Bits(-3.0f);
  auto relu = RunUnary<float>("Relu", b);
  ASSERT_TRUE(relu.ok());
  EXPECT_EQ(BFloat16BitsToFloat(relu->data<uint16_t>()[0]), 0.0f);
}

TEST(UnaryOpsTest, PredicatesReturnBool) {
  auto nan = RunUnary<float>("IsNan", MakeTensor<float>({3}, {kNan, 1, kInf}));
  ASSERT_TRUE(nan.ok());
  ExpectTensor<bool>(*nan, {3}, {true, false, false});
  auto inf = RunUnary<float>("IsInf", MakeTensor<float>({3}, {kNan, 1, -kInf}));
  ASSERT_TRUE(inf.ok());
  ExpectTensor<bool>(*inf, {3}, {false, false, true});
  auto fin = RunUnary<double>("IsFinite", MakeTensor<double>({2}, {1, kInf}));
  ASSERT_TRUE(fin.ok());
  ExpectTensor<bool>(*fin, {2}, {true, false});
  OpTest t("LogicalNot");
  t.Input(MakeTensor<bool>({2}, {true, false}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok());
  ExpectTensor<bool>((*out)[0], {2}, {false, true});
}

TEST(UnaryOpsTest, EmptyTensorsAndLargeTensorsOnThePool) {
  auto empty = RunUnary<float>("Tanh", MakeTensor<float>({0, 3}, {}));
  ASSERT_TRUE(empty.ok());
  ExpectTensor<float>(*empty, {0, 3}, {});
  ThreadPool pool(2);
  const int64_t n = 100003;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 200) / 10 - 10;
  auto out = RunUnary<float>("Sigmoid", MakeTensor<float>({n}, x), &pool);
  ASSERT_TRUE(out.ok());
  for (int64_t i = 0; i < n; i += 997) {
    EXPECT_NEAR(out->flat<float>()[i], 1 / (1 + std::exp(-x[i])), 1e-6f) << i;
  }
}

TEST(UnaryOpsTest, DtypeErrors) {
  OpTest unsupported("Exp");
  unsupported.TypeAttr("T", DataType::kInt32);
  ExpectError(unsupported.Build(), absl::StatusCode::kUnimplemented, "does not support DT_INT32");
  OpTest mismatch("Relu");
  mismatch.TypeAttr("T", DataType::kFloat).Input(MakeScalar<double>(1));
  ExpectError(mismatch.Run().status(), absl::StatusCode::kInvalidArgument,
              "input 0: expected DT_FLOAT (attr T), got DT_DOUBLE");
}

TEST(UnaryOpsTest, SoftmaxAndLogSoftmaxOverTheLastAxis) {
  OpTest t("Softmax");
  t.TypeAttr("T", DataType::kFloat).Input(MakeTensor<float>({2, 3}, {1, 2, 3, 0, 0, -kInf}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  const float e1 = std::exp(-2.0f), e2 = std::exp(-1.0f);
  const float sum = e1 + e2 + 1;
  ExpectNear((*out)[0], {e1 / sum, e2 / sum, 1 / sum, 0.5f, 0.5f, 0});
  OpTest l("LogSoftmax");
  l.TypeAttr("T", DataType::kFloat).Input(MakeTensor<float>({1, 2}, {0, 0}));
  auto log = l.Run();
  ASSERT_TRUE(log.ok());
  ExpectNear((*log)[0], {-std::log(2.0f), -std::log(2.0f)});
  OpTest d("Softmax");
  d.TypeAttr("T", DataType::kDouble).Input(MakeTensor<double>({2}, {1, 1}));
  auto dbl = d.Run();
  ASSERT_TRUE(dbl.ok());
  ExpectTensor<double>((*dbl)[0], {2}, {0.5, 0.5});
  OpTest scalar("Softmax");
  scalar.TypeAttr("T", DataType::kFloat).Input(MakeScalar<float>(1));
  ExpectError(scalar.Run().status(), absl::StatusCode::kInvalidArgument,
              "logits must have >= 1 dimension, got []");
  OpTest empty("Softmax");
  empty.TypeAttr("T", DataType::kFloat).Input(MakeTensor<float>({2, 0}, {}));
  auto e = empty.Run();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[0].shape(), (Shape{2, 0}));
}

TEST(UnaryOpsTest, ClipByValue) {
  auto run = [](Tensor x, Tensor lo, Tensor hi) {
    OpTest t("ClipByValue");
    t.TypeAttr("T", x.dtype()).Input(x).Input(lo).Input(hi);
    return t.Run();
  };
  auto out = run(MakeTensor<float>({4}, {-5, 0.5f, 5, kNan}), MakeScalar<float>(0),
                 MakeScalar<float>(1));
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], {0, 0.5f, 1, kNan});
  auto shaped = run(MakeTensor<int32_t>({3}, {1, 5, 9}), MakeTensor<int32_t>({3}, {2, 2, 2}),
                    MakeTensor<int32_t>({3}, {3, 4, 10}));
  ASSERT_TRUE(shaped.ok());
  ExpectTensor<int32_t>((*shaped)[0], {3}, {2, 4, 9});
  // lo > hi: lo wins, as in TensorFlow's x.cwiseMin(hi).cwiseMax(lo).
  auto crossed = run(MakeTensor<float>({1}, {3}), MakeScalar<float>(2), MakeScalar<float>(1));
  ASSERT_TRUE(crossed.ok());
  ExpectNear((*crossed)[0], {2});
  auto bad = run(MakeTensor<float>({3}, {1, 2, 3}), MakeTensor<float>({2}, {0, 0}),
                 MakeScalar<float>(1));
  ExpectError(bad.status(), absl::StatusCode::kInvalidArgument, "t [3], clip_value_min [2]");
}

TEST(UnaryOpsTest, FakeQuantWithMinMaxVarsNudgesTheRange) {
  auto run = [](std::vector<float> x, float min, float max, int bits, bool narrow) {
    OpTest t("FakeQuantWithMinMaxVars");
    t.IntAttr("num_bits", bits)
        .BoolAttr("narrow_range", narrow)
        .Input(MakeTensor<float>({static_cast<int64_t>(x.size())}, x))
        .Input(MakeScalar<float>(min))
        .Input(MakeScalar<float>(max));
    return t.Run();
  };
  // [0, 255] with 8 bits: scale 1, zero point 0; values round half up and clamp.
  auto out = run({-1, 0, 0.4f, 0.5f, 254.6f, 300}, 0, 255, 8, false);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], {0, 0, 0, 1, 255, 255});
  // [-0.1, 1.0] with 2 bits: scale 1.1/3, zero point round(0.2727) = 0 -> nudged [0, 1.1].
  auto nudged = run({-0.1f, 0.2f, 0.6f, 2}, -0.1f, 1.0f, 2, false);
  ASSERT_TRUE(nudged.ok());
  const float scale = 1.1f / 3;
  ExpectNear((*nudged)[0], {0, scale, 2 * scale, 3 * scale}, 1e-5f);
  // narrow_range: quant range [1, 3] with 2 bits.
  auto narrow = run({-1, 1}, -1, 1, 2, true);
  ASSERT_TRUE(narrow.ok());
  ExpectNear((*narrow)[0], {-1, 1});
  auto zeros = run({3, -3}, 0, 0, 8, false);
  ASSERT_TRUE(zeros.ok());
  ExpectNear((*zeros)[0], {0, 0});
  OpTest bits("FakeQuantWithMinMaxVars");
  bits.IntAttr("num_bits", 1);
  ExpectError(bits.Build(), absl::StatusCode::kInvalidArgument, "num_bits is out of range");
  OpTest args("FakeQuantWithMinMaxArgs");
  args.FloatAttr("min", 0).FloatAttr("max", 255).Input(MakeTensor<float>({2}, {1.4f, 1.6f}));
  auto a = args.Run();
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectNear((*a)[0], {1, 2});
}

}  // namespace
}  // namespace savant::engine
