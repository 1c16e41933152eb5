// Vector kernels over the channel dimension of NHWC tensors: activations, per-channel affine maps
// (BiasAdd, inference batch norm), depthwise convolution rows and pooling rows. Channels are the
// innermost dimension, so every tap of a window is a contiguous load; the last partial vector of
// channels uses masked loads and stores. Compiled once per Highway target (see gemm.cc).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/simd/nn.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <algorithm>
#include <limits>

#include "engine/simd/activation-inl.h"
#include "engine/simd/dispatch.h"
#include "engine/simd/simd.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace savant::engine::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

void ApplyActivationImpl(float* x, int64_t n, Activation act, float alpha) {
  WithActivation(act, [&]<Activation kAct>() {
    if constexpr (kAct != Activation::kNone) {
      const DF d;
      const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
      const VF va = hn::Set(d, alpha);
      int64_t i = 0;
      for (; i + lanes <= n; i += lanes) {
        hn::StoreU(Activate<kAct>(d, hn::LoadU(d, x + i), va), d, x + i);
      }
      if (i < n) {
        const size_t tail = static_cast<size_t>(n - i);
        StoreTail(d, Activate<kAct>(d, LoadTail(d, x + i, tail), va), x + i, tail);
      }
    }
  });
}

void ChannelAffineImpl(const float* x, int64_t rows, int64_t channels, const float* scale,
                       const float* shift, float* out, Activation act, float alpha) {
  WithActivation(act, [&]<Activation kAct>() {
    const DF d;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
    const VF va = hn::Set(d, alpha);
    const VF one = hn::Set(d, 1.0f);
    const VF zero = hn::Zero(d);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * channels;
      float* orow = out + r * channels;
      int64_t c = 0;
      for (; c + lanes <= channels; c += lanes) {
        const VF s = scale != nullptr ? hn::LoadU(d, scale + c) : one;
        const VF t = shift != nullptr ? hn::LoadU(d, shift + c) : zero;
        hn::StoreU(Activate<kAct>(d, hn::MulAdd(hn::LoadU(d, xr + c), s, t), va), d, orow + c);
      }
      if (c < channels) {
        const size_t tail = static_cast<size_t>(channels - c);
        const VF s = scale != nullptr ? LoadTail(d, scale + c, tail) : one;
        const VF t = shift != nullptr ? LoadTail(d, shift + c, tail) : zero;
        const VF v = hn::MulAdd(LoadTail(d, xr + c, tail), s, t);
        StoreTail(d, Activate<kAct>(d, v, va), orow + c, tail);
      }
    }
  });
}

void AccumulateToDoubleImpl(const float* x, int64_t n, double* acc) {
#if HWY_HAVE_FLOAT64
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(dd));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Add(hn::LoadU(dd, acc + i), hn::PromoteTo(dd, hn::LoadU(df, x + i))), dd,
               acc + i);
  }
  for (; i < n; ++i) acc[i] += static_cast<double>(x[i]);
#else
  for (int64_t i = 0; i < n; ++i) acc[i] += static_cast<double>(x[i]);
#endif
}

double SumToDoubleImpl(const float* x, int64_t n) {
#if HWY_HAVE_FLOAT64
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(dd));
  // Four independent accumulators hide the latency of the additions.
  auto a0 = hn::Zero(dd), a1 = hn::Zero(dd), a2 = hn::Zero(dd), a3 = hn::Zero(dd);
  int64_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    a0 = hn::Add(a0, hn::PromoteTo(dd, hn::LoadU(df, x + i)));
    a1 = hn::Add(a1, hn::PromoteTo(dd, hn::LoadU(df, x + i + lanes)));
    a2 = hn::Add(a2, hn::PromoteTo(dd, hn::LoadU(df, x + i + 2 * lanes)));
    a3 = hn::Add(a3, hn::PromoteTo(dd, hn::LoadU(df, x + i + 3 * lanes)));
  }
  for (; i + lanes <= n; i += lanes) a0 = hn::Add(a0, hn::PromoteTo(dd, hn::LoadU(df, x + i)));
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) sum += static_cast<double>(x[i]);
  return sum;
#else
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  return sum;
#endif
}

// The taps [kx_begin, kx_end) of a window starting at input column ix0 that lie inside the row.
HWY_INLINE void ValidTaps(int64_t ix0, int kw, int dilation, int64_t in_w, int* kx_begin,
                          int* kx_end) {
  int b = 0;
  while (b < kw && ix0 + static_cast<int64_t>(b) * dilation < 0) ++b;
  int e = kw;
  while (e > b && ix0 + static_cast<int64_t>(e - 1) * dilation >= in_w) --e;
  *kx_begin = b;
  *kx_end = e;
}

// Channels [c_begin, channels) of one output pixel, taps limited to the valid window (borders
// and padding rows).
template <Activation kAct>
HWY_INLINE void DepthwisePixel(const DepthwiseRowParams& p, int64_t ox, int64_t c_begin) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const VF va = hn::Set(d, p.alpha);
  const int64_t ch = p.channels;
  const int64_t ix0 = ox * p.stride_w - p.pad_left;
  int kx_begin, kx_end;
  ValidTaps(ix0, p.kw, p.dilation_w, p.in_w, &kx_begin, &kx_end);
  float* out = p.out + ox * ch;
  for (int64_t c = c_begin; c < ch; c += lanes) {
    const bool full = c + lanes <= ch;
    const size_t tail = static_cast<size_t>(std::min(lanes, ch - c));
    auto load = [&](const float* ptr) { return full ? hn::LoadU(d, ptr) : LoadTail(d, ptr, tail); };
    VF acc = p.bias != nullptr ? load(p.bias + c) : hn::Zero(d);
    for (int ky = 0; ky < p.kh; ++ky) {
      const float* row = p.in_rows[ky];
      if (row == nullptr) continue;
      const float* w = p.filter + static_cast<int64_t>(ky) * p.kw * ch + c;
      for (int kx = kx_begin; kx < kx_end; ++kx) {
        const int64_t ix = ix0 + static_cast<int64_t>(kx) * p.dilation_w;
        acc = hn::MulAdd(load(row + ix * ch + c), load(w + kx * ch), acc);
      }
    }
    acc = Activate<kAct>(d, acc, va);
    if (full) {
      hn::StoreU(acc, d, out + c);
    } else {
      StoreTail(d, acc, out + c, tail);
    }
  }
}

// kS neighbouring output pixels of a 3x3 undilated window (stride kStride) whose windows lie
// inside the row, for the channel vector at `c`: each input pixel is loaded once per filter row and
// feeds every output whose window covers it, so the loop is bound by FMAs, not loads. The filter
// taps of the vector are in registers (`w`, [ky][kx]); `in_rows[ky]` already points at the first
// input pixel of the strip's first window (or is null for a padding row). The sum per output runs
// bias, then ky, then kx, as in DepthwisePixel.
template <int kS, int kStride, Activation kAct>
HWY_INLINE void DepthwiseStrip3(const float* const* in_rows, int64_t ch, const VF* w, VF bias,
                                VF alpha, float* out) {
  const DF d;
  constexpr int kSpan = (kS - 1) * kStride + 3;
  VF acc[kS];
  for (int j = 0; j < kS; ++j) acc[j] = bias;
  for (int ky = 0; ky < 3; ++ky) {
    const float* row = in_rows[ky];
    if (row == nullptr) continue;
    const VF* wk = w + 3 * ky;
    for (int t = 0; t < kSpan; ++t) {
      const VF x = hn::LoadU(d, row + t * ch);
      for (int kx = 0; kx < 3; ++kx) {
        const int u = t - kx;
        if (u >= 0 && u % kStride == 0 && u / kStride < kS) {
          acc[u / kStride] = hn::MulAdd(x, wk[kx], acc[u / kStride]);
        }
      }
    }
  }
  for (int j = 0; j < kS; ++j) hn::StoreU(Activate<kAct>(d, acc[j], alpha), d, out + j * ch);
}

// Output pixels [ox_begin, ox_end) (windows inside the row) of a 3x3 undilated depthwise row
// with stride kStride, channels [0, full_c) in whole vectors.
template <int kStride, Activation kAct>
HWY_INLINE void DepthwiseInterior3(const DepthwiseRowParams& p, int64_t ox_begin, int64_t ox_end,
                                   int64_t full_c) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const VF va = hn::Set(d, p.alpha);
  const int64_t ch = p.channels;
  // Accumulators plus 9 taps must fit the register file (32 vectors on AVX-512, 16 otherwise).
#if HWY_TARGET <= HWY_AVX3
  constexpr int kStrip = 8;
#else
  constexpr int kStrip = 4;
#endif
  const float* rows[3];
  for (int64_t c = 0; c < full_c; c += lanes) {
    VF w[9];
    for (int ky = 0; ky < 3; ++ky) {
      for (int kx = 0; kx < 3; ++kx) w[3 * ky + kx] = hn::LoadU(d, p.filter + (ky * 3 + kx) * ch + c);
    }
    const VF b = p.bias != nullptr ? hn::LoadU(d, p.bias + c) : hn::Zero(d);
    int64_t ox = ox_begin;
    auto strip = [&]<int kS>() {
      const int64_t ix0 = ox * kStride - p.pad_left;
      for (int ky = 0; ky < 3; ++ky) {
        rows[ky] = p.in_rows[ky] == nullptr ? nullptr : p.in_rows[ky] + ix0 * ch + c;
      }
      DepthwiseStrip3<kS, kStride, kAct>(rows, ch, w, b, va, p.out + ox * ch + c);
      ox += kS;
    };
    while (ox + kStrip <= ox_end) strip.template operator()<kStrip>();
    if (ox + 4 <= ox_end) strip.template operator()<4>();
    if (ox + 2 <= ox_end) strip.template operator()<2>();
    if (ox < ox_end) strip.template operator()<1>();
  }
}

void DepthwiseConvRowImpl(const DepthwiseRowParams& p) {
  WithActivation(p.activation, [&]<Activation kAct>() {
    const DF d;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
    const VF va = hn::Set(d, p.alpha);
    const int64_t ch = p.channels;
    const int64_t full_c = ch / lanes * lanes;
    const int64_t span = static_cast<int64_t>(p.kw - 1) * p.dilation_w;
    auto interior = [&](int64_t ox) {
      const int64_t ix0 = ox * p.stride_w - p.pad_left;
      return ix0 >= 0 && ix0 + span < p.in_w;
    };
    if (p.kw == 3 && p.kh == 3 && p.dilation_w == 1 && (p.stride_w == 1 || p.stride_w == 2) &&
        full_c > 0) {
      // Windows inside the row: [lo, hi); the rest touch the padding.
      int64_t lo = 0;
      while (lo < p.out_w && !interior(lo)) ++lo;
      int64_t hi = lo;
      while (hi < p.out_w && interior(hi)) ++hi;
      if (p.stride_w == 1) {
        DepthwiseInterior3<1, kAct>(p, lo, hi, full_c);
      } else {
        DepthwiseInterior3<2, kAct>(p, lo, hi, full_c);
      }
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        if (ox < lo || ox >= hi) {
          DepthwisePixel<kAct>(p, ox, 0);
        } else if (full_c < ch) {
          DepthwisePixel<kAct>(p, ox, full_c);
        }
      }
      return;
    }
    int64_t ox = 0;
    while (ox < p.out_w) {
      if (ox + 4 > p.out_w || !interior(ox) || !interior(ox + 3) || full_c == 0) {
        DepthwisePixel<kAct>(p, ox, 0);
        ++ox;
        continue;
      }
      // Four neighbouring pixels whose windows lie inside the row share every filter load and
      // give four independent FMA chains.
      const int64_t ix0 = ox * p.stride_w - p.pad_left;
      const int64_t step = p.stride_w * ch;
      float* out = p.out + ox * ch;
      for (int64_t c = 0; c < full_c; c += lanes) {
        const VF b = p.bias != nullptr ? hn::LoadU(d, p.bias + c) : hn::Zero(d);
        VF a0 = b, a1 = b, a2 = b, a3 = b;
        for (int ky = 0; ky < p.kh; ++ky) {
          const float* row = p.in_rows[ky];
          if (row == nullptr) continue;
          const float* w = p.filter + static_cast<int64_t>(ky) * p.kw * ch + c;
          const float* in = row + ix0 * ch + c;
          for (int kx = 0; kx < p.kw; ++kx) {
            const VF wv = hn::LoadU(d, w + kx * ch);
            const float* px = in + static_cast<int64_t>(kx) * p.dilation_w * ch;
            a0 = hn::MulAdd(hn::LoadU(d, px), wv, a0);
            a1 = hn::MulAdd(hn::LoadU(d, px + step), wv, a1);
            a2 = hn::MulAdd(hn::LoadU(d, px + 2 * step), wv, a2);
            a3 = hn::MulAdd(hn::LoadU(d, px + 3 * step), wv, a3);
          }
        }
        hn::StoreU(Activate<kAct>(d, a0, va), d, out + c);
        hn::StoreU(Activate<kAct>(d, a1, va), d, out + ch + c);
        hn::StoreU(Activate<kAct>(d, a2, va), d, out + 2 * ch + c);
        hn::StoreU(Activate<kAct>(d, a3, va), d, out + 3 * ch + c);
      }
      // The partial last vector of channels, one pixel at a time.
      if (full_c < ch) {
        for (int64_t j = 0; j < 4; ++j) DepthwisePixel<kAct>(p, ox + j, full_c);
      }
      ox += 4;
    }
  });
}

template <bool kMax>
void PoolRow(const PoolRowParams& p) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t ch = p.channels;
  int valid_rows = 0;
  for (int ky = 0; ky < p.kh; ++ky) valid_rows += p.in_rows[ky] != nullptr;
  for (int64_t ox = 0; ox < p.out_w; ++ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int kx_begin, kx_end;
    ValidTaps(ix0, p.kw, 1, p.in_w, &kx_begin, &kx_end);
    const int count = valid_rows * (kx_end - kx_begin);
    const VF inv = hn::Set(d, count > 0 ? 1.0f / static_cast<float>(count) : 0.0f);
    float* out = p.out + ox * ch;
    for (int64_t c = 0; c < ch; c += lanes) {
      const bool full = c + lanes <= ch;
      const size_t tail = static_cast<size_t>(std::min(lanes, ch - c));
      VF acc = kMax ? hn::Set(d, -std::numeric_limits<float>::infinity()) : hn::Zero(d);
      for (int ky = 0; ky < p.kh; ++ky) {
        const float* row = p.in_rows[ky];
        if (row == nullptr) continue;
        for (int kx = kx_begin; kx < kx_end; ++kx) {
          const float* ptr = row + (ix0 + kx) * ch + c;
          const VF v = full ? hn::LoadU(d, ptr) : LoadTail(d, ptr, tail);
          acc = kMax ? hn::Max(acc, v) : hn::Add(acc, v);
        }
      }
      if (!kMax) acc = hn::Mul(acc, inv);
      if (full) {
        hn::StoreU(acc, d, out + c);
      } else {
        StoreTail(d, acc, out + c, tail);
      }
    }
  }
}

void MaxPoolRowImpl(const PoolRowParams& p) { PoolRow<true>(p); }
void AvgPoolRowImpl(const PoolRowParams& p) { PoolRow<false>(p); }

}  // namespace HWY_NAMESPACE
}  // namespace savant::engine::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace savant::engine::simd {

HWY_EXPORT(ApplyActivationImpl);
HWY_EXPORT(ChannelAffineImpl);
HWY_EXPORT(AccumulateToDoubleImpl);
HWY_EXPORT(SumToDoubleImpl);
HWY_EXPORT(DepthwiseConvRowImpl);
HWY_EXPORT(MaxPoolRowImpl);
HWY_EXPORT(AvgPoolRowImpl);

void ApplyActivation(float* x, int64_t n, Activation act, float alpha) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(ApplyActivationImpl)(x, n, act, alpha);
}

void ChannelAffine(const float* x, int64_t rows, int64_t channels, const float* scale,
                   const float* shift, float* out, Activation act, float alpha) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(ChannelAffineImpl)(x, rows, channels, scale, shift, out, act, alpha);
}

void AccumulateToDouble(const float* x, int64_t n, double* acc) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(AccumulateToDoubleImpl)(x, n, acc);
}

double SumToDouble(const float* x, int64_t n) {
  EnsureIsaChosen();
  return HWY_DYNAMIC_DISPATCH(SumToDoubleImpl)(x, n);
}

void DepthwiseConvRow(const DepthwiseRowParams& p) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(DepthwiseConvRowImpl)(p);
}

void MaxPoolRow(const PoolRowParams& p) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(MaxPoolRowImpl)(p);
}

void AvgPoolRow(const PoolRowParams& p) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(AvgPoolRowImpl)(p);
}

}  // namespace savant::engine::simd
#endif  // HWY_ONCE
