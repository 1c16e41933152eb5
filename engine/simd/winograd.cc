// Winograd F(2x2, 3x3) tile transforms (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) over the channel dimension of NHWC tensors. A 3x3 convolution with stride 1
// computes each 2x2 block of output pixels from a 4x4 block of input pixels: V = B^T d B per input
// channel, M = sum over input channels of V * U (U = G g G^T, the filter transformed once at load)
// as 16 GEMMs, and Y = A^T M A per output channel: 16 multiplications per tile and channel pair
// where the direct convolution needs 36. With
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1],
// the transforms are additions only, done here a vector of channels at a time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/simd/winograd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <algorithm>

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

void WinogradInputTileImpl(const float* const* rows, int64_t channels, float* v, int64_t v_stride) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t c = 0; c < channels; c += lanes) {
    const bool full = c + lanes <= channels;
    const size_t tail = static_cast<size_t>(std::min(lanes, channels - c));
    VF t[4][4];
    {
      VF x[4][4];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const float* p = rows[i] + j * channels + c;
          x[i][j] = full ? hn::LoadU(d, p) : LoadTail(d, p, tail);
        }
      }
      // t = B^T x (combines rows).
      for (int j = 0; j < 4; ++j) {
        t[0][j] = hn::Sub(x[0][j], x[2][j]);
        t[1][j] = hn::Add(x[1][j], x[2][j]);
        t[2][j] = hn::Sub(x[2][j], x[1][j]);
        t[3][j] = hn::Sub(x[1][j], x[3][j]);
      }
    }
    // v = t B (combines columns).
    for (int i = 0; i < 4; ++i) {
      const VF r[4] = {hn::Sub(t[i][0], t[i][2]), hn::Add(t[i][1], t[i][2]),
                       hn::Sub(t[i][2], t[i][1]), hn::Sub(t[i][1], t[i][3])};
      for (int j = 0; j < 4; ++j) {
        float* out = v + (4 * i + j) * v_stride + c;
        if (full) {
          hn::StoreU(r[j], d, out);
        } else {
          StoreTail(d, r[j], out, tail);
        }
      }
    }
  }
}

void WinogradOutputTileImpl(const WinogradOutputParams& p) {
  WithActivation(p.activation, [&]<Activation kAct>() {
    const DF d;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
    const VF va = hn::Set(d, p.alpha);
    const int64_t ch = p.channels;
    for (int64_t c = 0; c < ch; c += lanes) {
      const bool full = c + lanes <= ch;
      const size_t tail = static_cast<size_t>(std::min(lanes, ch - c));
      // s = A^T m (rows), then y = s A (columns).
      VF s[2][4];
      for (int j = 0; j < 4; ++j) {
        const float* base = p.m + j * p.m_stride + c;
        VF m[4];
        for (int i = 0; i < 4; ++i) {
          const float* q = base + 4 * i * p.m_stride;
          m[i] = full ? hn::LoadU(d, q) : LoadTail(d, q, tail);
        }
        s[0][j] = hn::Add(hn::Add(m[0], m[1]), m[2]);
        s[1][j] = hn::Sub(hn::Sub(m[1], m[2]), m[3]);
      }
      VF y[4] = {hn::Add(hn::Add(s[0][0], s[0][1]), s[0][2]), hn::Sub(hn::Sub(s[0][1], s[0][2]), s[0][3]),
                 hn::Add(hn::Add(s[1][0], s[1][1]), s[1][2]), hn::Sub(hn::Sub(s[1][1], s[1][2]), s[1][3])};
      if (p.bias != nullptr) {
        const VF b = full ? hn::LoadU(d, p.bias + c) : LoadTail(d, p.bias + c, tail);
        for (VF& v : y) v = hn::Add(v, b);
      }
      for (VF& v : y) v = Activate<kAct>(d, v, va);
      if (p.max_pool) {
        const VF mx = hn::Max(hn::Max(y[0], y[1]), hn::Max(y[2], y[3]));
        if (full) {
          hn::StoreU(mx, d, p.out[0] + c);
        } else {
          StoreTail(d, mx, p.out[0] + c, tail);
        }
        continue;
      }
      for (int k = 0; k < 4; ++k) {
        if (p.out[k] == nullptr) continue;
        if (full) {
          hn::StoreU(y[k], d, p.out[k] + c);
        } else {
          StoreTail(d, y[k], p.out[k] + c, tail);
        }
      }
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace savant::engine::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace savant::engine::simd {

HWY_EXPORT(WinogradInputTileImpl);
HWY_EXPORT(WinogradOutputTileImpl);

void WinogradInputTile(const float* const* rows, int64_t channels, float* v, int64_t v_stride) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(WinogradInputTileImpl)(rows, channels, v, v_stride);
}

void WinogradOutputTile(const WinogradOutputParams& p) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(WinogradOutputTileImpl)(p);
}

void WinogradFilter(const float* filter, int64_t in_c, int64_t out_c, float* u) {
  // U = G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], in double.
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const int64_t plane = in_c * out_c;
  for (int64_t ci = 0; ci < in_c; ++ci) {
    for (int64_t co = 0; co < out_c; ++co) {
      double g[3][3];
      for (int y = 0; y < 3; ++y) {
        for (int x = 0; x < 3; ++x) g[y][x] = filter[((y * 3 + x) * in_c + ci) * out_c + co];
      }
      double gg[4][3];  // G g
      for (int i = 0; i < 4; ++i) {
        for (int x = 0; x < 3; ++x) gg[i][x] = kG[i][0] * g[0][x] + kG[i][1] * g[1][x] + kG[i][2] * g[2][x];
      }
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const double v = gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2];
          u[(4 * i + j) * plane + ci * out_c + co] = static_cast<float>(v);
        }
      }
    }
  }
}

}  // namespace savant::engine::simd
#endif  // HWY_ONCE
