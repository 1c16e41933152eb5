// Neural-network ops over NHWC images: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput,
// MaxPool(V2), AvgPool, BiasAdd(V1), FusedBatchNorm(V2,V3), and the fused forms _FusedConv2D and
// _FusedDepthwiseConv2dNative (grappler's, and engine/fusion.cc's).
//
// Convolutions of float run as simd::Gemm with the filter packed once when it is a constant: a
// 1x1 stride-1 convolution is one GEMM over the input as it is, an undilated-column one reads its
// windows in place (RowConv), and only column-dilated ones go through im2col. A batch norm fused after a
// convolution with constant parameters is folded into the packed filter and bias at construction
// (w' = w * scale * rsqrt(var + eps), b' = offset - mean * scale * rsqrt(var + eps)), so inference
// pays nothing for it. Depthwise convolutions and pooling run directly, vectorised over channels.
// double runs on plain reference loops. Window geometry follows TensorFlow's
// GetWindowedOutputSize (kernel_shape_util.cc) for VALID, SAME and EXPLICIT padding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/fusion.h"
#include "engine/kernel.h"
#include "engine/ops/elementwise_simd.h"
#include "engine/ops/ops.h"
#include "engine/simd/simd.h"

namespace savant::engine {
namespace {

using simd::Activation;

enum class Padding { kValid, kSame, kExplicit };

// Output size and leading padding of one spatial dimension (TF's GetWindowedOutputSizeVerbose).
struct Window {
  int64_t out = 0;
  int64_t pad_before = 0;
};

absl::StatusOr<Window> WindowedOutputSize(int64_t in, int64_t k, int64_t dilation, int64_t stride,
                                          Padding padding, int64_t pad_before,
                                          int64_t pad_after) {
  if (stride <= 0) return absl::InvalidArgumentError(absl::StrCat("Stride must be > 0, but got ", stride));
  if (dilation < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Dilation rate must be >= 1, but got ", dilation));
  }
  const int64_t effective = (k - 1) * dilation + 1;
  Window w;
  switch (padding) {
    case Padding::kValid:
      w.out = (in - effective + stride) / stride;
      break;
    case Padding::kSame: {
      w.out = (in + stride - 1) / stride;
      const int64_t needed = std::max<int64_t>(0, (w.out - 1) * stride + effective - in);
      w.pad_before = needed / 2;
      break;
    }
    case Padding::kExplicit:
      w.out = (in + pad_before + pad_after - effective + stride) / stride;
      w.pad_before = pad_before;
      break;
  }
  if (w.out < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Computed output size would be negative: ", w.out, " [input_size: ", in,
        ", effective_filter_size: ", effective, ", stride: ", stride, "]"));
  }
  return w;
}

absl::StatusOr<Padding> ParsePadding(const Node& node) {
  ASSIGN_OR_RETURN(std::string p, GetStringAttr(node, "padding"));
  if (p == "VALID") return Padding::kValid;
  if (p == "SAME") return Padding::kSame;
  if (p == "EXPLICIT") return Padding::kExplicit;
  return absl::InvalidArgumentError(
      absl::StrCat("padding \"", p, "\" is not one of SAME, VALID, EXPLICIT"));
}

// Attributes shared by the convolution ops (NHWC only, as TensorFlow's CPU kernels).
struct ConvAttrs {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  Padding padding = Padding::kValid;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  // EXPLICIT only
};

absl::StatusOr<ConvAttrs> ParseConvAttrs(const Node& node) {
  const std::string format = GetStringAttrOr(node, "data_format", "NHWC");
  if (format != "NHWC") {
    return absl::UnimplementedError(absl::StrCat(
        "The ", node.op, " op currently only supports the NHWC tensor format on the CPU. The op "
        "was given the format: ", format));
  }
  ConvAttrs a;
  ASSIGN_OR_RETURN(std::vector<int64_t> strides, GetIntListAttr(node, "strides"));
  if (strides.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Sliding window strides field must specify 4 dimensions, got ", strides.size()));
  }
  if (strides[0] != 1 || strides[3] != 1) {
    return absl::UnimplementedError(
        "Current implementation does not yet support strides in the batch and depth dimensions.");
  }
  a.stride_h = strides[1];
  a.stride_w = strides[2];
  if (FindAttr(node, "dilations") != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> dil, GetIntListAttr(node, "dilations"));
    if (dil.size() != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("Sliding window dilations field must specify 4 dimensions, got ", dil.size()));
    }
    if (dil[0] != 1 || dil[3] != 1) {
      return absl::UnimplementedError(
          "Current implementation does not yet support dilations in the batch and depth dimensions.");
    }
    a.dilation_h = dil[1];
    a.dilation_w = dil[2];
  }
  if (a.stride_h <= 0 || a.stride_w <= 0 || a.dilation_h <= 0 || a.dilation_w <= 0) {
    return absl::InvalidArgumentError("strides and dilations must be positive");
  }
  ASSIGN_OR_RETURN(a.padding, ParsePadding(node));
  if (a.padding == Padding::kExplicit) {
    ASSIGN_OR_RETURN(std::vector<int64_t> p, GetIntListAttr(node, "explicit_paddings"));
    if (p.size() != 8) {
      return absl::InvalidArgumentError(absl::StrCat(
          "explicit_paddings attribute must contain 8 values, but got: ", p.size()));
    }
    if (p[0] != 0 || p[1] != 0 || p[6] != 0 || p[7] != 0) {
      return absl::UnimplementedError(
          "explicit_paddings in the batch and depth dimensions are not supported");
    }
    for (int64_t v : p) {
      if (v < 0) return absl::InvalidArgumentError(absl::StrCat("All elements of explicit_paddings must be nonnegative, got ", v));
    }
    a.pad_top = p[2];
    a.pad_bottom = p[3];
    a.pad_left = p[4];
    a.pad_right = p[5];
  }
  return a;
}

// Sizes of one convolution; the filter is [kh, kw, in_c, depth] (depth = output channels, or the
// channel multiplier of a depthwise convolution).
struct ConvGeometry {
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int64_t kh = 0, kw = 0, depth = 0;
  int64_t out_h = 0, out_w = 0, out_c = 0;
  int64_t pad_top = 0, pad_left = 0;
};

absl::StatusOr<ConvGeometry> Geometry(const ConvAttrs& a, const Shape& input, const Shape& filter,
                                      bool depthwise) {
  if (input.rank() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("input must be 4-dimensional", input.DebugString()));
  }
  if (filter.rank() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter must be 4-dimensional: ", filter.DebugString()));
  }
  ConvGeometry g;
  g.batch = input.dim(0);
  g.in_h = input.dim(1);
  g.in_w = input.dim(2);
  g.in_c = input.dim(3);
  g.kh = filter.dim(0);
  g.kw = filter.dim(1);
  g.depth = filter.dim(3);
  if (filter.dim(2) != g.in_c) {
    return absl::InvalidArgumentError(absl::StrCat(
        depthwise ? "input and filter must have the same depth: " :
                    "input depth must be evenly divisible by filter depth: ",
        g.in_c, " vs ", filter.dim(2)));
  }
  g.out_c = depthwise ? g.in_c * g.depth : g.depth;
  ASSIGN_OR_RETURN(Window h, WindowedOutputSize(g.in_h, g.kh, a.dilation_h, a.stride_h, a.padding,
                                                a.pad_top, a.pad_bottom));
  ASSIGN_OR_RETURN(Window w, WindowedOutputSize(g.in_w, g.kw, a.dilation_w, a.stride_w, a.padding,
                                                a.pad_left, a.pad_right));
  g.out_h = h.out;
  g.out_w = w.out;
  g.pad_top = h.pad_before;
  g.pad_left = w.pad_before;
  return g;
}

// Fills rows [row0, row0 + rows) of the im2col matrix ([out pixels, kh*kw*in_c]).
void Im2Col(const float* input, const ConvGeometry& g, const ConvAttrs& a, int64_t row0,
            int64_t rows, float* col) {
  const int64_t k = g.kh * g.kw * g.in_c;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pixel = row0 + r;
    const int64_t ox = pixel % g.out_w;
    const int64_t oy = (pixel / g.out_w) % g.out_h;
    const int64_t n = pixel / (g.out_w * g.out_h);
    float* dst = col + r * k;
    const int64_t ix0 = ox * a.stride_w - g.pad_left;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = oy * a.stride_h + ky * a.dilation_h - g.pad_top;
      if (a.dilation_w == 1) {
        // Undilated taps of one filter row are adjacent input pixels: one copy for the taps
        // inside the image, zeros for those in the padding.
        const int64_t kx_begin = std::clamp<int64_t>(-ix0, 0, g.kw);
        const int64_t kx_end = std::clamp<int64_t>(g.in_w - ix0, kx_begin, g.kw);
        const int64_t row = g.kw * g.in_c;
        if (iy < 0 || iy >= g.in_h || kx_begin == kx_end) {
          std::fill_n(dst, row, 0.0f);
        } else {
          std::fill_n(dst, kx_begin * g.in_c, 0.0f);
          std::memcpy(dst + kx_begin * g.in_c,
                      input + ((n * g.in_h + iy) * g.in_w + ix0 + kx_begin) * g.in_c,
                      (kx_end - kx_begin) * g.in_c * sizeof(float));
          std::fill(dst + kx_end * g.in_c, dst + row, 0.0f);
        }
        dst += row;
        continue;
      }
      for (int64_t kx = 0; kx < g.kw; ++kx, dst += g.in_c) {
        const int64_t ix = ox * a.stride_w + kx * a.dilation_w - g.pad_left;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
          std::fill_n(dst, g.in_c, 0.0f);
        } else {
          std::memcpy(dst, input + ((n * g.in_h + iy) * g.in_w + ix) * g.in_c,
                      g.in_c * sizeof(float));
        }
      }
    }
  }
}

// The reference convolution for non-float types (and depthwise with a channel multiplier).
template <typename T>
void NaiveConv(const T* input, const T* filter, const ConvGeometry& g, const ConvAttrs& a,
               bool depthwise, T* out) {
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t oy = 0; oy < g.out_h; ++oy) {
      for (int64_t ox = 0; ox < g.out_w; ++ox) {
        T* o = out + ((n * g.out_h + oy) * g.out_w + ox) * g.out_c;
        std::fill_n(o, g.out_c, T(0));
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = oy * a.stride_h + ky * a.dilation_h - g.pad_top;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = ox * a.stride_w + kx * a.dilation_w - g.pad_left;
            if (ix < 0 || ix >= g.in_w) continue;
            const T* in = input + ((n * g.in_h + iy) * g.in_w + ix) * g.in_c;
            const T* w = filter + (ky * g.kw + kx) * g.in_c * g.depth;
            for (int64_t c = 0; c < g.in_c; ++c) {
              for (int64_t q = 0; q < g.depth; ++q) {
                if (depthwise) {
                  o[c * g.depth + q] += in[c] * w[c * g.depth + q];
                } else {
                  o[q] += in[c] * w[c * g.depth + q];
                }
              }
            }
          }
        }
      }
    }
  }
}

// Per-channel scale and shift of an inference batch norm: y = x * scale' + shift'.
void BatchNormCoefficients(const float* scale, const float* offset, const float* mean,
                           const float* variance, float epsilon, int64_t channels,
                           std::vector<float>* s, std::vector<float>* t) {
  s->resize(channels);
  t->resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    (*s)[c] = scale[c] / std::sqrt(variance[c] + epsilon);
    (*t)[c] = offset[c] - mean[c] * (*s)[c];
  }
}

absl::Status ExpectVector(const Tensor& t, int64_t n, absl::string_view what) {
  if (t.dtype() == DataType::kFloat && t.rank() == 1 && t.dim(0) == n) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " must be a DT_FLOAT vector of ", n,
                                                 " elements, got ", DataTypeName(t.dtype()), " ",
                                                 t.shape().DebugString()));
}

// Conv2D, DepthwiseConv2dNative and their fused forms.
class ConvKernel final : public OpKernel {
 public:
  struct Prepared {
    // GEMM path: the filter as a packed [kh*kw*in_c, out_c] matrix (BN folded in when possible).
    std::optional<simd::PackedMatrix> packed;
    // Depthwise path: the filter with BN folded in.
    std::vector<float> depthwise_filter;
    // Bias after folding a constant BiasAdd or batch norm.
    std::vector<float> bias;
    bool folded = false;  // packed/depthwise_filter and bias already include the fused args
    Shape filter_shape;
    // Winograd path (3x3, stride 1, undilated, args folded, enough channels): the transformed
    // filter's 16 planes, each a packed [in_c, out_c] matrix (simd::WinogradFilter).
    std::vector<simd::PackedMatrix> winograd;
  };

  ConvKernel(DataType dtype, ConvAttrs attrs, bool depthwise, FusedOps fused, Prepared prepared)
      : dtype_(dtype), attrs_(attrs), depthwise_(depthwise), fused_(fused),
        prepared_(std::move(prepared)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int want = 2 + fused_.num_args();
    if (ctx.num_inputs() != want) {
      return absl::InvalidArgumentError(absl::StrCat("expected ", want, " inputs, got ", ctx.num_inputs()));
    }
    const Tensor& input = ctx.input(0);
    const Tensor& filter = ctx.input(1);
    for (int i = 0; i < 2; ++i) {
      if (ctx.input(i).dtype() != dtype_) {
        return absl::InvalidArgumentError(absl::StrCat("input ", i, ": expected ", DataTypeName(dtype_),
                                                       " (attr T), got ", DataTypeName(ctx.input(i).dtype())));
      }
    }
    ASSIGN_OR_RETURN(ConvGeometry g, Geometry(attrs_, input.shape(), filter.shape(), depthwise_));
    Tensor& out = ctx.allocate_output(0, dtype_, Shape{g.batch, g.out_h, g.out_w, g.out_c});
    if (out.num_elements() == 0) return absl::OkStatus();
    if (dtype_ == DataType::kDouble) {
      if (fused_.kind != FusedOps::Kind::kNone) {
        return absl::UnimplementedError("fused convolutions support only DT_FLOAT");
      }
      NaiveConv<double>(input.data<double>(), filter.data<double>(), g, attrs_, depthwise_,
                        out.data<double>());
      return absl::OkStatus();
    }
    return ComputeFloat(ctx, input, filter, g, out);
  }

 private:
  absl::Status ComputeFloat(KernelContext& ctx, const Tensor& input, const Tensor& filter,
                            const ConvGeometry& g, Tensor& out) const {
    // What follows the convolution: folded bias, or per-call bias / batch-norm coefficients.
    const float* bias = nullptr;
    std::vector<float> bn_scale, bn_shift;
    const float* side = nullptr;
    if (prepared_.folded) {
      bias = prepared_.bias.empty() ? nullptr : prepared_.bias.data();
    } else if (fused_.kind == FusedOps::Kind::kBiasAdd) {
      RETURN_IF_ERROR(ExpectVector(ctx.input(2), g.out_c, "bias"));
      bias = ctx.input(2).data<float>();
    } else if (fused_.kind == FusedOps::Kind::kBatchNorm) {
      const char* names[] = {"scale", "offset", "mean", "variance"};
      for (int i = 0; i < 4; ++i) RETURN_IF_ERROR(ExpectVector(ctx.input(2 + i), g.out_c, names[i]));
      BatchNormCoefficients(ctx.input(2).data<float>(), ctx.input(3).data<float>(),
                            ctx.input(4).data<float>(), ctx.input(5).data<float>(),
                            fused_.epsilon, g.out_c, &bn_scale, &bn_shift);
    }
    if (fused_.add) {
      const Tensor& s = ctx.input(3);
      if (s.dtype() != DataType::kFloat || s.shape() != out.shape()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "fused Add operand must be DT_FLOAT ", out.shape().DebugString(), ", got ",
            DataTypeName(s.dtype()), " ", s.shape().DebugString()));
      }
      side = s.data<float>();
    }
    // The activation goes into the convolution's own epilogue unless another step follows it.
    const bool post = !bn_scale.empty() || side != nullptr;
    const Activation act = post ? Activation::kNone : fused_.activation;
    const float alpha = fused_.leakyrelu_alpha;
    if (depthwise_) {
      RETURN_IF_ERROR(Depthwise(ctx, input, filter, g, bias, act, alpha, out));
    } else {
      Conv(ctx, input, filter, g, bias, act, alpha, out);
    }
    float* o = out.data<float>();
    const int64_t pixels = out.num_elements() / g.out_c;
    if (!bn_scale.empty()) {
      simd::ChannelAffine(o, pixels, g.out_c, bn_scale.data(), bn_shift.data(), o,
                          fused_.activation, alpha);
    } else if (side != nullptr) {
      for (int64_t i = 0; i < out.num_elements(); ++i) o[i] += side[i];
      simd::ApplyActivation(o, out.num_elements(), fused_.activation, alpha);
    }
    return absl::OkStatus();
  }

  void Conv(KernelContext& ctx, const Tensor& input, const Tensor& filter, const ConvGeometry& g,
            const float* bias, Activation act, float alpha, Tensor& out) const {
    if (UsesWinograd(g)) {
      WinogradConv(ctx, input, g, bias, act, alpha, /*max_pool=*/false, out);
      return;
    }
    const int64_t k = g.kh * g.kw * g.in_c;
    const int64_t m = g.batch * g.out_h * g.out_w;
    Tensor packed_holder;
    const float* packed;
    if (prepared_.packed) {
      packed = prepared_.packed->data();
    } else {
      packed_holder = Tensor(DataType::kFloat, Shape{simd::PackedSize(k, g.out_c)});
      simd::PackB(filter.data<float>(), g.out_c, false, k, g.out_c, packed_holder.data<float>());
      packed = packed_holder.data<float>();
    }
    simd::GemmParams p{.m = m, .n = g.out_c, .k = k, .lda = k, .packed_b = packed,
                       .c = out.data<float>(), .ldc = g.out_c, .bias = bias, .activation = act,
                       .alpha = alpha};
    const bool pointwise = g.kh == 1 && g.kw == 1 && attrs_.stride_h == 1 &&
                           attrs_.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
                           g.out_h == g.in_h && g.out_w == g.in_w;
    if (pointwise) {
      // The NHWC input already is the [pixels, in_c] matrix.
      p.a = input.data<float>();
      simd::Gemm(p, &ctx.pool());
      return;
    }
    if (attrs_.dilation_w == 1) {
      RowConv(ctx, input, g, packed, bias, act, alpha, out);
      return;
    }
    // im2col in blocks of rows small enough to stay in L2, each followed by its GEMM; blocks are
    // independent, so they are also the unit of parallelism.
    // At most 256 KiB of im2col rows per block, and at least 4 blocks per thread for balance.
    const int64_t threads = ctx.pool().parallelism();
    const int64_t fit = (64 << 10) / std::max<int64_t>(k, 1);
    const int64_t balanced = ((m + 4 * threads - 1) / (4 * threads) + 7) / 8 * 8;
    const int64_t block = std::clamp<int64_t>(std::min(fit / 8 * 8, balanced), 8, 256);
    const int64_t blocks = (m + block - 1) / block;
    const int64_t panels = (g.out_c + simd::kPanelWidth - 1) / simd::kPanelWidth;
    auto run = [&](int64_t b0, int64_t b1) {
      Tensor col_holder(DataType::kFloat, Shape{block * k});
      float* col = col_holder.data<float>();
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row0 = b * block;
        const int64_t rows = std::min(block, m - row0);
        Im2Col(input.data<float>(), g, attrs_, row0, rows, col);
        simd::GemmParams tile = p;
        tile.m = rows;
        tile.a = col;
        tile.c = p.c + row0 * g.out_c;
        simd::GemmTile(tile, 0, rows, 0, panels);
      }
    };
    if (ctx.pool().parallelism() > 1 && blocks > 1 && m * k * g.out_c >= (1 << 16)) {
      ctx.pool().ParallelFor(blocks, 1, run);
    } else {
      run(0, blocks);
    }
  }

  // The convolution without im2col. With undilated columns, the window of output pixel ox in
  // filter row ky is kw*in_c contiguous floats of one input row, and neighbouring pixels' windows
  // start stride_w*in_c apart: that is a matrix with row stride stride_w*in_c, the rows of the
  // packed filter for ky its right side. So each output row is one GEMM whose A rows are kh such
  // runs (GemmParams::a_segments), summed in registers, with the bias and activation in its
  // epilogue. Rows of vertical padding are left out of the sum; horizontal padding is
  // materialised once in a padded copy of the input.
  void RowConv(KernelContext& ctx, const Tensor& input, const ConvGeometry& g,
               const float* packed, const float* bias, Activation act, float alpha,
               Tensor& out) const {
    Tensor padded;
    int64_t row_width;
    const float* base = RowConvInput(input, g, &padded, &row_width);
    float* o = out.data<float>();
    auto run = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        RowConvRow(base, row_width, g, packed, bias, act, alpha, r, o + r * g.out_w * g.out_c);
      }
    };
    const int64_t rows = g.batch * g.out_h;
    const int64_t k = g.kh * g.kw * g.in_c;
    if (ctx.pool().parallelism() > 1 && rows > 1 && rows * g.out_w * k * g.out_c >= (1 << 16)) {
      ctx.pool().ParallelFor(rows, 1, run);
    } else {
      run(0, rows);
    }
  }

 public:
  // The input RowConvRow reads: the input itself, or a copy in `padded` with the horizontal
  // padding materialised; `*row_width` is its width in pixels.
  const float* RowConvInput(const Tensor& input, const ConvGeometry& g, Tensor* padded,
                            int64_t* row_width) const {
    // Columns the windows span, starting at input column -pad_left.
    const int64_t pw = (g.out_w - 1) * attrs_.stride_w + g.kw;
    const float* base = input.data<float>();
    *row_width = g.in_w;
    if (g.pad_left == 0 && pw <= g.in_w) return base;
    *padded = Tensor(DataType::kFloat, Shape{g.batch * g.in_h, pw, g.in_c});
    float* dst = padded->data<float>();
    const int64_t left = std::min(g.pad_left, pw);
    const int64_t copy = std::clamp<int64_t>(pw - left, 0, g.in_w);
    for (int64_t row = 0; row < g.batch * g.in_h; ++row) {
      float* d = dst + row * pw * g.in_c;
      std::fill_n(d, left * g.in_c, 0.0f);
      std::memcpy(d + left * g.in_c, base + row * g.in_w * g.in_c, copy * g.in_c * sizeof(float));
      std::fill(d + (left + copy) * g.in_c, d + pw * g.in_c, 0.0f);
    }
    *row_width = pw;
    return padded->data<float>();
  }

  // Output row r (image r / out_h, row r % out_h) of an undilated-column convolution into `c`
  // ([out_w, out_c]), reading `base` from RowConvInput.
  void RowConvRow(const float* base, int64_t row_width, const ConvGeometry& g,
                  const float* packed, const float* bias, Activation act, float alpha, int64_t r,
                  float* c) const {
    const int64_t row_k = g.kw * g.in_c;
    const int64_t k = g.kh * row_k;
    const int64_t panels = (g.out_c + simd::kPanelWidth - 1) / simd::kPanelWidth;
    const int64_t n = r / g.out_h, oy = r % g.out_h;
    int64_t first = -1, last = -1;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = oy * attrs_.stride_h + ky * attrs_.dilation_h - g.pad_top;
      if (iy < 0 || iy >= g.in_h) continue;
      if (first < 0) first = ky;
      last = ky;
    }
    if (first < 0) {
      // Every tap is padding: the output is act(bias).
      std::fill_n(c, g.out_w * g.out_c, 0.0f);
      simd::ChannelAffine(c, g.out_w, g.out_c, nullptr, bias, c, act, alpha);
      return;
    }
    // The taps inside the image are filter rows [first, last] (iy grows with ky): one GEMM whose
    // A rows are those filter rows' windows, read in place, and whose B is the same rows of the
    // packed filter.
    const int64_t iy = oy * attrs_.stride_h + first * attrs_.dilation_h - g.pad_top;
    const int64_t segs = last - first + 1;
    simd::GemmParams t{.m = g.out_w, .n = g.out_c, .k = segs * row_k,
                       .a = base + (n * g.in_h + iy) * row_width * g.in_c,
                       .lda = attrs_.stride_w * g.in_c,
                       .packed_b = packed + first * row_k * simd::kPanelWidth,
                       .c = c, .ldc = g.out_c,
                       .bias = bias,
                       .activation = act,
                       .alpha = alpha,
                       .panel_stride = k * simd::kPanelWidth,
                       .a_segments = segs,
                       .a_segment_stride = attrs_.dilation_h * row_width * g.in_c};
    simd::GemmTile(t, 0, g.out_w, 0, panels);
  }

 private:
  absl::Status Depthwise(KernelContext& ctx, const Tensor& input, const Tensor& filter,
                         const ConvGeometry& g, const float* bias, Activation act, float alpha,
                         Tensor& out) const {
    const float* in = input.data<float>();
    const float* w = prepared_.folded ? prepared_.depthwise_filter.data() : filter.data<float>();
    // A channel multiplier q > 1 is a multiplier-1 depthwise convolution over the input with each
    // channel repeated q times: the filter [kh, kw, c, q] already is [kh, kw, c*q].
    Tensor expanded;
    int64_t channels = g.in_c;
    if (g.depth != 1) {
      channels = g.out_c;
      expanded = Tensor(DataType::kFloat, Shape{g.batch, g.in_h, g.in_w, channels});
      float* e = expanded.data<float>();
      const int64_t pixels = g.batch * g.in_h * g.in_w;
      for (int64_t px = 0; px < pixels; ++px) {
        for (int64_t c = 0; c < g.in_c; ++c) {
          std::fill_n(e + px * channels + c * g.depth, g.depth, in[px * g.in_c + c]);
        }
      }
      in = e;
    }
    const int64_t rows = g.batch * g.out_h;
    float* o = out.data<float>();
    auto run = [&](int64_t r0, int64_t r1) {
      DepthwiseRows(in, channels, w, g, bias, act, alpha, r0, r1, o + r0 * g.out_w * channels);
    };
    const int64_t work = rows * g.out_w * channels * g.kh * g.kw;
    if (ctx.pool().parallelism() > 1 && rows > 1 && work >= (1 << 16)) {
      ctx.pool().ParallelFor(rows, 1, run);
    } else {
      run(0, rows);
    }
    return absl::OkStatus();
  }

 public:
  // Output rows [r0, r1) (row r = image r / out_h, output row r % out_h) of a multiplier-1
  // depthwise convolution of `in` ([batch, in_h, in_w, channels]) with filter `w`
  // ([kh, kw, channels]), written contiguously at `out`.
  void DepthwiseRows(const float* in, int64_t channels, const float* w, const ConvGeometry& g,
                     const float* bias, Activation act, float alpha, int64_t r0, int64_t r1,
                     float* out) const {
    const float* in_rows[16];
    std::vector<const float*> heap_rows;
    const float** rows_ptr = in_rows;
    if (g.kh > 16) {
      heap_rows.resize(g.kh);
      rows_ptr = heap_rows.data();
    }
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / g.out_h, oy = r % g.out_h;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * attrs_.stride_h + ky * attrs_.dilation_h - g.pad_top;
        rows_ptr[ky] = iy < 0 || iy >= g.in_h ? nullptr : in + (n * g.in_h + iy) * g.in_w * channels;
      }
      simd::DepthwiseConvRow({.in_rows = rows_ptr, .in_w = g.in_w, .channels = channels,
                              .filter = w, .kh = static_cast<int>(g.kh),
                              .kw = static_cast<int>(g.kw),
                              .stride_w = static_cast<int>(attrs_.stride_w),
                              .dilation_w = static_cast<int>(attrs_.dilation_w),
                              .pad_left = g.pad_left, .out_w = g.out_w, .bias = bias,
                              .activation = act, .alpha = alpha,
                              .out = out + (r - r0) * g.out_w * channels});
    }
  }

  const ConvAttrs& attrs() const { return attrs_; }

  // True when this convolution runs by Winograd F(2x2, 3x3) for geometry `g` (ungrouped).
  bool UsesWinograd(const ConvGeometry& g) const {
    return !prepared_.winograd.empty() && g.in_c == prepared_.filter_shape.dim(2);
  }

  // The convolution by Winograd F(2x2, 3x3) (simd.h), in blocks of tiles whose 16 input and 16
  // product planes stay in L2; blocks are the unit of parallelism. Tiles are numbered over the
  // whole batch, so a block may span images. With `max_pool`, `out` receives the 2x2, stride-2
  // VALID max pool of the convolution ([batch, out_h / 2, out_w / 2, out_c]): a pooling window is
  // exactly one tile.
  void WinogradConv(KernelContext& ctx, const Tensor& input, const ConvGeometry& g,
                    const float* bias, Activation act, float alpha, bool max_pool, Tensor& out) const {
    const int64_t tiles_h = max_pool ? g.out_h / 2 : (g.out_h + 1) / 2;
    const int64_t tiles_w = max_pool ? g.out_w / 2 : (g.out_w + 1) / 2;
    const int64_t per_image = tiles_h * tiles_w;
    const int64_t total = g.batch * per_image;
    if (total == 0) return;
    const int64_t ci = g.in_c, co = g.out_c;
    const int64_t fit = (192 << 10) / (16 * static_cast<int64_t>(sizeof(float)) * (ci + co));
    const int64_t block = std::clamp<int64_t>(fit / 8 * 8, 8, 128);
    const int64_t blocks = (total + block - 1) / block;
    const int64_t panels = (co + simd::kPanelWidth - 1) / simd::kPanelWidth;
    const float* in = input.data<float>();
    float* o = out.data<float>();
    struct Tile {
      int64_t n, ty, tx;  // image, tile row, tile column
    };
    const auto tile_at = [&](int64_t t) {
      return Tile{t / per_image, t % per_image / tiles_w, t % tiles_w};
    };
    // Plane strides one cache line more than the planes: at a multiple of 4 KiB the 16 planes
    // would all map to the same L1 sets (32 tiles of 32 channels are exactly 4 KiB).
    const int64_t v_plane = block * ci + 16, m_plane = block * co + 16;
    auto run = [&](int64_t b0, int64_t b1) {
      Tensor scratch(DataType::kFloat, Shape{16 * (v_plane + m_plane) + 16 * ci});
      float* v = scratch.data<float>();
      float* m = v + 16 * v_plane;
      float* patch = m + 16 * m_plane;
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t t0 = b * block, nt = std::min(block, total - t0);
        for (int64_t i = 0; i < nt; ++i) {
          const auto [n, ty, tx] = tile_at(t0 + i);
          const int64_t y0 = 2 * ty - g.pad_top, x0 = 2 * tx - g.pad_left;
          const float* image = in + n * g.in_h * g.in_w * ci;
          const float* rows[4];
          if (y0 >= 0 && x0 >= 0 && y0 + 4 <= g.in_h && x0 + 4 <= g.in_w) {
            for (int r = 0; r < 4; ++r) rows[r] = image + ((y0 + r) * g.in_w + x0) * ci;
          } else {
            // Zero padding: SAME borders, and the pixels past the edge of an odd-sized output.
            for (int r = 0; r < 4; ++r) {
              float* pr = patch + r * 4 * ci;
              for (int x = 0; x < 4; ++x) {
                const int64_t iy = y0 + r, ix = x0 + x;
                if (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w) {
                  std::memcpy(pr + x * ci, image + (iy * g.in_w + ix) * ci, ci * sizeof(float));
                } else {
                  std::memset(pr + x * ci, 0, ci * sizeof(float));
                }
              }
              rows[r] = pr;
            }
          }
          simd::WinogradInputTile(rows, ci, v + i * ci, v_plane);
        }
        for (int xi = 0; xi < 16; ++xi) {
          const simd::GemmParams p{.m = nt, .n = co, .k = ci, .a = v + xi * v_plane, .lda = ci,
                                   .packed_b = prepared_.winograd[xi].data(),
                                   .c = m + xi * m_plane, .ldc = co};
          simd::GemmTile(p, 0, nt, 0, panels);
        }
        for (int64_t i = 0; i < nt; ++i) {
          const auto [n, ty, tx] = tile_at(t0 + i);
          simd::WinogradOutputParams op{.m = m + i * co, .m_stride = m_plane, .channels = co,
                                        .bias = bias, .activation = act, .alpha = alpha,
                                        .max_pool = max_pool};
          if (max_pool) {
            op.out[0] = o + ((n * tiles_h + ty) * tiles_w + tx) * co;
          } else {
            const int64_t y = 2 * ty, x = 2 * tx;
            float* p00 = o + ((n * g.out_h + y) * g.out_w + x) * co;
            const bool right = x + 1 < g.out_w, below = y + 1 < g.out_h;
            op.out[0] = p00;
            op.out[1] = right ? p00 + co : nullptr;
            op.out[2] = below ? p00 + g.out_w * co : nullptr;
            op.out[3] = right && below ? p00 + g.out_w * co + co : nullptr;
          }
          simd::WinogradOutputTile(op);
        }
      }
    };
    if (ctx.pool().parallelism() > 1 && blocks > 1) {
      ctx.pool().ParallelFor(blocks, 1, run);
    } else {
      run(0, blocks);
    }
  }
  const FusedOps& fused() const { return fused_; }
  const Prepared& prepared() const { return prepared_; }

 private:
  const DataType dtype_;
  const ConvAttrs attrs_;
  const bool depthwise_;
  const FusedOps fused_;
  const Prepared prepared_;
};

// Packs (and folds into) constant filters at construction.
// Winograd F(2x2, 3x3) pays off once the per-tile GEMMs have enough channels to run at speed.
constexpr int64_t kWinogradMinChannels = 16;

ConvKernel::Prepared PrepareConv(const KernelConstruction& c, bool depthwise, const FusedOps& fused,
                                 const ConvAttrs& attrs) {
  ConvKernel::Prepared prep;
  const Tensor* filter = c.constant_input(1);
  if (filter == nullptr || filter->dtype() != DataType::kFloat || filter->rank() != 4) return prep;
  prep.filter_shape = filter->shape();
  const int64_t kh = filter->dim(0), kw = filter->dim(1), in_c = filter->dim(2), depth = filter->dim(3);
  const int64_t out_c = depthwise ? in_c * depth : depth;
  const int64_t k = depthwise ? kh * kw : kh * kw * in_c;
  // Fold constant fused args: a bias, or a batch norm's scale into the filter and shift into bias.
  std::vector<float> scale;
  bool fold = fused.kind == FusedOps::Kind::kNone;
  if (fused.kind == FusedOps::Kind::kBiasAdd) {
    const Tensor* b = c.constant_input(2);
    if (b != nullptr && b->dtype() == DataType::kFloat && b->rank() == 1 && b->dim(0) == out_c) {
      prep.bias.assign(b->data<float>(), b->data<float>() + out_c);
      fold = true;
    }
  } else if (fused.kind == FusedOps::Kind::kBatchNorm) {
    const Tensor* args[4];
    bool ok = true;
    for (int i = 0; i < 4; ++i) {
      args[i] = c.constant_input(2 + i);
      ok = ok && args[i] != nullptr && args[i]->dtype() == DataType::kFloat &&
           args[i]->rank() == 1 && args[i]->dim(0) == out_c;
    }
    if (ok) {
      BatchNormCoefficients(args[0]->data<float>(), args[1]->data<float>(),
                            args[2]->data<float>(), args[3]->data<float>(), fused.epsilon, out_c,
                            &scale, &prep.bias);
      fold = true;
    }
  }
  std::vector<float> w(filter->data<float>(), filter->data<float>() + filter->num_elements());
  if (!scale.empty()) {
    // Both layouts have the output channel innermost: [.., out_c] and [kh, kw, in_c*depth].
    for (size_t i = 0; i < w.size(); ++i) w[i] *= scale[i % out_c];
  }
  prep.folded = fold;
  if (depthwise) {
    if (fold) prep.depthwise_filter = std::move(w);
  } else {
    // Unfolded args (a computed bias or batch norm) are applied after the GEMM on the raw filter.
    prep.packed.emplace(w.data(), out_c, false, k, out_c);
    if (fold && kh == 3 && kw == 3 && attrs.stride_h == 1 && attrs.stride_w == 1 &&
        attrs.dilation_h == 1 && attrs.dilation_w == 1 && in_c >= kWinogradMinChannels &&
        out_c >= kWinogradMinChannels) {
      std::vector<float> u(16 * in_c * out_c);
      simd::WinogradFilter(w.data(), in_c, out_c, u.data());
      for (int xi = 0; xi < 16; ++xi) {
        prep.winograd.emplace_back(u.data() + xi * in_c * out_c, out_c, false, in_c, out_c);
      }
    }
  }
  return prep;
}

template <bool kDepthwise, bool kFused>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateConv(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && (kFused || dtype != DataType::kDouble)) {
    return absl::UnimplementedError(absl::StrCat(
        "op \"", c.node().op, "\" does not support ", DataTypeName(dtype), " (supported: DT_FLOAT",
        kFused ? ")" : ", DT_DOUBLE)"));
  }
  ASSIGN_OR_RETURN(ConvAttrs attrs, ParseConvAttrs(c.node()));
  FusedOps fused;
  if constexpr (kFused) {
    ASSIGN_OR_RETURN(fused, ParseFusedOps(c.node()));
    const std::string filter_format = GetStringAttrOr(c.node(), "filter_format", "HWIO");
    if (filter_format != "HWIO") {
      return absl::UnimplementedError(absl::StrCat("filter_format \"", filter_format, "\" is not supported (supported: HWIO)"));
    }
    if (GetIntAttrOr(c.node(), "num_host_args", 0) != 0) {
      return absl::UnimplementedError("num_host_args > 0 is not supported");
    }
  }
  ConvKernel::Prepared prep;
  if (dtype == DataType::kFloat) prep = PrepareConv(c, kDepthwise, fused, attrs);
  return std::make_unique<ConvKernel>(dtype, attrs, kDepthwise, fused, std::move(prep));
}

// ---- _SavantDepthwisePointwise: a depthwise convolution and the 1x1 convolution after it ----
//
// engine/fusion.cc fuses a depthwise convolution (with its bias or batch norm and activation)
// whose only consumer is a Conv2D (with its own) into this node: MobileNet's depthwise-separable
// block. Inputs: the depthwise node's (x, filter, args...), then the Conv2D's filter and args.
// Attrs: the depthwise node's, and the Conv2D's prefixed with "pw/". When the Conv2D is 1x1 with
// stride 1 and both filters (and args) are constants, bands of a few depthwise output rows are
// computed into a buffer that stays in cache and multiplied by the pointwise filter at once, so
// the depthwise output never travels to memory and back (at batch 32 it is megabytes per layer).
// Otherwise the two kernels run one after the other, exactly as unfused.
class DepthwisePointwiseKernel final : public OpKernel {
 public:
  DepthwisePointwiseKernel(Node dw_node, Node pw_node, std::unique_ptr<ConvKernel> dw,
                           std::unique_ptr<ConvKernel> pw, int dw_inputs, bool banded)
      : dw_node_(std::move(dw_node)), pw_node_(std::move(pw_node)), dw_(std::move(dw)),
        pw_(std::move(pw)), dw_inputs_(dw_inputs), banded_(banded) {}

  absl::Status Compute(KernelContext& ctx) const override {
    if (ctx.num_inputs() < dw_inputs_) return Sequential(ctx);
    const Tensor& x = ctx.input(0);
    if (!banded_ || x.dtype() != DataType::kFloat) return Sequential(ctx);
    const ConvKernel::Prepared& dp = dw_->prepared();
    const ConvKernel::Prepared& pp = pw_->prepared();
    ASSIGN_OR_RETURN(ConvGeometry g, Geometry(dw_->attrs(), x.shape(), dp.filter_shape, true));
    if (g.depth != 1 || pp.filter_shape.dim(2) != g.out_c) return Sequential(ctx);
    const int64_t channels = g.out_c, out_c = pp.filter_shape.dim(3);
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, Shape{g.batch, g.out_h, g.out_w, out_c});
    if (out.num_elements() == 0) return absl::OkStatus();
    const int64_t rows = g.batch * g.out_h;
    const int64_t row_floats = g.out_w * channels;
    // A band of depthwise rows fills at most 32 KiB (L1) unless a single row is larger.
    const int64_t band =
        std::clamp<int64_t>((32 << 10) / std::max<int64_t>(1, row_floats * 4), 1, rows);
    const int64_t blocks = (rows + band - 1) / band;
    const int64_t panels = (out_c + simd::kPanelWidth - 1) / simd::kPanelWidth;
    const float* in = x.data<float>();
    const float* dw_bias = dp.bias.empty() ? nullptr : dp.bias.data();
    const float* pw_bias = pp.bias.empty() ? nullptr : pp.bias.data();
    float* o = out.data<float>();
    auto run = [&](int64_t b0, int64_t b1) {
      Tensor scratch(DataType::kFloat, Shape{band * row_floats});
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r0 = b * band, r1 = std::min(rows, r0 + band);
        dw_->DepthwiseRows(in, channels, dp.depthwise_filter.data(), g, dw_bias,
                           dw_->fused().activation, dw_->fused().leakyrelu_alpha, r0, r1,
                           scratch.data<float>());
        const simd::GemmParams p{.m = (r1 - r0) * g.out_w, .n = out_c, .k = channels,
                                 .a = scratch.data<float>(), .lda = channels,
                                 .packed_b = pp.packed->data(), .c = o + r0 * g.out_w * out_c,
                                 .ldc = out_c, .bias = pw_bias,
                                 .activation = pw_->fused().activation,
                                 .alpha = pw_->fused().leakyrelu_alpha};
        simd::GemmTile(p, 0, p.m, 0, panels);
      }
    };
    const int64_t work = rows * g.out_w * channels * (g.kh * g.kw + out_c);
    if (ctx.pool().parallelism() > 1 && blocks > 1 && work >= (1 << 17)) {
      ctx.pool().ParallelFor(blocks, 1, run);
    } else {
      run(0, blocks);
    }
    return absl::OkStatus();
  }

 private:
  // The depthwise kernel into a temporary, then the pointwise kernel from it.
  absl::Status Sequential(KernelContext& ctx) const {
    if (ctx.num_inputs() <= dw_inputs_) {
      return absl::InvalidArgumentError(absl::StrCat("expected more than ", dw_inputs_,
                                                     " inputs, got ", ctx.num_inputs()));
    }
    std::vector<const Tensor*> dw_in, pw_in;
    for (int i = 0; i < dw_inputs_; ++i) dw_in.push_back(&ctx.input(i));
    std::vector<Tensor> mid(1), result(1);
    {
      KernelContext sub(dw_node_, dw_in, mid, ctx.pool(), ctx.resources(), ctx.run_options());
      RETURN_IF_ERROR(dw_->Compute(sub));
    }
    pw_in.push_back(&mid[0]);
    for (int i = dw_inputs_; i < ctx.num_inputs(); ++i) pw_in.push_back(&ctx.input(i));
    KernelContext sub(pw_node_, pw_in, result, ctx.pool(), ctx.resources(), ctx.run_options());
    RETURN_IF_ERROR(pw_->Compute(sub));
    ctx.set_output(0, std::move(result[0]));
    return absl::OkStatus();
  }

  const Node dw_node_, pw_node_;
  const std::unique_ptr<ConvKernel> dw_, pw_;
  const int dw_inputs_;
  const bool banded_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateDepthwisePointwise(const KernelConstruction& c) {
  const Node& node = c.node();
  auto [dw_node, pw_node] = SplitPair(node, "pw/", "_FusedDepthwiseConv2dNative", "depthwise",
                                      "_FusedConv2D", "pointwise");
  ASSIGN_OR_RETURN(FusedOps dw_fused, ParseFusedOps(dw_node));
  ASSIGN_OR_RETURN(FusedOps pw_fused, ParseFusedOps(pw_node));
  const int dw_inputs = 2 + dw_fused.num_args();
  const int pw_inputs = 2 + pw_fused.num_args();
  if (c.num_inputs() != dw_inputs + pw_inputs - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", dw_inputs + pw_inputs - 1, " inputs (depthwise ", dw_inputs,
        ", pointwise filter and args ", pw_inputs - 1, "), got ", c.num_inputs()));
  }
  std::vector<const Tensor*> dw_const, pw_const = {nullptr};
  std::vector<DataType> dw_types, pw_types = {DataType::kFloat};
  for (int i = 0; i < c.num_inputs(); ++i) {
    const bool dw_side = i < dw_inputs;
    (dw_side ? dw_node : pw_node).inputs.push_back(node.inputs[i]);
    if (i == dw_inputs) pw_node.inputs.insert(pw_node.inputs.begin(), node.inputs[0]);
    (dw_side ? dw_const : pw_const).push_back(c.constant_input(i));
    (dw_side ? dw_types : pw_types).push_back(c.input_dtype(i));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> dw,
                   (CreateConv<true, true>(KernelConstruction(dw_node, dw_const, dw_types))));
  ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> pw,
                   (CreateConv<false, true>(KernelConstruction(pw_node, pw_const, pw_types))));
  auto* dwk = static_cast<ConvKernel*>(dw.release());
  auto* pwk = static_cast<ConvKernel*>(pw.release());
  std::unique_ptr<ConvKernel> dw_kernel(dwk), pw_kernel(pwk);
  const ConvAttrs& pa = pwk->attrs();
  const ConvKernel::Prepared& dp = dwk->prepared();
  const ConvKernel::Prepared& pp = pwk->prepared();
  const bool banded =
      dp.folded && !dp.depthwise_filter.empty() && dp.filter_shape.dim(3) == 1 &&
      !dw_fused.add && pp.folded && pp.packed.has_value() && !pw_fused.add &&
      pp.filter_shape.dim(0) == 1 && pp.filter_shape.dim(1) == 1 && pa.stride_h == 1 &&
      pa.stride_w == 1 && pa.pad_top == 0 && pa.pad_bottom == 0 && pa.pad_left == 0 &&
      pa.pad_right == 0;
  return std::make_unique<DepthwisePointwiseKernel>(std::move(dw_node), std::move(pw_node),
                                                    std::move(dw_kernel), std::move(pw_kernel),
                                                    dw_inputs, banded);
}

// ---- Conv2DBackpropInput (the transposed convolution of Keras Conv2DTranspose) ----

class Conv2DBackpropInputKernel final : public OpKernel {
 public:
  Conv2DBackpropInputKernel(ConvAttrs attrs, std::optional<simd::PackedMatrix> packed)
      : attrs_(attrs), packed_(std::move(packed)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
    const Tensor& sizes = ctx.input(0);
    const Tensor& filter = ctx.input(1);
    const Tensor& grad = ctx.input(2);
    RETURN_IF_ERROR(ExpectInputDType(ctx, 1, DataType::kFloat, "filter"));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 2, DataType::kFloat, "out_backprop"));
    if (sizes.rank() != 1 || sizes.num_elements() != 4 ||
        (sizes.dtype() != DataType::kInt32 && sizes.dtype() != DataType::kInt64)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Conv2DBackpropInput: input_sizes input must be 1-dim, not ", sizes.rank()));
    }
    Shape in_shape;
    for (int i = 0; i < 4; ++i) {
      in_shape.AddDim(sizes.dtype() == DataType::kInt32 ? sizes.data<int32_t>()[i]
                                                        : sizes.data<int64_t>()[i]);
    }
    ASSIGN_OR_RETURN(ConvGeometry g, Geometry(attrs_, in_shape, filter.shape(), false));
    const Shape want{g.batch, g.out_h, g.out_w, g.out_c};
    if (grad.shape() != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Conv2DBackpropInput: out_backprop has shape ", grad.shape().DebugString(),
          " but the forward convolution of ", in_shape.DebugString(), " gives ",
          want.DebugString()));
    }
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, in_shape);
    float* o = out.data<float>();
    std::fill_n(o, out.num_elements(), 0.0f);
    const int64_t m = g.batch * g.out_h * g.out_w;
    const int64_t n = g.kh * g.kw * g.in_c;
    if (m == 0 || n == 0 || out.num_elements() == 0) return absl::OkStatus();
    // col[pixel, (ky, kx, c)] = grad[pixel, :] . filter[ky, kx, c, :], then scatter-add col into
    // the input positions each window tap came from.
    Tensor col(DataType::kFloat, Shape{m, n});
    Tensor packed_holder;
    const float* packed;
    if (packed_) {
      packed = packed_->data();
    } else {
      packed_holder = Tensor(DataType::kFloat, Shape{simd::PackedSize(g.out_c, n)});
      simd::PackB(filter.data<float>(), g.out_c, true, g.out_c, n, packed_holder.data<float>());
      packed = packed_holder.data<float>();
    }
    simd::Gemm({.m = m, .n = n, .k = g.out_c, .a = grad.data<float>(), .lda = g.out_c,
                .packed_b = packed, .c = col.data<float>(), .ldc = n},
               &ctx.pool());
    const float* cp = col.data<float>();
    auto scatter = [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          for (int64_t ox = 0; ox < g.out_w; ++ox) {
            const float* src = cp + ((b * g.out_h + oy) * g.out_w + ox) * n;
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * attrs_.stride_h + ky * attrs_.dilation_h - g.pad_top;
              if (iy < 0 || iy >= g.in_h) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * attrs_.stride_w + kx * attrs_.dilation_w - g.pad_left;
                if (ix < 0 || ix >= g.in_w) continue;
                float* dst = o + ((b * g.in_h + iy) * g.in_w + ix) * g.in_c;
                const float* s = src + (ky * g.kw + kx) * g.in_c;
                for (int64_t c = 0; c < g.in_c; ++c) dst[c] += s[c];
              }
            }
          }
        }
      }
    };
    // Images are independent, so they scatter in parallel without conflicts.
    if (ctx.pool().parallelism() > 1 && g.batch > 1) {
      ctx.pool().ParallelFor(g.batch, 1, scatter);
    } else {
      scatter(0, g.batch);
    }
    return absl::OkStatus();
  }

 private:
  const ConvAttrs attrs_;
  const std::optional<simd::PackedMatrix> packed_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateConv2DBackpropInput(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat) {
    return absl::UnimplementedError(absl::StrCat("op \"Conv2DBackpropInput\" does not support ",
                                                 DataTypeName(dtype), " (supported: DT_FLOAT)"));
  }
  ASSIGN_OR_RETURN(ConvAttrs attrs, ParseConvAttrs(c.node()));
  std::optional<simd::PackedMatrix> packed;
  const Tensor* f = c.constant_input(1);
  if (f != nullptr && f->dtype() == DataType::kFloat && f->rank() == 4) {
    const int64_t n = f->dim(0) * f->dim(1) * f->dim(2);
    packed.emplace(f->data<float>(), f->dim(3), true, f->dim(3), n);
  }
  return std::make_unique<Conv2DBackpropInputKernel>(attrs, std::move(packed));
}

// ---- Pooling ----

template <typename T, bool kMax>
void NaivePool(const T* in, int64_t batch, int64_t in_h, int64_t in_w, int64_t ch, int64_t kh,
               int64_t kw, int64_t sh, int64_t sw, int64_t pad_top, int64_t pad_left,
               int64_t out_h, int64_t out_w, T* out) {
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t oy = 0; oy < out_h; ++oy) {
      for (int64_t ox = 0; ox < out_w; ++ox) {
        for (int64_t c = 0; c < ch; ++c) {
          T acc = kMax ? std::numeric_limits<T>::lowest() : T(0);
          int64_t count = 0;
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = oy * sh + ky - pad_top;
            if (iy < 0 || iy >= in_h) continue;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ox * sw + kx - pad_left;
              if (ix < 0 || ix >= in_w) continue;
              const T v = in[((n * in_h + iy) * in_w + ix) * ch + c];
              acc = kMax ? std::max(acc, v) : acc + v;
              ++count;
            }
          }
          out[((n * out_h + oy) * out_w + ox) * ch + c] =
              kMax ? acc : (count > 0 ? acc / static_cast<T>(count) : T(0));
        }
      }
    }
  }
}

class PoolKernel final : public OpKernel {
 public:
  // ksize/strides come from attrs, or (MaxPoolV2) from inputs 1 and 2 when `from_inputs`.
  PoolKernel(DataType dtype, bool max, bool from_inputs, std::vector<int64_t> ksize,
             std::vector<int64_t> strides, Padding padding, std::vector<int64_t> explicit_pad)
      : dtype_(dtype), max_(max), from_inputs_(from_inputs), ksize_(std::move(ksize)),
        strides_(std::move(strides)), padding_(padding), explicit_(std::move(explicit_pad)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, from_inputs_ ? 3 : 1));
    const Tensor& in = ctx.input(0);
    if (in.dtype() != dtype_) {
      return absl::InvalidArgumentError(absl::StrCat("input 0: expected ", DataTypeName(dtype_),
                                                     " (attr T), got ", DataTypeName(in.dtype())));
    }
    std::vector<int64_t> ksize = ksize_, strides = strides_;
    if (from_inputs_) {
      for (int i = 1; i <= 2; ++i) {
        const Tensor& t = ctx.input(i);
        if (t.dtype() != DataType::kInt32 || t.num_elements() != 4) {
          return absl::InvalidArgumentError(
              absl::StrCat(i == 1 ? "ksize" : "strides", " must be a 4-element int32 vector"));
        }
        auto& dst = i == 1 ? ksize : strides;
        dst.assign(t.data<int32_t>(), t.data<int32_t>() + 4);
      }
    }
    RETURN_IF_ERROR(CheckWindow(ksize, strides));
    if (in.rank() != 4) {
      return absl::InvalidArgumentError(absl::StrCat("input must be 4-dimensional", in.shape().DebugString()));
    }
    const int64_t batch = in.dim(0), in_h = in.dim(1), in_w = in.dim(2), ch = in.dim(3);
    const int64_t pt = explicit_.size() == 8 ? explicit_[2] : 0, pb = explicit_.size() == 8 ? explicit_[3] : 0;
    const int64_t pl = explicit_.size() == 8 ? explicit_[4] : 0, pr = explicit_.size() == 8 ? explicit_[5] : 0;
    ASSIGN_OR_RETURN(Window h, WindowedOutputSize(in_h, ksize[1], 1, strides[1], padding_, pt, pb));
    ASSIGN_OR_RETURN(Window w, WindowedOutputSize(in_w, ksize[2], 1, strides[2], padding_, pl, pr));
    Tensor& out = ctx.allocate_output(0, dtype_, Shape{batch, h.out, w.out, ch});
    if (out.num_elements() == 0) return absl::OkStatus();
    if (dtype_ == DataType::kDouble) {
      auto run = max_ ? NaivePool<double, true> : NaivePool<double, false>;
      run(in.data<double>(), batch, in_h, in_w, ch, ksize[1], ksize[2], strides[1], strides[2],
          h.pad_before, w.pad_before, h.out, w.out, out.data<double>());
      return absl::OkStatus();
    }
    const float* src = in.data<float>();
    float* dst = out.data<float>();
    const int kh = static_cast<int>(ksize[1]);
    const int64_t rows = batch * h.out;
    auto run = [&](int64_t r0, int64_t r1) {
      std::vector<const float*> in_rows(kh);
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / h.out, oy = r % h.out;
        for (int ky = 0; ky < kh; ++ky) {
          const int64_t iy = oy * strides[1] + ky - h.pad_before;
          in_rows[ky] = iy < 0 || iy >= in_h ? nullptr : src + (n * in_h + iy) * in_w * ch;
        }
        simd::PoolRowParams p{.in_rows = in_rows.data(), .kh = kh, .in_w = in_w, .channels = ch,
                              .kw = static_cast<int>(ksize[2]),
                              .stride_w = static_cast<int>(strides[2]), .pad_left = w.pad_before,
                              .out_w = w.out, .out = dst + r * w.out * ch};
        if (max_) {
          simd::MaxPoolRow(p);
        } else {
          simd::AvgPoolRow(p);
        }
      }
    };
    if (ctx.pool().parallelism() > 1 && rows > 1 && out.num_elements() * kh * ksize[2] >= (1 << 16)) {
      ctx.pool().ParallelFor(rows, 1, run);
    } else {
      run(0, rows);
    }
    return absl::OkStatus();
  }

  static absl::Status CheckWindow(const std::vector<int64_t>& ksize,
                                  const std::vector<int64_t>& strides) {
    if (ksize.size() != 4 || strides.size() != 4) {
      return absl::InvalidArgumentError(
          "Sliding window ksize and strides fields must specify 4 dimensions");
    }
    if (ksize[0] != 1 || strides[0] != 1) {
      return absl::UnimplementedError("Pooling is not yet supported on the batch dimension.");
    }
    if (ksize[3] != 1 || strides[3] != 1) {
      return absl::UnimplementedError("Depthwise pooling is not supported (ksize and strides must be 1 in the depth dimension)");
    }
    for (int i = 1; i < 3; ++i) {
      if (ksize[i] <= 0 || strides[i] <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Sliding window ksize and strides must be positive, got ksize ", ksize[i], " stride ", strides[i]));
      }
    }
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
  const bool max_;
  const bool from_inputs_;
  const std::vector<int64_t> ksize_;
  const std::vector<int64_t> strides_;
  const Padding padding_;
  const std::vector<int64_t> explicit_;
};

template <bool kMax, bool kV2>
absl::StatusOr<std::unique_ptr<OpKernel>> CreatePool(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && dtype != DataType::kDouble) {
    return absl::UnimplementedError(absl::StrCat("op \"", c.node().op, "\" does not support ",
                                                 DataTypeName(dtype), " (supported: DT_FLOAT, DT_DOUBLE)"));
  }
  const std::string format = GetStringAttrOr(c.node(), "data_format", "NHWC");
  if (format != "NHWC") {
    return absl::UnimplementedError(absl::StrCat(
        "Default ", c.node().op, " only supports NHWC on device type CPU, got ", format));
  }
  std::vector<int64_t> ksize, strides, explicit_pad;
  if (!kV2) {
    ASSIGN_OR_RETURN(ksize, GetIntListAttr(c.node(), "ksize"));
    ASSIGN_OR_RETURN(strides, GetIntListAttr(c.node(), "strides"));
    RETURN_IF_ERROR(PoolKernel::CheckWindow(ksize, strides));
  }
  ASSIGN_OR_RETURN(Padding padding, ParsePadding(c.node()));
  if (padding == Padding::kExplicit) {
    ASSIGN_OR_RETURN(explicit_pad, GetIntListAttr(c.node(), "explicit_paddings"));
    if (explicit_pad.size() != 8) {
      return absl::InvalidArgumentError("explicit_paddings attribute must contain 8 values");
    }
  }
  return std::make_unique<PoolKernel>(dtype, kMax, kV2, std::move(ksize), std::move(strides),
                                      padding, std::move(explicit_pad));
}

// ---- BiasAdd ----

template <typename T>
void AddBiasNchw(const T* x, const T* bias, int64_t outer, int64_t channels, int64_t inner, T* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) out[base + i] = x[base + i] + bias[c];
    }
  }
}

class BiasAddKernel final : public OpKernel {
 public:
  BiasAddKernel(DataType dtype, bool nchw) : dtype_(dtype), nchw_(nchw) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& x = ctx.input(0);
    const Tensor& bias = ctx.input(1);
    RETURN_IF_ERROR(ExpectInputDType(ctx, 0, dtype_, "value"));
    RETURN_IF_ERROR(ExpectInputDType(ctx, 1, dtype_, "bias"));
    if (x.rank() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("Input tensor must be at least 2D: ", x.shape().DebugString()));
    }
    if (bias.rank() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Biases must be 1D: ", bias.shape().DebugString()));
    }
    const int channel_dim = nchw_ ? 1 : x.rank() - 1;
    const int64_t channels = x.dim(channel_dim);
    if (bias.dim(0) != channels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Must provide as many biases as the last dimension of the input tensor: ",
          bias.shape().DebugString(), " vs. ", x.shape().DebugString()));
    }
    Tensor& out = ctx.allocate_output(0, dtype_, x.shape());
    if (x.num_elements() == 0) return absl::OkStatus();
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < channel_dim; ++i) outer *= x.dim(i);
    for (int i = channel_dim + 1; i < x.rank(); ++i) inner *= x.dim(i);
    switch (dtype_) {
      case DataType::kFloat:
        if (inner == 1) {
          simd::ChannelAffine(x.data<float>(), outer, channels, nullptr, bias.data<float>(),
                              out.data<float>(), Activation::kNone, 0);
        } else {
          AddBiasNchw(x.data<float>(), bias.data<float>(), outer, channels, inner, out.data<float>());
        }
        break;
      case DataType::kDouble:
        AddBiasNchw(x.data<double>(), bias.data<double>(), outer, channels, inner, out.data<double>());
        break;
      case DataType::kInt32:
        AddBiasNchw(x.data<int32_t>(), bias.data<int32_t>(), outer, channels, inner, out.data<int32_t>());
        break;
      case DataType::kInt64:
        AddBiasNchw(x.data<int64_t>(), bias.data<int64_t>(), outer, channels, inner, out.data<int64_t>());
        break;
      default:
        return absl::InternalError("BiasAdd kernel built for an unsupported dtype");
    }
    return absl::OkStatus();
  }

 private:
  const DataType dtype_;
  const bool nchw_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateBiasAdd(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && dtype != DataType::kDouble && dtype != DataType::kInt32 &&
      dtype != DataType::kInt64) {
    return absl::UnimplementedError(absl::StrCat(
        "op \"", c.node().op, "\" does not support ", DataTypeName(dtype),
        " (supported: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64)"));
  }
  const std::string format = GetStringAttrOr(c.node(), "data_format", "NHWC");
  if (format != "NHWC" && format != "NCHW") {
    return absl::InvalidArgumentError(absl::StrCat("Invalid data format: ", format));
  }
  return std::make_unique<BiasAddKernel>(dtype, format == "NCHW");
}

// ---- FusedBatchNorm ----

class FusedBatchNormKernel final : public OpKernel {
 public:
  FusedBatchNormKernel(float epsilon, float exponential_avg_factor, bool training, bool nchw,
                       int num_outputs)
      : epsilon_(epsilon), factor_(exponential_avg_factor), training_(training), nchw_(nchw),
        num_outputs_(num_outputs) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 5));
    const Tensor& x = ctx.input(0);
    const char* names[] = {"x", "scale", "offset", "mean", "variance"};
    for (int i = 0; i < 5; ++i) RETURN_IF_ERROR(ExpectInputDType(ctx, i, DataType::kFloat, names[i]));
    if (x.rank() != 4 && x.rank() != 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("input must be 4 or 5-dimensional", x.shape().DebugString()));
    }
    for (int i = 1; i < 5; ++i) {
      if (ctx.input(i).rank() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(names[i], " must be 1-dimensional",
                                                       ctx.input(i).shape().DebugString()));
      }
    }
    const int channel_dim = nchw_ ? 1 : x.rank() - 1;
    const int64_t channels = x.dim(channel_dim);
    for (int i = 1; i < 3; ++i) {
      if (ctx.input(i).num_elements() != channels) {
        return absl::InvalidArgumentError(absl::StrCat(
            names[i], " must have the same number of elements as the channels of x, got ",
            ctx.input(i).num_elements(), " and ", channels));
      }
    }
    if (!training_) {
      for (int i = 3; i < 5; ++i) {
        if (ctx.input(i).num_elements() != channels) {
          return absl::InvalidArgumentError(absl::StrCat(
              "When is_training=false, ", names[i], " must have the same number of elements as "
              "the channels of x, got ", ctx.input(i).num_elements(), " and ", channels));
        }
      }
    }
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < channel_dim; ++i) outer *= x.dim(i);
    for (int i = channel_dim + 1; i < x.rank(); ++i) inner *= x.dim(i);
    const float* xs = x.data<float>();
    const float* scale = ctx.input(1).data<float>();
    const float* offset = ctx.input(2).data<float>();
    std::vector<float> mean(channels), var(channels);
    const int64_t per_channel = outer * inner;
    if (training_) {
      // Batch statistics over everything but the channel, in double for stability.
      std::vector<double> sum(channels, 0), sq(channels, 0);
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t i = 0; i < inner; ++i) sum[c] += xs[(o * channels + c) * inner + i];
        }
      }
      for (int64_t c = 0; c < channels; ++c) mean[c] = static_cast<float>(sum[c] / std::max<int64_t>(per_channel, 1));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t i = 0; i < inner; ++i) {
            const double d = xs[(o * channels + c) * inner + i] - mean[c];
            sq[c] += d * d;
          }
        }
      }
      for (int64_t c = 0; c < channels; ++c) var[c] = static_cast<float>(sq[c] / std::max<int64_t>(per_channel, 1));
    } else {
      std::copy_n(ctx.input(3).data<float>(), channels, mean.begin());
      std::copy_n(ctx.input(4).data<float>(), channels, var.begin());
    }
    std::vector<float> s, t;
    BatchNormCoefficients(scale, offset, mean.data(), var.data(), epsilon_, channels, &s, &t);
    Tensor& y = ctx.allocate_output(0, DataType::kFloat, x.shape());
    float* ys = y.data<float>();
    if (inner == 1) {
      simd::ChannelAffine(xs, outer, channels, s.data(), t.data(), ys, Activation::kNone, 0);
    } else {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          const int64_t base = (o * channels + c) * inner;
          for (int64_t i = 0; i < inner; ++i) ys[base + i] = xs[base + i] * s[c] + t[c];
        }
      }
    }
    // Outputs 1-2: the statistics to carry forward (inference: the given ones). 3-4: what TF's CPU
    // kernel saves for the gradient (batch mean and biased variance in training; TF leaves them
    // uninitialised in inference, we write the given statistics). V3's output 5 is a dummy scalar.
    const Shape vec{channels};
    Tensor& batch_mean = ctx.allocate_output(1, DataType::kFloat, vec);
    Tensor& batch_var = ctx.allocate_output(2, DataType::kFloat, vec);
    Tensor& saved_mean = ctx.allocate_output(3, DataType::kFloat, vec);
    Tensor& saved_var = ctx.allocate_output(4, DataType::kFloat, vec);
    for (int64_t c = 0; c < channels; ++c) {
      float bm = mean[c], bv = var[c];
      if (training_) {
        const int64_t n = per_channel;
        bv = n > 1 ? var[c] * static_cast<float>(n) / static_cast<float>(n - 1) : var[c];
        if (factor_ != 1.0f) {
          bm = (1 - factor_) * ctx.input(3).data<float>()[c] + factor_ * bm;
          bv = (1 - factor_) * ctx.input(4).data<float>()[c] + factor_ * bv;
        }
      }
      batch_mean.data<float>()[c] = bm;
      batch_var.data<float>()[c] = bv;
      saved_mean.data<float>()[c] = mean[c];
      saved_var.data<float>()[c] = var[c];
    }
    if (num_outputs_ > 5 && ctx.num_outputs() > 5) {
      ctx.allocate_output(5, DataType::kFloat, Shape{}).data<float>()[0] = 0;
    }
    return absl::OkStatus();
  }

 private:
  const float epsilon_;
  const float factor_;
  const bool training_;
  const bool nchw_;
  const int num_outputs_;
};

template <int kOutputs>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateFusedBatchNorm(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat) {
    return absl::UnimplementedError(absl::StrCat("op \"", c.node().op, "\" does not support ",
                                                 DataTypeName(dtype), " (supported: DT_FLOAT)"));
  }
  if (FindAttr(c.node(), "U") != nullptr) {
    ASSIGN_OR_RETURN(DataType u, GetTypeAttr(c.node(), "U"));
    if (u != DataType::kFloat) {
      return absl::UnimplementedError(absl::StrCat("attr U ", DataTypeName(u), " is not supported (supported: DT_FLOAT)"));
    }
  }
  const std::string format = GetStringAttrOr(c.node(), "data_format", "NHWC");
  if (format != "NHWC" && format != "NCHW" && format != "NDHWC" && format != "NCDHW") {
    return absl::InvalidArgumentError(absl::StrCat("Invalid data format: ", format));
  }
  return std::make_unique<FusedBatchNormKernel>(
      GetFloatAttrOr(c.node(), "epsilon", 1e-4f),
      GetFloatAttrOr(c.node(), "exponential_avg_factor", 1.0f),
      GetBoolAttrOr(c.node(), "is_training", true), format == "NCHW" || format == "NCDHW",
      kOutputs);
}

}  // namespace

// ---- _SavantConv2DMaxPool: a convolution and the max pool after it ----
//
// engine/fusion.cc fuses a Conv2D (with its bias or batch norm and activation) whose only consumer
// is a MaxPool into this node (the Keras CNN's Conv2D + MaxPooling2D). Inputs: the convolution's;
// attrs: the convolution's, and the MaxPool's prefixed with "pool/". For a VALID pool whose
// windows do not overlap (Keras's default: strides = pool size) over a convolution with constant
// weights and undilated columns, each pooled row is computed from the few convolution rows under
// it, held in a buffer in cache, so the convolution output never goes to memory. Otherwise the two
// kernels run one after the other, exactly as unfused.
class ConvMaxPoolKernel final : public OpKernel {
 public:
  ConvMaxPoolKernel(Node conv_node, Node pool_node, std::unique_ptr<ConvKernel> conv,
                    std::unique_ptr<OpKernel> pool, int64_t pool_h, int64_t pool_w, bool banded)
      : conv_node_(std::move(conv_node)), pool_node_(std::move(pool_node)), conv_(std::move(conv)),
        pool_(std::move(pool)), pool_h_(pool_h), pool_w_(pool_w), banded_(banded) {}

  absl::Status Compute(KernelContext& ctx) const override {
    if (!banded_ || ctx.num_inputs() < 1 || ctx.input(0).dtype() != DataType::kFloat) {
      return Sequential(ctx);
    }
    const Tensor& x = ctx.input(0);
    const ConvKernel::Prepared& cp = conv_->prepared();
    ASSIGN_OR_RETURN(ConvGeometry g, Geometry(conv_->attrs(), x.shape(), cp.filter_shape, false));
    const int64_t ph = g.out_h / pool_h_, pw = g.out_w / pool_w_;
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, Shape{g.batch, ph, pw, g.out_c});
    if (out.num_elements() == 0) return absl::OkStatus();
    const float* bias = cp.bias.empty() ? nullptr : cp.bias.data();
    const Activation act = conv_->fused().activation;
    const float alpha = conv_->fused().leakyrelu_alpha;
    if (pool_h_ == 2 && pool_w_ == 2 && conv_->UsesWinograd(g)) {
      conv_->WinogradConv(ctx, x, g, bias, act, alpha, /*max_pool=*/true, out);
      return absl::OkStatus();
    }
    Tensor padded;
    int64_t row_width;
    const float* base = conv_->RowConvInput(x, g, &padded, &row_width);
    float* o = out.data<float>();
    const int64_t rows = g.batch * ph;
    auto run = [&](int64_t r0, int64_t r1) {
      Tensor scratch(DataType::kFloat, Shape{pool_h_ * g.out_w * g.out_c});
      float* band = scratch.data<float>();
      std::vector<const float*> in_rows(pool_h_);
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / ph, py = r % ph;
        for (int64_t i = 0; i < pool_h_; ++i) {
          float* row = band + i * g.out_w * g.out_c;
          conv_->RowConvRow(base, row_width, g, cp.packed->data(), bias, act, alpha,
                            n * g.out_h + py * pool_h_ + i, row);
          in_rows[i] = row;
        }
        simd::MaxPoolRow({.in_rows = in_rows.data(), .kh = static_cast<int>(pool_h_),
                          .in_w = g.out_w, .channels = g.out_c,
                          .kw = static_cast<int>(pool_w_), .stride_w = static_cast<int>(pool_w_),
                          .pad_left = 0, .out_w = pw, .out = o + r * pw * g.out_c});
      }
    };
    const int64_t work = rows * pool_h_ * g.out_w * g.kh * g.kw * g.in_c * g.out_c;
    if (ctx.pool().parallelism() > 1 && rows > 1 && work >= (1 << 16)) {
      ctx.pool().ParallelFor(rows, 1, run);
    } else {
      run(0, rows);
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Sequential(KernelContext& ctx) const {
    std::vector<const Tensor*> conv_in;
    for (int i = 0; i < ctx.num_inputs(); ++i) conv_in.push_back(&ctx.input(i));
    std::vector<Tensor> mid(1), result(1);
    {
      KernelContext sub(conv_node_, conv_in, mid, ctx.pool(), ctx.resources(), ctx.run_options());
      RETURN_IF_ERROR(conv_->Compute(sub));
    }
    const std::vector<const Tensor*> pool_in = {&mid[0]};
    KernelContext sub(pool_node_, pool_in, result, ctx.pool(), ctx.resources(), ctx.run_options());
    RETURN_IF_ERROR(pool_->Compute(sub));
    ctx.set_output(0, std::move(result[0]));
    return absl::OkStatus();
  }

  const Node conv_node_, pool_node_;
  const std::unique_ptr<ConvKernel> conv_;
  const std::unique_ptr<OpKernel> pool_;
  const int64_t pool_h_, pool_w_;
  const bool banded_;
};

// ---- _SavantLayerNorm: tf.nn.moments + tf.nn.batch_normalization over the last axis ----
//
// engine/fusion.cc rewrites the ten nodes Keras-style LayerNorm graphs emit into this node (inputs
// x, gamma, beta; attr epsilon). Per row of the last axis it performs the same float operations
// in the same order as the unfused ops: mean = float(double sum / n) (Mean), var likewise over
// (x - mean)^2 (SquaredDifference, Mean), rs = 1 / sqrt(var + eps) (AddV2, Rsqrt), and per element
// s = rs * gamma, out = x * s + (beta - mean * s) (Mul, Mul, Sub, AddV2), each rounded to float,
// so the results are identical; one pass over x instead of eight.
class LayerNormKernel final : public OpKernel {
 public:
  explicit LayerNormKernel(float epsilon) : epsilon_(epsilon) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 3));
    const Tensor& x = ctx.input(0);
    const Tensor& gamma = ctx.input(1);
    const Tensor& beta = ctx.input(2);
    for (int i = 0; i < 3; ++i) {
      if (ctx.input(i).dtype() != DataType::kFloat) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input ", i, ": expected DT_FLOAT (attr T), got ", DataTypeName(ctx.input(i).dtype())));
      }
    }
    if (x.rank() < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid reduction dimension (-1 for input with 0 dimension(s)): layer norm of ",
          x.shape().DebugString()));
    }
    const int64_t channels = x.dim(x.rank() - 1);
    // gamma and beta broadcast along the last axis only: [channels] or one value, with leading 1s.
    for (const Tensor* t : {&gamma, &beta}) {
      bool ok = t->rank() <= x.rank() &&
                (t->num_elements() == channels || t->num_elements() == 1);
      for (int i = 0; ok && i + 1 < t->rank(); ++i) ok = t->dim(i) == 1;
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer norm scale/offset ", t->shape().DebugString(),
            " must broadcast along the last axis of ", x.shape().DebugString()));
      }
    }
    Tensor& out = ctx.allocate_output(0, DataType::kFloat, x.shape());
    const int64_t rows = channels == 0 ? 0 : x.num_elements() / channels;
    const float* xp = x.data<float>();
    const float* gp = gamma.data<float>();
    const float* bp = beta.data<float>();
    const bool g_scalar = gamma.num_elements() == 1;
    const bool b_scalar = beta.num_elements() == 1;
    float* op = out.data<float>();
    const float eps = epsilon_;
    auto run = [&](int64_t begin, int64_t end) {
      // The unfused ops' vector loops, one row at a time (the row stays in L1).
      using elementwise::BinaryF32;
      using elementwise::BinaryOpF32;
      std::vector<float> buf(static_cast<size_t>(channels) * 4);
      float* sq = buf.data();
      float* s = sq + channels;
      float* xs = s + channels;
      float* shift = xs + channels;
      const double n = static_cast<double>(channels);
      for (int64_t r = begin; r < end; ++r) {
        const float* row = xp + r * channels;
        const float mean = static_cast<float>(simd::SumToDouble(row, channels) / n);
        BinaryF32(BinaryOpF32::kSquaredDifference, row, false, &mean, true, sq, channels);
        const float var = static_cast<float>(simd::SumToDouble(sq, channels) / n);
        const float rs = 1.0f / std::sqrt(var + eps);
        BinaryF32(BinaryOpF32::kMul, &rs, true, gp, g_scalar, s, channels);
        BinaryF32(BinaryOpF32::kMul, row, false, s, false, xs, channels);
        BinaryF32(BinaryOpF32::kMul, &mean, true, s, false, shift, channels);
        BinaryF32(BinaryOpF32::kSub, bp, b_scalar, shift, false, shift, channels);
        BinaryF32(BinaryOpF32::kAdd, xs, false, shift, false, op + r * channels, channels);
      }
    };
    if (x.num_elements() < kParallelElements || rows <= 1 || ctx.pool().parallelism() == 1) {
      run(0, rows);
    } else {
      ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kParallelElements / channels), run);
    }
    return absl::OkStatus();
  }

 private:
  const float epsilon_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateLayerNorm(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(float epsilon, GetFloatAttr(c.node(), "epsilon"));
  return std::make_unique<LayerNormKernel>(epsilon);
}

absl::StatusOr<std::unique_ptr<OpKernel>> CreateConvMaxPool(const KernelConstruction& c) {
  const Node& node = c.node();
  auto [conv_node, pool_node] = SplitPair(node, "pool/", "_FusedConv2D", "conv", "MaxPool", "pool");
  conv_node.inputs = node.inputs;
  if (!node.inputs.empty()) pool_node.inputs = {node.inputs[0]};
  std::vector<const Tensor*> constants;
  std::vector<DataType> dtypes;
  for (int i = 0; i < c.num_inputs(); ++i) {
    constants.push_back(c.constant_input(i));
    dtypes.push_back(c.input_dtype(i));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> conv,
                   (CreateConv<false, true>(KernelConstruction(conv_node, constants, dtypes))));
  const std::vector<DataType> pool_types = {DataType::kFloat};
  ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> pool,
                   (CreatePool<true, false>(KernelConstruction(pool_node, {}, pool_types))));
  std::unique_ptr<ConvKernel> conv_kernel(static_cast<ConvKernel*>(conv.release()));
  const ConvAttrs& a = conv_kernel->attrs();
  const ConvKernel::Prepared& cp = conv_kernel->prepared();
  ASSIGN_OR_RETURN(std::vector<int64_t> ksize, GetIntListAttr(pool_node, "ksize"));
  ASSIGN_OR_RETURN(std::vector<int64_t> strides, GetIntListAttr(pool_node, "strides"));
  const bool banded = cp.folded && cp.packed.has_value() && !conv_kernel->fused().add &&
                      a.dilation_w == 1 && ksize.size() == 4 && ksize == strides &&
                      ksize[0] == 1 && ksize[3] == 1 && ksize[1] >= 1 && ksize[2] >= 1 &&
                      GetStringAttrOr(pool_node, "padding", "") == "VALID";
  return std::make_unique<ConvMaxPoolKernel>(
      std::move(conv_node), std::move(pool_node), std::move(conv_kernel), std::move(pool),
      ksize.size() == 4 ? ksize[1] : 1, ksize.size() == 4 ? ksize[2] : 1, banded);
}

void RegisterNnOps(OpRegistry& registry) {
  registry.Add("AvgPool", {.factory = CreatePool<false, false>});
  registry.Add("BiasAdd", {.factory = CreateBiasAdd});
  registry.Add("BiasAddV1", {.factory = CreateBiasAdd});
  registry.Add("Conv2D", {.factory = CreateConv<false, false>});
  registry.Add("Conv2DBackpropInput", {.factory = CreateConv2DBackpropInput});
  registry.Add("DepthwiseConv2dNative", {.factory = CreateConv<true, false>});
  registry.Add("FusedBatchNorm", {.factory = CreateFusedBatchNorm<5>, .num_outputs = 5});
  registry.Add("FusedBatchNormV2", {.factory = CreateFusedBatchNorm<5>, .num_outputs = 5});
  registry.Add("FusedBatchNormV3", {.factory = CreateFusedBatchNorm<6>, .num_outputs = 6});
  registry.Add("MaxPool", {.factory = CreatePool<true, false>});
  registry.Add("MaxPoolV2", {.factory = CreatePool<true, true>});
  registry.Add("_FusedConv2D", {.factory = CreateConv<false, true>, .num_outputs = 1});
  registry.Add("_FusedDepthwiseConv2dNative", {.factory = CreateConv<true, true>, .num_outputs = 1});
  registry.Add("_SavantDepthwisePointwise", {.factory = CreateDepthwisePointwise, .num_outputs = 1});
  registry.Add("_SavantConv2DMaxPool", {.factory = CreateConvMaxPool, .num_outputs = 1});
  registry.Add("_SavantLayerNorm", {.factory = CreateLayerNorm, .num_outputs = 1});
}

}  // namespace savant::engine
