#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/ops/op_test_util.h"
#include "engine/simd/simd.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeTensor;
using testing::OpTest;

std::vector<float> Iota(int64_t n, float start = 1) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

std::vector<float> Random(int64_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void ExpectNear(const Tensor& t, const Shape& shape, const std::vector<float>& want, double tol) {
  ASSERT_EQ(t.dtype(), DataType::kFloat);
  ASSERT_EQ(t.shape(), shape) << t.DebugString();
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(t.flat<float>()[i], want[i], tol * std::max(1.0f, std::abs(want[i])))
        << "element " << i;
  }
}

struct ConvSpec {
  int64_t n, h, w, c, kh, kw, out_c;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  std::string padding = "VALID";
  std::vector<int64_t> explicit_paddings;  // 8 values for EXPLICIT
  bool depthwise = false;                 // out_c is then the channel multiplier
};

// The reference convolution: TF's definition, one output element at a time.
std::vector<float> NaiveConv(const ConvSpec& s, const std::vector<float>& in,
                             const std::vector<float>& f, Shape* out_shape) {
  auto size = [](int64_t in, int64_t k, int64_t d, int64_t st, const std::string& pad,
                 int64_t pb, int64_t pa, int64_t* before) {
    const int64_t eff = (k - 1) * d + 1;
    if (pad == "VALID") {
      *before = 0;
      return (in - eff + st) / st;
    }
    if (pad == "SAME") {
      const int64_t out = (in + st - 1) / st;
      *before = std::max<int64_t>(0, (out - 1) * st + eff - in) / 2;
      return out;
    }
    *before = pb;
    return (in + pb + pa - eff + st) / st;
  };
  const auto& e = s.explicit_paddings;
  int64_t pt, pl;
  const int64_t oh = size(s.h, s.kh, s.dil_h, s.stride_h, s.padding, e.empty() ? 0 : e[2],
                          e.empty() ? 0 : e[3], &pt);
  const int64_t ow = size(s.w, s.kw, s.dil_w, s.stride_w, s.padding, e.empty() ? 0 : e[4],
                          e.empty() ? 0 : e[5], &pl);
  const int64_t oc = s.depthwise ? s.c * s.out_c : s.out_c;
  *out_shape = Shape{s.n, oh, ow, oc};
  std::vector<float> out(s.n * oh * ow * oc, 0);
  for (int64_t b = 0; b < s.n; ++b) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        for (int64_t o = 0; o < oc; ++o) {
          double sum = 0;
          for (int64_t ky = 0; ky < s.kh; ++ky) {
            for (int64_t kx = 0; kx < s.kw; ++kx) {
              const int64_t iy = y * s.stride_h + ky * s.dil_h - pt;
              const int64_t ix = x * s.stride_w + kx * s.dil_w - pl;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const float* px = &in[((b * s.h + iy) * s.w + ix) * s.c];
              if (s.depthwise) {
                const int64_t c = o / s.out_c, q = o % s.out_c;
                sum += double(px[c]) * f[((ky * s.kw + kx) * s.c + c) * s.out_c + q];
              } else {
                for (int64_t c = 0; c < s.c; ++c) {
                  sum += double(px[c]) * f[((ky * s.kw + kx) * s.c + c) * s.out_c + o];
                }
              }
            }
          }
          out[((b * oh + y) * ow + x) * oc + o] = static_cast<float>(sum);
        }
      }
    }
  }
  return out;
}

OpTest& ConvAttrs(OpTest& t, const ConvSpec& s) {
  t.TypeAttr("T", DataType::kFloat)
      .IntListAttr("strides", {1, s.stride_h, s.stride_w, 1})
      .IntListAttr("dilations", {1, s.dil_h, s.dil_w, 1})
      .StringAttr("padding", s.padding);
  if (!s.explicit_paddings.empty()) t.IntListAttr("explicit_paddings", s.explicit_paddings);
  return t;
}

absl::StatusOr<Tensor> RunConv(const ConvSpec& s, const std::vector<float>& in,
                               const std::vector<float>& f, ThreadPool* pool = nullptr,
                               bool constant_filter = false) {
  OpTest t(s.depthwise ? "DepthwiseConv2dNative" : "Conv2D");
  ConvAttrs(t, s)
      .Input(MakeTensor<float>({s.n, s.h, s.w, s.c}, in))
      .Input(MakeTensor<float>({s.kh, s.kw, s.c, s.out_c}, f))
      .UsePool(pool)
      .ConstantWeights(constant_filter);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// 3x3 filter of ones over a 4x4 image 1..16: each output is the sum of its window.
TEST(Conv2DTest, HandComputedValidAndSame) {
  const std::vector<float> image = Iota(16);
  const std::vector<float> ones(9, 1);
  ConvSpec s{.n = 1, .h = 4, .w = 4, .c = 1, .kh = 3, .kw = 3, .out_c = 1};
  auto valid = RunConv(s, image, ones);
  ASSERT_TRUE(valid.ok()) << valid.status();
  // Windows at (0,0): 1+2+3+5+6+7+9+10+11 = 54; then 63, 90, 99.
  ExpectTensor<float>(*valid, Shape{1, 2, 2, 1}, {54, 63, 90, 99});
  s.padding = "SAME";
  auto same = RunConv(s, image, ones);
  ASSERT_TRUE(same.ok()) << same.status();
  ExpectTensor<float>(*same, Shape{1, 4, 4, 1},
                      {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54});
  // Stride 2 with SAME: out 2x2, pad_needed = (2-1)*2+3-4 = 1, so pad_top = 0: windows start at
  // rows/cols 0 and 2.
  s.stride_h = s.stride_w = 2;
  auto strided = RunConv(s, image, ones);
  ASSERT_TRUE(strided.ok()) << strided.status();
  ExpectTensor<float>(*strided, Shape{1, 2, 2, 1}, {54, 45, 72, 54});
  // Dilation 2, VALID: the effective window is 5x5 > 4, so with SAME the taps at distance 2.
  s = ConvSpec{.n = 1, .h = 4, .w = 4, .c = 1, .kh = 3, .kw = 3, .out_c = 1, .dil_h = 2,
               .dil_w = 2, .padding = "SAME"};
  auto dilated = RunConv(s, image, ones);
  ASSERT_TRUE(dilated.ok()) << dilated.status();
  // Effective 5x5, pad 2 each side. Output (0,0) sees rows {-2,0,2} x cols {-2,0,2}: 1+3+9+11.
  EXPECT_FLOAT_EQ(dilated->flat<float>()[0], 24);
  EXPECT_FLOAT_EQ(dilated->flat<float>()[5], 6 + 8 + 14 + 16);
}

TEST(Conv2DTest, MatchesReferenceAcrossGeometries) {
  ThreadPool pool(2);
  std::vector<ConvSpec> specs = {
      {.n = 2, .h = 7, .w = 6, .c = 3, .kh = 3, .kw = 3, .out_c = 5, .padding = "SAME"},
      {.n = 1, .h = 9, .w = 9, .c = 4, .kh = 3, .kw = 2, .out_c = 33, .stride_h = 2, .stride_w = 3},
      {.n = 1, .h = 8, .w = 8, .c = 2, .kh = 3, .kw = 3, .out_c = 4, .dil_h = 2, .dil_w = 3, .padding = "SAME"},
      {.n = 1, .h = 5, .w = 5, .c = 3, .kh = 3, .kw = 3, .out_c = 2, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 1, 2, 0, 3, 0, 0}},
      {.n = 3, .h = 6, .w = 5, .c = 16, .kh = 1, .kw = 1, .out_c = 40},  // pointwise: no im2col
      {.n = 1, .h = 28, .w = 28, .c = 8, .kh = 3, .kw = 3, .out_c = 64},  // many im2col blocks
      // Filter rows wider than the image: taps clipped on both sides of one window.
      {.n = 1, .h = 3, .w = 2, .c = 3, .kh = 3, .kw = 5, .out_c = 7, .padding = "SAME"},
      // Windows entirely inside the left padding (every tap of the filter row is zero).
      {.n = 2, .h = 3, .w = 3, .c = 2, .kh = 1, .kw = 2, .out_c = 3, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 0, 0, 4, 0, 0, 0}},
      // kw * in_c >= 32: the im2col-free row path (a sum of per-filter-row GEMMs).
      {.n = 2, .h = 7, .w = 6, .c = 16, .kh = 3, .kw = 3, .out_c = 5, .padding = "SAME"},
      {.n = 1, .h = 9, .w = 9, .c = 32, .kh = 3, .kw = 2, .out_c = 33, .stride_h = 2, .stride_w = 3},
      {.n = 1, .h = 5, .w = 5, .c = 16, .kh = 3, .kw = 3, .out_c = 40, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 1, 2, 0, 3, 0, 0}},
      {.n = 1, .h = 3, .w = 3, .c = 32, .kh = 1, .kw = 2, .out_c = 3, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 0, 0, 4, 0, 0, 0}},
      {.n = 1, .h = 8, .w = 8, .c = 16, .kh = 3, .kw = 3, .out_c = 4, .dil_h = 2, .padding = "SAME"},
      // Output rows whose taps all fall in the top padding.
      {.n = 1, .h = 2, .w = 4, .c = 32, .kh = 2, .kw = 1, .out_c = 2, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 3, 0, 0, 0, 0, 0}},
      {.n = 2, .h = 26, .w = 26, .c = 32, .kh = 3, .kw = 3, .out_c = 64},  // the MNIST CNN's 2nd
      // 3x3 stride 1 with >= 16 channels: Winograd F(2x2, 3x3) with a constant filter. Odd output
      // sizes (half-empty edge tiles), SAME and EXPLICIT borders, one tile, half a tile.
      {.n = 2, .h = 7, .w = 6, .c = 16, .kh = 3, .kw = 3, .out_c = 16, .padding = "SAME"},
      {.n = 1, .h = 9, .w = 8, .c = 17, .kh = 3, .kw = 3, .out_c = 33, .padding = "SAME"},
      {.n = 3, .h = 8, .w = 11, .c = 24, .kh = 3, .kw = 3, .out_c = 20},
      {.n = 1, .h = 6, .w = 5, .c = 16, .kh = 3, .kw = 3, .out_c = 16, .padding = "EXPLICIT",
       .explicit_paddings = {0, 0, 2, 1, 0, 3, 0, 0}},
      {.n = 1, .h = 4, .w = 4, .c = 16, .kh = 3, .kw = 3, .out_c = 16},
      {.n = 2, .h = 3, .w = 3, .c = 48, .kh = 3, .kw = 3, .out_c = 16},
      // Many tiles over the batch: blocks of tiles that span images.
      {.n = 5, .h = 13, .w = 12, .c = 16, .kh = 3, .kw = 3, .out_c = 40, .padding = "SAME"},
  };
  for (const ConvSpec& s : specs) {
    const auto in = Random(s.n * s.h * s.w * s.c, 1), f = Random(s.kh * s.kw * s.c * s.out_c, 2);
    Shape shape;
    const auto want = NaiveConv(s, in, f, &shape);
    for (bool constant_filter : {false, true}) {
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        SCOPED_TRACE(absl::StrCat("c=", s.c, " out_c=", s.out_c, " ", s.padding, " constant filter ",
                                  constant_filter, " pool ", p != nullptr));
        auto got = RunConv(s, in, f, p, constant_filter);
        ASSERT_TRUE(got.ok()) << got.status();
        ExpectNear(*got, shape, want, 1e-5);
      }
    }
  }
}

// The Keras CNN's Conv2D + MaxPooling2D fused (engine/fusion.h), with constant weights as a loaded
// model has them: against the reference convolution, bias, ReLU and a 2x2 max pool. With 16 or
// more channels the convolution runs by Winograd and pools each output tile; odd convolution
// outputs leave a row and column that VALID pooling drops.
TEST(ConvMaxPoolTest, MatchesConvolutionBiasReluPool) {
  ThreadPool pool(2);
  for (const ConvSpec& s : std::vector<ConvSpec>{
           {.n = 2, .h = 12, .w = 12, .c = 32, .kh = 3, .kw = 3, .out_c = 64},
           {.n = 3, .h = 9, .w = 8, .c = 16, .kh = 3, .kw = 3, .out_c = 20},  // conv 7x6
           {.n = 1, .h = 8, .w = 7, .c = 17, .kh = 3, .kw = 3, .out_c = 16, .padding = "SAME"},
           {.n = 2, .h = 10, .w = 10, .c = 4, .kh = 3, .kw = 3, .out_c = 8}}) {  // direct
    SCOPED_TRACE(absl::StrCat("c=", s.c, " out_c=", s.out_c, " ", s.padding));
    const auto in = Random(s.n * s.h * s.w * s.c, 21), f = Random(s.kh * s.kw * s.c * s.out_c, 22);
    const auto bias = Random(s.out_c, 23);
    Shape conv_shape;
    const auto conv = NaiveConv(s, in, f, &conv_shape);
    const int64_t oh = conv_shape.dim(1), ow = conv_shape.dim(2), oc = s.out_c;
    const int64_t ph = oh / 2, pw = ow / 2;
    std::vector<float> want;
    for (int64_t b = 0; b < s.n; ++b) {
      for (int64_t y = 0; y < ph; ++y) {
        for (int64_t x = 0; x < pw; ++x) {
          for (int64_t o = 0; o < oc; ++o) {
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t dy = 0; dy < 2; ++dy) {
              for (int64_t dx = 0; dx < 2; ++dx) {
                const float v = conv[((b * oh + 2 * y + dy) * ow + 2 * x + dx) * oc + o] + bias[o];
                m = std::max(m, std::max(v, 0.0f));
              }
            }
            want.push_back(m);
          }
        }
      }
    }
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      OpTest t("_SavantConv2DMaxPool");
      ConvAttrs(t, s).Input(MakeTensor<float>({s.n, s.h, s.w, s.c}, in))
          .Input(MakeTensor<float>({s.kh, s.kw, s.c, s.out_c}, f))
          .Input(MakeTensor<float>({oc}, bias))
          .IntAttr("num_args", 1)
          .IntListAttr("pool/ksize", {1, 2, 2, 1})
          .IntListAttr("pool/strides", {1, 2, 2, 1})
          .StringAttr("pool/padding", "VALID")
          .TypeAttr("pool/T", DataType::kFloat)
          .UsePool(p)
          .ConstantWeights();
      tensorflow::AttrValue list;
      list.mutable_list()->add_s("BiasAdd");
      list.mutable_list()->add_s("Relu");
      t.Attr("fused_ops", list);
      auto out = t.Run();
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectNear((*out)[0], Shape{s.n, ph, pw, oc}, want, 1e-5);
    }
  }
}

TEST(Conv2DTest, RejectsNchwAndBadShapes) {
  OpTest nchw("Conv2D");
  nchw.TypeAttr("T", DataType::kFloat)
      .IntListAttr("strides", {1, 1, 1, 1})
      .StringAttr("padding", "VALID")
      .StringAttr("data_format", "NCHW");
  ExpectError(nchw.Build(), absl::StatusCode::kUnimplemented, "only supports the NHWC");
  ConvSpec s{.n = 1, .h = 1, .w = 1, .c = 1, .kh = 3, .kw = 3, .out_c = 1};
  ExpectError(RunConv(s, Iota(1), Iota(9)).status(), absl::StatusCode::kInvalidArgument,
              "Computed output size would be negative");
  // A window exactly one larger than the input gives an empty output, not an error.
  s.h = s.w = 2;
  auto empty = RunConv(s, Iota(4), Iota(9));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->shape(), (Shape{1, 0, 0, 1}));
  OpTest depth("Conv2D");
  ConvAttrs(depth, ConvSpec{.n = 1, .h = 2, .w = 2, .c = 2, .kh = 1, .kw = 1, .out_c = 1})
      .Input(MakeTensor<float>({1, 2, 2, 2}, Iota(8)))
      .Input(MakeTensor<float>({1, 1, 3, 1}, Iota(3)));
  ExpectError(depth.Run().status(), absl::StatusCode::kInvalidArgument, "2 vs 3");
}

TEST(Conv2DTest, DoubleUsesReferenceLoop) {
  const std::vector<float> ramp = Iota(16);
  const std::vector<double> image(ramp.begin(), ramp.end());
  OpTest t("Conv2D");
  t.TypeAttr("T", DataType::kDouble)
      .IntListAttr("strides", {1, 1, 1, 1})
      .StringAttr("padding", "VALID")
      .Input(MakeTensor<double>({1, 4, 4, 1}, image))
      .Input(MakeTensor<double>({3, 3, 1, 1}, std::vector<double>(9, 1.0)));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<double>((*out)[0], Shape{1, 2, 2, 1}, {54, 63, 90, 99});
}

TEST(DepthwiseConv2dTest, MatchesReferenceWithMultiplierStridesAndPadding) {
  ThreadPool pool(2);
  std::vector<ConvSpec> specs = {
      {.n = 2, .h = 6, .w = 7, .c = 19, .kh = 3, .kw = 3, .out_c = 1, .padding = "SAME", .depthwise = true},
      {.n = 1, .h = 9, .w = 8, .c = 32, .kh = 3, .kw = 3, .out_c = 1, .stride_h = 2, .stride_w = 2,
       .padding = "SAME", .depthwise = true},
      {.n = 1, .h = 7, .w = 7, .c = 5, .kh = 3, .kw = 2, .out_c = 3, .dil_h = 2, .padding = "VALID",
       .depthwise = true},
  };
  for (const ConvSpec& s : specs) {
    const auto in = Random(s.n * s.h * s.w * s.c, 3), f = Random(s.kh * s.kw * s.c * s.out_c, 4);
    Shape shape;
    const auto want = NaiveConv(s, in, f, &shape);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      auto got = RunConv(s, in, f, p);
      ASSERT_TRUE(got.ok()) << got.status();
      ExpectNear(*got, shape, want, 1e-5);
    }
  }
}

TEST(Conv2DBackpropInputTest, IsTheAdjointOfConv2D) {
  // <conv(x), g> == <x, conv_backprop_input(g)> for every x, g.
  for (const std::string padding : {"VALID", "SAME"}) {
    ConvSpec s{.n = 2, .h = 7, .w = 6, .c = 3, .kh = 3, .kw = 3, .out_c = 4, .stride_h = 2,
               .stride_w = 2, .padding = padding};
    const auto x = Random(s.n * s.h * s.w * s.c, 5), f = Random(s.kh * s.kw * s.c * s.out_c, 6);
    Shape out_shape;
    const auto y = NaiveConv(s, x, f, &out_shape);
    const auto g = Random(out_shape.num_elements(), 7);
    OpTest t("Conv2DBackpropInput");
    t.TypeAttr("T", DataType::kFloat)
        .IntListAttr("strides", {1, 2, 2, 1})
        .StringAttr("padding", padding)
        .Input(MakeTensor<int32_t>({4}, {2, 7, 6, 3}))
        .Input(MakeTensor<float>({3, 3, 3, 4}, f))
        .Input(MakeTensor<float>(out_shape, g));
    auto dx = t.Run();
    ASSERT_TRUE(dx.ok()) << dx.status();
    ASSERT_EQ((*dx)[0].shape(), (Shape{2, 7, 6, 3}));
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < y.size(); ++i) lhs += double(y[i]) * g[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * (*dx)[0].flat<float>()[i];
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::abs(lhs)) << padding;
  }
}

absl::StatusOr<Tensor> RunPool(const std::string& op, const Tensor& in, int64_t k, int64_t stride,
                               const std::string& padding) {
  OpTest t(op);
  t.TypeAttr("T", in.dtype())
      .IntListAttr("ksize", {1, k, k, 1})
      .IntListAttr("strides", {1, stride, stride, 1})
      .StringAttr("padding", padding)
      .Input(in);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

TEST(PoolTest, HandComputedMaxAndAvgWithPadding) {
  const Tensor image = MakeTensor<float>({1, 3, 3, 1}, Iota(9));  // 1..9
  auto max_valid = RunPool("MaxPool", image, 2, 1, "VALID");
  ASSERT_TRUE(max_valid.ok()) << max_valid.status();
  ExpectTensor<float>(*max_valid, Shape{1, 2, 2, 1}, {5, 6, 8, 9});
  // SAME 2x2 stride 2 on 3x3: out 2x2, pad_needed = 1, pad_top = 0. The last row/col windows are
  // half padding: AvgPool divides by the 2 (or 1) valid elements, not by 4.
  auto avg_same = RunPool("AvgPool", image, 2, 2, "SAME");
  ASSERT_TRUE(avg_same.ok()) << avg_same.status();
  ExpectTensor<float>(*avg_same, Shape{1, 2, 2, 1}, {3, 4.5f, 7.5f, 9});
  auto max_same = RunPool("MaxPool", image, 2, 2, "SAME");
  ASSERT_TRUE(max_same.ok());
  ExpectTensor<float>(*max_same, Shape{1, 2, 2, 1}, {5, 6, 8, 9});
  // 3x3 SAME stride 1: the corner window holds 4 valid elements (1,2,4,5).
  auto avg3 = RunPool("AvgPool", image, 3, 1, "SAME");
  ASSERT_TRUE(avg3.ok());
  EXPECT_FLOAT_EQ(avg3->flat<float>()[0], 3);
  EXPECT_FLOAT_EQ(avg3->flat<float>()[4], 5);
  // Double and multi-channel.
  auto dbl = RunPool("AvgPool", MakeTensor<double>({1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40}), 2, 2,
                     "VALID");
  ASSERT_TRUE(dbl.ok());
  ExpectTensor<double>(*dbl, Shape{1, 1, 1, 2}, {2.5, 25});
}

TEST(PoolTest, RejectsBatchWindows) {
  OpTest t("MaxPool");
  t.TypeAttr("T", DataType::kFloat)
      .IntListAttr("ksize", {2, 1, 1, 1})
      .IntListAttr("strides", {1, 1, 1, 1})
      .StringAttr("padding", "VALID");
  ExpectError(t.Build(), absl::StatusCode::kUnimplemented, "batch dimension");
}

TEST(BiasAddTest, NhwcNchwAndErrors) {
  OpTest t("BiasAdd");
  t.TypeAttr("T", DataType::kFloat)
      .Input(MakeTensor<float>({2, 3}, Iota(6)))
      .Input(MakeTensor<float>({3}, {10, 20, 30}));
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{2, 3}, {11, 22, 33, 14, 25, 36});
  OpTest nchw("BiasAdd");
  nchw.TypeAttr("T", DataType::kFloat)
      .StringAttr("data_format", "NCHW")
      .Input(MakeTensor<float>({1, 2, 2, 1}, {1, 2, 3, 4}))
      .Input(MakeTensor<float>({2}, {10, 20}));
  auto o2 = nchw.Run();
  ASSERT_TRUE(o2.ok()) << o2.status();
  ExpectTensor<float>((*o2)[0], Shape{1, 2, 2, 1}, {11, 12, 23, 24});
  OpTest bad("BiasAdd");
  bad.TypeAttr("T", DataType::kFloat)
      .Input(MakeTensor<float>({2, 3}, Iota(6)))
      .Input(MakeTensor<float>({2}, {1, 2}));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument,
              "Must provide as many biases as the last dimension of the input tensor: [2] vs. [2,3]");
  OpTest i32("BiasAdd");
  i32.TypeAttr("T", DataType::kInt32)
      .Input(MakeTensor<int32_t>({1, 2}, {1, 2}))
      .Input(MakeTensor<int32_t>({2}, {5, 6}));
  auto o3 = i32.Run();
  ASSERT_TRUE(o3.ok());
  ExpectTensor<int32_t>((*o3)[0], Shape{1, 2}, {6, 8});
}

TEST(FusedBatchNormTest, InferenceFormulaAndExtraOutputs) {
  // y = (x - mean) / sqrt(var + eps) * scale + offset, per channel.
  OpTest t("FusedBatchNormV3");
  t.TypeAttr("T", DataType::kFloat)
      .TypeAttr("U", DataType::kFloat)
      .FloatAttr("epsilon", 0.001f)
      .BoolAttr("is_training", false)
      .Input(MakeTensor<float>({1, 1, 2, 2}, {1, 2, 3, 4}))
      .Input(MakeTensor<float>({2}, {2, 0.5f}))   // scale
      .Input(MakeTensor<float>({2}, {1, -1}))     // offset
      .Input(MakeTensor<float>({2}, {2, 3}))      // mean
      .Input(MakeTensor<float>({2}, {4, 0.25f}));  // variance
  auto out = t.Run(6);
  ASSERT_TRUE(out.ok()) << out.status();
  const float s0 = 2 / std::sqrt(4.001f), s1 = 0.5f / std::sqrt(0.251f);
  ExpectNear((*out)[0], Shape{1, 1, 2, 2},
             {(1 - 2) * s0 + 1, (2 - 3) * s1 - 1, (3 - 2) * s0 + 1, (4 - 3) * s1 - 1}, 1e-6);
  ExpectTensor<float>((*out)[1], Shape{2}, {2, 3});
  ExpectTensor<float>((*out)[2], Shape{2}, {4, 0.25f});
  EXPECT_EQ((*out)[5].shape(), Shape{});
}

TEST(FusedBatchNormTest, TrainingUsesBatchStatistics) {
  OpTest t("FusedBatchNorm");
  t.TypeAttr("T", DataType::kFloat)
      .FloatAttr("epsilon", 0)
      .BoolAttr("is_training", true)
      .Input(MakeTensor<float>({4, 1, 1, 1}, {1, 2, 3, 6}))
      .Input(MakeTensor<float>({1}, {1}))
      .Input(MakeTensor<float>({1}, {0}))
      .Input(MakeTensor<float>({0}, {}))
      .Input(MakeTensor<float>({0}, {}));
  auto out = t.Run(5);
  ASSERT_TRUE(out.ok()) << out.status();
  // mean 3, biased variance (4+1+0+9)/4 = 3.5, unbiased 14/3.
  const float sd = std::sqrt(3.5f);
  ExpectNear((*out)[0], Shape{4, 1, 1, 1}, {-2 / sd, -1 / sd, 0, 3 / sd}, 1e-6);
  ExpectNear((*out)[1], Shape{1}, {3}, 1e-6);
  ExpectNear((*out)[2], Shape{1}, {14.0f / 3}, 1e-6);
}

// Fused kernels against the unfused ops: conv, then bias or batch norm, then activation.
class FusedConvTest : public ::testing::TestWithParam<bool> {};

TEST_P(FusedConvTest, FusedEqualsUnfused) {
  const bool depthwise = GetParam();
  // kw * c >= 32: the regular convolution takes the im2col-free row path.
  ConvSpec s{.n = 2, .h = 9, .w = 8, .c = 12, .kh = 3, .kw = 3, .out_c = depthwise ? 1 : 20,
             .stride_h = 2, .stride_w = 1, .padding = "SAME", .depthwise = depthwise};
  const int64_t oc = depthwise ? s.c : s.out_c;
  const auto in = Random(s.n * s.h * s.w * s.c, 8), f = Random(s.kh * s.kw * s.c * s.out_c, 9);
  const auto bias = Random(oc, 10), scale = Random(oc, 11, 0.5f, 2), offset = Random(oc, 12);
  const auto mean = Random(oc, 13), var = Random(oc, 14, 0.1f, 3);
  Shape shape;
  const auto conv = NaiveConv(s, in, f, &shape);
  const float eps = 0.001f;
  for (const std::vector<std::string>& ops :
       std::vector<std::vector<std::string>>{{"BiasAdd"}, {"BiasAdd", "Relu"}, {"BiasAdd", "Relu6"},
                                             {"FusedBatchNorm"}, {"FusedBatchNorm", "Relu6"},
                                             {"BiasAdd", "Elu"}, {"BiasAdd", "LeakyRelu"}}) {
    SCOPED_TRACE(ops.back());
    OpTest t(depthwise ? "_FusedDepthwiseConv2dNative" : "_FusedConv2D");
    ConvAttrs(t, s).Input(MakeTensor<float>({s.n, s.h, s.w, s.c}, in))
        .Input(MakeTensor<float>({s.kh, s.kw, s.c, s.out_c}, f));
    tensorflow::AttrValue list;
    for (const auto& op : ops) list.mutable_list()->add_s(op);
    t.Attr("fused_ops", list).FloatAttr("epsilon", eps).FloatAttr("leakyrelu_alpha", 0.1f);
    std::vector<float> want = conv;
    if (ops[0] == "BiasAdd") {
      t.IntAttr("num_args", 1).Input(MakeTensor<float>({oc}, bias));
      for (size_t i = 0; i < want.size(); ++i) want[i] += bias[i % oc];
    } else {
      t.IntAttr("num_args", 4)
          .Input(MakeTensor<float>({oc}, scale))
          .Input(MakeTensor<float>({oc}, offset))
          .Input(MakeTensor<float>({oc}, mean))
          .Input(MakeTensor<float>({oc}, var));
      for (size_t i = 0; i < want.size(); ++i) {
        const int64_t c = i % oc;
        want[i] = (want[i] - mean[c]) / std::sqrt(var[c] + eps) * scale[c] + offset[c];
      }
    }
    for (float& v : want) {
      if (ops.size() > 1 && ops[1] == "Relu") v = std::max(v, 0.0f);
      if (ops.size() > 1 && ops[1] == "Relu6") v = std::min(std::max(v, 0.0f), 6.0f);
      if (ops.size() > 1 && ops[1] == "Elu") v = v < 0 ? std::expm1(v) : v;
      if (ops.size() > 1 && ops[1] == "LeakyRelu") v = v < 0 ? 0.1f * v : v;
    }
    auto out = t.Run();
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], shape, want, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(ConvAndDepthwise, FusedConvTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Depthwise" : "Conv2D"; });

TEST(FusedConvTest, RejectsUnsupportedFusedOps) {
  OpTest t("_FusedConv2D");
  tensorflow::AttrValue list;
  list.mutable_list()->add_s("Relu");
  ConvAttrs(t, ConvSpec{.n = 1, .h = 1, .w = 1, .c = 1, .kh = 1, .kw = 1, .out_c = 1})
      .Attr("fused_ops", list);
  ExpectError(t.Build(), absl::StatusCode::kUnimplemented, "fused_ops [Relu]");
}

}  // namespace
}  // namespace savant::engine
