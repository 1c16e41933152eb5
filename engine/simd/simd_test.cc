// Every primitive of simd.h on every ISA this host supports, against plain reference loops written
// here. Lengths sweep 0, 1, W-1, W, W+1, 2W, 3W+1 and a large odd size, where W is the ISA's
// vector width in floats; ISAs the host lacks are skipped.
#include "engine/simd/simd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/base/thread_pool.h"
#include "gtest/gtest.h"

namespace savant::engine::simd {
namespace {

int VectorWidth(const std::string& isa) {
  if (isa == "avx512") return 16;
  if (isa == "avx2") return 8;
  return 4;
}

class SimdTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto isas = SupportedIsas();
    if (std::find(isas.begin(), isas.end(), GetParam()) == isas.end()) {
      GTEST_SKIP() << "this CPU does not support " << GetParam();
    }
    ASSERT_TRUE(ForceIsa(GetParam()).ok());
    ASSERT_EQ(CurrentIsa(), GetParam());
  }
  void TearDown() override { ASSERT_TRUE(ForceIsa("best").ok()); }

  std::vector<int64_t> Lengths() const {
    const int64_t w = VectorWidth(GetParam());
    return {0, 1, w - 1, w, w + 1, 2 * w, 3 * w + 1, 1001};
  }
  std::vector<float> Random(int64_t n, float lo = -3, float hi = 3) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng_);
    return v;
  }
  std::mt19937 rng_{1234};
};

INSTANTIATE_TEST_SUITE_P(AllIsas, SimdTest,
                         ::testing::Values("avx512", "avx2", "sse4", "ssse3", "scalar"),
                         [](const auto& info) { return info.param; });

double Reference(Activation act, double x, double alpha) {
  switch (act) {
    case Activation::kNone: return x;
    case Activation::kRelu: return std::max(x, 0.0);
    case Activation::kRelu6: return std::min(std::max(x, 0.0), 6.0);
    case Activation::kElu: return x < 0 ? std::expm1(x) : x;
    case Activation::kLeakyRelu: return x < 0 ? alpha * x : x;
    case Activation::kSigmoid: return 1 / (1 + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kGeluApprox:
      return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case Activation::kGeluExact: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

constexpr Activation kAllActivations[] = {
    Activation::kNone,    Activation::kRelu,  Activation::kRelu6,      Activation::kElu,
    Activation::kLeakyRelu, Activation::kSigmoid, Activation::kTanh, Activation::kGeluApprox,
    Activation::kGeluExact};

// Absolute-or-relative closeness: transcendental approximations are within a few ulp.
void ExpectClose(float got, double want, double tol, const std::string& what) {
  EXPECT_LE(std::abs(got - want), tol * std::max(1.0, std::abs(want))) << what << ": got " << got
                                                                     << " want " << want;
}

TEST_P(SimdTest, ActivationsMatchFormulas) {
  for (Activation act : kAllActivations) {
    for (int64_t n : Lengths()) {
      std::vector<float> x = Random(n, -8, 8);
      if (n > 3) {
        x[0] = 0;
        x[1] = -100;
        x[2] = 100;
      }
      std::vector<float> y = x;
      ApplyActivation(y.data(), n, act, 0.3f);
      for (int64_t i = 0; i < n; ++i) {
        ExpectClose(y[i], Reference(act, x[i], 0.3), 2e-6,
                    "act " + std::to_string(static_cast<int>(act)) + " n " + std::to_string(n));
      }
    }
  }
}

// TensorFlow's activations map NaN to NaN (x86 min/max and a clamped exp would not), and the
// fused epilogues must agree with the standalone ops.
TEST_P(SimdTest, ActivationsPropagateNaN) {
  for (Activation act : kAllActivations) {
    for (int64_t n : Lengths()) {
      std::vector<float> y(n, std::numeric_limits<float>::quiet_NaN());
      ApplyActivation(y.data(), n, act, 0.3f);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isnan(y[i])) << "act " << static_cast<int>(act) << " n " << n << " at "
                                      << i << " gave " << y[i];
      }
    }
  }
}

TEST_P(SimdTest, ChannelAffineAppliesScaleShiftAndActivation) {
  for (int64_t channels : Lengths()) {
    const int64_t rows = 3;
    std::vector<float> x = Random(rows * channels), s = Random(channels), t = Random(channels);
    std::vector<float> out(x.size());
    ChannelAffine(x.data(), rows, channels, s.data(), t.data(), out.data(), Activation::kRelu6, 0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t i = r * channels + c;
        ExpectClose(out[i], std::min(std::max(double(x[i]) * s[c] + t[c], 0.0), 6.0), 1e-6, "affine");
      }
    }
    // Shift only, in place.
    std::vector<float> y = x;
    ChannelAffine(y.data(), rows, channels, nullptr, t.data(), y.data(), Activation::kNone, 0);
    for (int64_t i = 0; i < rows * channels; ++i) {
      ExpectClose(y[i], double(x[i]) + t[i % channels], 1e-6, "bias");
    }
  }
}

TEST_P(SimdTest, AccumulateToDoubleAddsEveryLaneExactly) {
  for (int64_t n : Lengths()) {
    std::vector<float> x = Random(n, -1e6f, 1e6f);
    std::vector<double> acc(n + 1), want(n + 1);
    for (int64_t i = 0; i <= n; ++i) acc[i] = want[i] = 0.1 * static_cast<double>(i);
    for (int64_t i = 0; i < n; ++i) want[i] += static_cast<double>(x[i]);
    AccumulateToDouble(x.data(), n, acc.data());
    // Exact: a float converts to double without rounding, and each lane adds once. The slot past
    // n stays untouched.
    for (int64_t i = 0; i <= n; ++i) ASSERT_EQ(acc[i], want[i]) << "n=" << n << " i=" << i;
  }
}

TEST_P(SimdTest, SumToDoubleMatchesASequentialDoubleSum) {
  for (int64_t n : Lengths()) {
    std::vector<float> x = Random(n, -1e3f, 1e3f);
    double want = 0, abs_sum = 0;
    for (float v : x) {
      want += v;
      abs_sum += std::abs(v);
    }
    // Only the association differs: within a few double ulps of the sum of magnitudes.
    EXPECT_NEAR(SumToDouble(x.data(), n), want, 1e-14 * (abs_sum + 1)) << "n=" << n;
  }
}

TEST_P(SimdTest, GemmMatchesReferenceForAllShapes) {
  const int64_t w = VectorWidth(GetParam());
  ThreadPool pool(1);
  for (int64_t m : {0, 1, 2, 3, 7, 8, 9, 17}) {
    for (int64_t n : {int64_t{0}, int64_t{1}, w - 1, w, w + 1, 2 * w, 3 * w + 1, int64_t{33},
                      int64_t{101}}) {
      for (int64_t k : {0, 1, 5, 64, 129}) {
        for (bool transposed : {false, true}) {
          std::vector<float> a = Random(m * k), b = Random(k * n), bias = Random(n);
          // b holds B [k, n], or B^T [n, k] when transposed.
          PackedMatrix packed(b.data(), transposed ? k : n, transposed, k, n);
          std::vector<float> c(m * n, -7);
          const Activation act = (m + n + k) % 2 ? Activation::kRelu : Activation::kNone;
          Gemm({.m = m, .n = n, .k = k, .a = a.data(), .lda = k, .packed_b = packed.data(),
                .c = c.data(), .ldc = n, .bias = bias.data(), .activation = act},
               m * n * k > 4000 ? &pool : nullptr);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              double sum = bias[j];
              for (int64_t p = 0; p < k; ++p) {
                sum += double(a[i * k + p]) * (transposed ? b[j * k + p] : b[p * n + j]);
              }
              // fp32 accumulation of k products: the standard bound is about k * 2^-24 relative
              // to the sum of |products|; allow a small constant factor over it.
              double abs_sum = std::abs(double(bias[j]));
              for (int64_t p = 0; p < k; ++p) {
                abs_sum += std::abs(double(a[i * k + p]) * (transposed ? b[j * k + p] : b[p * n + j]));
              }
              double tol = std::max(1e-6, 2.0 * (k + 1) * 5.96e-8 * abs_sum);
              ExpectClose(c[i * n + j], Reference(act, sum, 0), tol,
                          "m=" + std::to_string(m) + " n=" + std::to_string(n) +
                              " k=" + std::to_string(k));
            }
          }
        }
      }
    }
  }
}

TEST_P(SimdTest, GemmWithLongPanelsMatchesReference) {
  // Long dot products (k = 1100, as a Dense layer after a Flatten) over several register blocks
  // of rows, with and without accumulate, full and partial panels: the fp32 error bound holds and
  // bias and activation come once, at the end.
  for (bool accumulate : {false, true}) {
    for (int64_t m : {9, 17, 40}) {
      const int64_t k = 1100, n = 45;
      std::vector<float> a = Random(m * k, -1, 1), b = Random(k * n, -1, 1), bias = Random(n),
                         c0 = Random(m * n);
      PackedMatrix packed(b.data(), n, false, k, n);
      std::vector<float> c = c0;
      Gemm({.m = m, .n = n, .k = k, .a = a.data(), .lda = k, .packed_b = packed.data(),
            .c = c.data(), .ldc = n, .bias = bias.data(), .activation = Activation::kRelu,
            .accumulate = accumulate},
           nullptr);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double sum = bias[j] + (accumulate ? c0[i * n + j] : 0.0), abs_sum = std::abs(sum);
          for (int64_t p = 0; p < k; ++p) {
            sum += double(a[i * k + p]) * b[p * n + j];
            abs_sum += std::abs(double(a[i * k + p]) * b[p * n + j]);
          }
          ExpectClose(c[i * n + j], Reference(Activation::kRelu, sum, 0),
                      std::max(1e-6, 2.0 * (k + 1) * 5.96e-8 * abs_sum),
                      "m=" + std::to_string(m) + " accumulate=" + std::to_string(accumulate));
        }
      }
    }
  }
}

TEST_P(SimdTest, GemmAccumulatesIntoC) {
  const int64_t w = VectorWidth(GetParam());
  for (int64_t m : {1, 3, 8, 9, 17}) {
    for (int64_t n : {int64_t{1}, w - 1, w + 1, int64_t{33}, int64_t{101}}) {
      for (int64_t k : {0, 5, 64}) {
        const int64_t ldc = n + 3;  // the columns past n must stay untouched
        std::vector<float> a = Random(m * k), b = Random(k * n), bias = Random(n), c0 = Random(m * ldc);
        PackedMatrix packed(b.data(), n, false, k, n);
        std::vector<float> c = c0;
        Gemm({.m = m, .n = n, .k = k, .a = a.data(), .lda = k, .packed_b = packed.data(),
              .c = c.data(), .ldc = ldc, .bias = bias.data(), .activation = Activation::kRelu,
              .accumulate = true},
             nullptr);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < ldc; ++j) {
            const std::string where = "m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                      " k=" + std::to_string(k) + " at " + std::to_string(i) +
                                      "," + std::to_string(j);
            if (j >= n) {
              ASSERT_EQ(c[i * ldc + j], c0[i * ldc + j]) << where;
              continue;
            }
            double sum = double(c0[i * ldc + j]) + bias[j];
            for (int64_t p = 0; p < k; ++p) sum += double(a[i * k + p]) * b[p * n + j];
            ExpectClose(c[i * ldc + j], Reference(Activation::kRelu, sum, 0), 1e-5, where);
          }
        }
      }
    }
  }
}

TEST_P(SimdTest, GemmHonoursStridesAndLeavesOtherColumnsAlone) {
  // A and C are sub-blocks of wider matrices: lda and ldc exceed k and n.
  const int64_t m = 5, k = 7, n = 19, lda = 11, ldc = 23;
  std::vector<float> a = Random(m * lda), b = Random(k * n);
  PackedMatrix packed(b.data(), n, false, k, n);
  std::vector<float> c(m * ldc, 42);
  Gemm({.m = m, .n = n, .k = k, .a = a.data(), .lda = lda, .packed_b = packed.data(), .c = c.data(),
        .ldc = ldc},
       nullptr);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      if (j >= n) {
        EXPECT_EQ(c[i * ldc + j], 42);
        continue;
      }
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += double(a[i * lda + p]) * b[p * n + j];
      ExpectClose(c[i * ldc + j], sum, 1e-5, "strided");
    }
  }
}

TEST_P(SimdTest, GemmReadsSegmentedRowsInPlace) {
  // Row i of A is `segs` runs of `len` floats, run s at a + i * lda + s * seg_stride: the windows
  // of a convolution read from the input (lda = stride * channels, seg_stride = one input row).
  const int64_t w = VectorWidth(GetParam());
  for (int64_t segs : {1, 2, 3}) {
    for (int64_t len : {int64_t{1}, int64_t{9}, w + 3, int64_t{96}}) {
      for (int64_t m : {1, 2, 8, 9, 23}) {
        for (int64_t n : {int64_t{1}, int64_t{32}, int64_t{45}}) {
          const int64_t lda = len / 2 + 1, seg_stride = m * lda + len + 5, k = segs * len;
          std::vector<float> a = Random(segs * seg_stride + m * lda + len), b = Random(k * n),
                             bias = Random(n);
          PackedMatrix packed(b.data(), n, false, k, n);
          std::vector<float> c(m * n, -7);
          Gemm({.m = m, .n = n, .k = k, .a = a.data(), .lda = lda, .packed_b = packed.data(),
                .c = c.data(), .ldc = n, .bias = bias.data(), .activation = Activation::kRelu6,
                .a_segments = segs, .a_segment_stride = seg_stride},
               nullptr);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              double sum = bias[j], abs_sum = std::abs(double(bias[j]));
              for (int64_t s = 0; s < segs; ++s) {
                for (int64_t q = 0; q < len; ++q) {
                  const double prod = double(a[i * lda + s * seg_stride + q]) * b[(s * len + q) * n + j];
                  sum += prod;
                  abs_sum += std::abs(prod);
                }
              }
              // The fp32 accumulation bound, as in GemmMatchesReferenceForAllShapes.
              const double tol = std::max(1e-6, 2.0 * (k + 1) * 5.96e-8 * abs_sum);
              ExpectClose(c[i * n + j], Reference(Activation::kRelu6, sum, 0), tol,
                          "segs=" + std::to_string(segs) + " len=" + std::to_string(len) +
                              " m=" + std::to_string(m) + " n=" + std::to_string(n));
            }
          }
        }
      }
    }
  }
}

TEST_P(SimdTest, DepthwiseRowMatchesReference) {
  // Rows of 9 and 37 pixels: register strips of 1, 2, 4 and 8 outputs plus the border pixels.
  struct Case {
    int64_t ch, in_w;
    int stride, dilation;
  };
  std::vector<Case> cases;
  for (int64_t ch : Lengths()) {
    for (int64_t in_w : {9, 37}) {
      for (int stride : {1, 2}) {
        for (int dilation : {1, 2}) cases.push_back({ch, in_w, stride, dilation});
      }
    }
  }
  for (const auto& [ch, in_w, stride, dilation] : cases) {
    const int kh = 3, kw = 3;
    const int64_t pad_left = 1;
    const int64_t out_w = (in_w + 2 * pad_left - (kw - 1) * dilation - 1) / stride + 1;
    std::vector<std::vector<float>> rows = {Random(in_w * ch), Random(in_w * ch)};
    const float* in_rows[3] = {rows[0].data(), nullptr, rows[1].data()};
    std::vector<float> filter = Random(kh * kw * ch), bias = Random(ch);
    std::vector<float> out(std::max<int64_t>(out_w, 0) * ch, -9);
    DepthwiseConvRow({.in_rows = in_rows, .in_w = in_w, .channels = ch, .filter = filter.data(),
                      .kh = kh, .kw = kw, .stride_w = stride, .dilation_w = dilation,
                      .pad_left = pad_left, .out_w = out_w, .bias = bias.data(),
                      .activation = Activation::kRelu6, .out = out.data()});
    for (int64_t ox = 0; ox < out_w; ++ox) {
      for (int64_t c = 0; c < ch; ++c) {
        double sum = bias[c];
        for (int ky = 0; ky < kh; ++ky) {
          if (in_rows[ky] == nullptr) continue;
          for (int kx = 0; kx < kw; ++kx) {
            const int64_t ix = ox * stride + kx * dilation - pad_left;
            if (ix < 0 || ix >= in_w) continue;
            sum += double(in_rows[ky][ix * ch + c]) * filter[(ky * kw + kx) * ch + c];
          }
        }
        ExpectClose(out[ox * ch + c], std::min(std::max(sum, 0.0), 6.0), 1e-5,
                    "depthwise ch=" + std::to_string(ch) + " in_w=" + std::to_string(in_w) +
                        " stride=" + std::to_string(stride) + " ox=" + std::to_string(ox));
      }
    }
  }
}

TEST_P(SimdTest, PoolRowsSkipPaddingAndAverageOverValidTaps) {
  for (int64_t ch : Lengths()) {
    const int kh = 2, kw = 3, stride = 2;
    const int64_t in_w = 6, pad_left = 1, out_w = 3;
    std::vector<float> row0 = Random(in_w * ch), row1 = Random(in_w * ch);
    const float* in_rows[2] = {row0.data(), row1.data()};
    std::vector<float> mx(out_w * ch), av(out_w * ch);
    PoolRowParams p{.in_rows = in_rows, .kh = kh, .in_w = in_w, .channels = ch, .kw = kw,
                    .stride_w = stride, .pad_left = pad_left, .out_w = out_w, .out = mx.data()};
    MaxPoolRow(p);
    p.out = av.data();
    AvgPoolRow(p);
    for (int64_t ox = 0; ox < out_w; ++ox) {
      for (int64_t c = 0; c < ch; ++c) {
        double m = -std::numeric_limits<double>::infinity(), s = 0;
        int count = 0;
        for (const float* r : in_rows) {
          for (int kx = 0; kx < kw; ++kx) {
            const int64_t ix = ox * stride + kx - pad_left;
            if (ix < 0 || ix >= in_w) continue;
            m = std::max(m, double(r[ix * ch + c]));
            s += r[ix * ch + c];
            ++count;
          }
        }
        EXPECT_EQ(mx[ox * ch + c], static_cast<float>(m));
        ExpectClose(av[ox * ch + c], s / count, 1e-6, "avg");
      }
    }
  }
}

// Winograd F(2x2, 3x3) on one tile: input transform, the 16 per-plane products by the transformed
// filter (done here in double), output transform; against the direct 3x3 convolution of the 4x4
// input block (its 2x2 VALID outputs), then with bias, ReLU and the 2x2 max pool.
TEST_P(SimdTest, WinogradTileEqualsDirectConvolution) {
  for (int64_t ci : Lengths()) {
    if (ci == 0 || ci > 100) continue;
    const int64_t co = ci + 3;
    SCOPED_TRACE("in_c=" + std::to_string(ci));
    const auto x = Random(16 * ci), f = Random(9 * ci * co, -1, 1), bias = Random(co);
    std::vector<float> u(16 * ci * co);
    WinogradFilter(f.data(), ci, co, u.data());
    const float* rows[4];
    for (int r = 0; r < 4; ++r) rows[r] = x.data() + r * 4 * ci;
    const int64_t v_stride = ci + 5;  // planes need not be contiguous
    std::vector<float> v(16 * v_stride);
    WinogradInputTile(rows, ci, v.data(), v_stride);
    const int64_t m_stride = co + 7;
    std::vector<float> m(16 * m_stride);
    for (int xi = 0; xi < 16; ++xi) {
      for (int64_t o = 0; o < co; ++o) {
        double sum = 0;
        for (int64_t c = 0; c < ci; ++c) sum += double(v[xi * v_stride + c]) * u[xi * ci * co + c * co + o];
        m[xi * m_stride + o] = static_cast<float>(sum);
      }
    }
    std::vector<float> y(4 * co, -1.0f), pooled(co, -1.0f);
    WinogradOutputParams p{.m = m.data(), .m_stride = m_stride, .channels = co};
    for (int k = 0; k < 4; ++k) p.out[k] = y.data() + k * co;
    WinogradOutputTile(p);
    p.bias = bias.data();
    p.activation = Activation::kRelu;
    p.max_pool = true;
    p.out[0] = pooled.data();
    p.out[1] = p.out[2] = p.out[3] = nullptr;
    WinogradOutputTile(p);
    for (int64_t o = 0; o < co; ++o) {
      double best = 0;  // ReLU: the pool of non-negative values is at least 0
      for (int oy = 0; oy < 2; ++oy) {
        for (int ox = 0; ox < 2; ++ox) {
          double sum = 0;
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              for (int64_t c = 0; c < ci; ++c) {
                sum += double(x[((oy + ky) * 4 + ox + kx) * ci + c]) * f[((ky * 3 + kx) * ci + c) * co + o];
              }
            }
          }
          ExpectClose(y[(oy * 2 + ox) * co + o], sum, 1e-5 * std::sqrt(double(ci)),
                      "y" + std::to_string(oy) + std::to_string(ox) + " channel " + std::to_string(o));
          best = std::max(best, sum + bias[o]);
        }
      }
      ExpectClose(pooled[o], best, 1e-5 * std::sqrt(double(ci)), "pooled channel " + std::to_string(o));
    }
  }
}

TEST(SimdIsaTest, ForceIsaRejectsUnknownNamesAndListsAllowed) {
  const absl::Status st = ForceIsa("neon");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("scalar"), absl::string_view::npos) << st;
  EXPECT_EQ(SupportedIsas().back(), "scalar");
  EXPECT_GT(FmaLoop(10), 0);
}

}  // namespace
}  // namespace savant::engine::simd
