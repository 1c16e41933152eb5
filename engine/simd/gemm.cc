// The float GEMM: C = act(A B + bias) with B pre-packed into panels of 32 columns (simd.h).
//
// The micro-kernel keeps a kRows x 32 block of C in registers (kRows = 8 on AVX-512: 16 zmm
// accumulators, 2 panel loads and 1 broadcast per step of k) and streams one panel of B through
// it; each A element is broadcast once per panel. Bias and the activation are applied to the
// registers before the only store of C. With one or two rows (GEMV-like serving batches) the k loop
// is split over several accumulator sets so that FMA latency does not bound throughput. The same
// source is compiled for every Highway target; only kRows differs.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/simd/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must follow foreach_target.h.
#include <algorithm>
#include <cstring>

#include "engine/simd/activation-inl.h"
#include "engine/simd/dispatch.h"
#include "engine/simd/simd.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace savant::engine::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
constexpr size_t kLanes = hn::MaxLanes(DF());
constexpr int kVecs = static_cast<int>(kPanelWidth / kLanes);
// Rows of C held in registers: accumulators plus the panel row must fit the register file
// (32 vector registers with AVX-512, 16 otherwise).
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxRows = 8;
#elif HWY_TARGET == HWY_AVX2
constexpr int kMaxRows = 3;
#else
constexpr int kMaxRows = 1;
#endif

// C[kRows, cols] = act(A[kRows, k] B_panel[k, 32] + bias). `b` is one packed panel, `bias` 32
// floats (zero-padded), `cols` <= 32 columns are stored.
// A is `segs` runs of k / segs floats per row, run s at a + s * seg_stride (segs = 1: plain rows).
template <int kRows, Activation kAct>
HWY_INLINE void MicroKernel(int64_t k, const float* HWY_RESTRICT a, int64_t lda, int64_t segs,
                            int64_t seg_stride, const float* HWY_RESTRICT b,
                            float* HWY_RESTRICT c, int64_t ldc, int64_t cols,
                            const float* HWY_RESTRICT bias, float alpha, bool accumulate) {
  const DF d;
  using V = hn::Vec<DF>;
  // Independent accumulator sets over interleaved k: at least 8 chains hide FMA latency.
  constexpr int kSplit = kRows * kVecs >= 8 ? 1 : (kRows * kVecs >= 4 ? 2 : 4);
  V acc[kSplit][kRows][kVecs];
  for (int s = 0; s < kSplit; ++s) {
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVecs; ++v) acc[s][r][v] = hn::Zero(d);
    }
  }
  if (accumulate) {
    for (int r = 0; r < kRows; ++r) {
      if (cols == kPanelWidth) {
        for (int v = 0; v < kVecs; ++v) acc[0][r][v] = hn::LoadU(d, c + r * ldc + v * kLanes);
      } else {
        HWY_ALIGN float tile[kPanelWidth] = {};
        std::memcpy(tile, c + r * ldc, cols * sizeof(float));
        for (int v = 0; v < kVecs; ++v) acc[0][r][v] = hn::Load(d, tile + v * kLanes);
      }
    }
  }
  const int64_t seg_len = k / segs;
  for (int64_t seg = 0; seg < segs; ++seg) {
    const float* ap[kRows];
    for (int r = 0; r < kRows; ++r) ap[r] = a + r * lda + seg * seg_stride;
    const float* bs = b + seg * seg_len * kPanelWidth;
    int64_t p = 0;
    if constexpr (kSplit > 1) {
      for (; p + kSplit <= seg_len; p += kSplit) {
        for (int s = 0; s < kSplit; ++s) {
          const float* bp = bs + (p + s) * kPanelWidth;
          for (int v = 0; v < kVecs; ++v) {
            const V bv = hn::Load(d, bp + v * kLanes);
            for (int r = 0; r < kRows; ++r) {
              acc[s][r][v] = hn::MulAdd(hn::Set(d, ap[r][p + s]), bv, acc[s][r][v]);
            }
          }
        }
      }
    }
    // Broadcasts first, then one panel vector at a time: kRows * kVecs + kRows + 1 registers.
    for (; p < seg_len; ++p) {
      const float* bp = bs + p * kPanelWidth;
      V ar[kRows];
      for (int r = 0; r < kRows; ++r) ar[r] = hn::Set(d, ap[r][p]);
      for (int v = 0; v < kVecs; ++v) {
        const V bv = hn::Load(d, bp + v * kLanes);
        for (int r = 0; r < kRows; ++r) acc[0][r][v] = hn::MulAdd(ar[r], bv, acc[0][r][v]);
      }
    }
  }
  for (int s = 1; s < kSplit; ++s) {
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVecs; ++v) acc[0][r][v] = hn::Add(acc[0][r][v], acc[s][r][v]);
    }
  }
  const V valpha = hn::Set(d, alpha);
  for (int v = 0; v < kVecs; ++v) {
    const V bv = bias != nullptr ? hn::Load(d, bias + v * kLanes) : hn::Zero(d);
    for (int r = 0; r < kRows; ++r) {
      acc[0][r][v] = Activate<kAct>(d, hn::Add(acc[0][r][v], bv), valpha);
    }
  }
  if (cols == kPanelWidth) {
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVecs; ++v) hn::StoreU(acc[0][r][v], d, c + r * ldc + v * kLanes);
    }
  } else {
    HWY_ALIGN float tile[kPanelWidth];
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < kVecs; ++v) hn::Store(acc[0][r][v], d, tile + v * kLanes);
      std::memcpy(c + r * ldc, tile, cols * sizeof(float));
    }
  }
}

template <Activation kAct>
HWY_INLINE void RowsKernel(int rows, int64_t k, const float* a, int64_t lda, int64_t segs,
                           int64_t seg_stride, const float* b, float* c, int64_t ldc,
                           int64_t cols, const float* bias, float alpha, bool accumulate) {
  // One instantiation per row count up to kMaxRows keeps every block in registers.
  switch (rows) {
#define SAVANT_GEMM_ROWS(R)                                                \
  case R:                                                                  \
    if constexpr (R <= kMaxRows) {                                         \
      return MicroKernel<R, kAct>(k, a, lda, segs, seg_stride, b, c, ldc, cols, bias, alpha, \
                                  accumulate);                                          \
    }                                                                      \
    break;
    SAVANT_GEMM_ROWS(1)
    SAVANT_GEMM_ROWS(2)
    SAVANT_GEMM_ROWS(3)
    SAVANT_GEMM_ROWS(4)
    SAVANT_GEMM_ROWS(5)
    SAVANT_GEMM_ROWS(6)
    SAVANT_GEMM_ROWS(7)
    SAVANT_GEMM_ROWS(8)
#undef SAVANT_GEMM_ROWS
    default:
      break;
  }
}

// Rows are walked in blocks that keep their slice of A in L2 while every panel of the tile
// streams past it.
constexpr int64_t kRowBlock = 64;

void GemmTileImpl(const GemmParams& g, int64_t row_begin, int64_t row_end, int64_t panel_begin,
                  int64_t panel_end) {
  WithActivation(g.activation, [&]<Activation kAct>() {
    const int64_t segs = std::max<int64_t>(1, g.a_segments);
    HWY_ALIGN float bias_buf[kPanelWidth];
    for (int64_t rb = row_begin; rb < row_end; rb += kRowBlock) {
      const int64_t rb_end = std::min(row_end, rb + kRowBlock);
      for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
        const int64_t col0 = panel * kPanelWidth;
        const int64_t cols = std::min<int64_t>(kPanelWidth, g.n - col0);
        const int64_t stride = g.panel_stride != 0 ? g.panel_stride : g.k * kPanelWidth;
        const float* b = g.packed_b + panel * stride;
        const float* bias = nullptr;
        if (g.bias != nullptr) {
          std::fill_n(bias_buf, kPanelWidth, 0.0f);
          std::memcpy(bias_buf, g.bias + col0, cols * sizeof(float));
          bias = bias_buf;
        }
        for (int64_t r = rb; r < rb_end; r += kMaxRows) {
          const int rows = static_cast<int>(std::min<int64_t>(kMaxRows, rb_end - r));
          RowsKernel<kAct>(rows, g.k, g.a + r * g.lda, g.lda, segs, g.a_segment_stride, b,
                           g.c + r * g.ldc + col0, g.ldc, cols, bias, g.alpha, g.accumulate);
        }
      }
    }
  });
}

double FmaLoopImpl(int64_t iterations) {
  const DF d;
  using V = hn::Vec<DF>;
  constexpr int kChains = 16;
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, static_cast<float>(i));
  const V mul = hn::Set(d, 0.999999f);
  const V add = hn::Set(d, 1e-6f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = hn::MulAdd(acc[i], mul, add);
  }
  V sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  HWY_ALIGN float out[kLanes];
  hn::Store(sum, d, out);
  volatile float sink = out[0];
  (void)sink;
  return static_cast<double>(iterations) * kChains * kLanes * 2;
}

}  // namespace HWY_NAMESPACE
}  // namespace savant::engine::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace savant::engine::simd {

HWY_EXPORT(GemmTileImpl);
HWY_EXPORT(FmaLoopImpl);

void PackB(const float* b, int64_t ldb, bool transposed, int64_t k, int64_t n, float* out) {
  const int64_t panels = (n + kPanelWidth - 1) / kPanelWidth;
  for (int64_t j = 0; j < panels; ++j) {
    const int64_t col0 = j * kPanelWidth;
    const int64_t cols = std::min<int64_t>(kPanelWidth, n - col0);
    float* dst = out + j * k * kPanelWidth;
    if (!transposed) {
      for (int64_t p = 0; p < k; ++p) {
        std::memcpy(dst + p * kPanelWidth, b + p * ldb + col0, cols * sizeof(float));
        std::fill(dst + p * kPanelWidth + cols, dst + (p + 1) * kPanelWidth, 0.0f);
      }
    } else {
      // B^T rows are B columns: read each contiguously, write with the panel stride.
      if (cols < kPanelWidth) std::fill(dst, dst + k * kPanelWidth, 0.0f);
      for (int64_t c = 0; c < cols; ++c) {
        const float* src = b + (col0 + c) * ldb;
        for (int64_t p = 0; p < k; ++p) dst[p * kPanelWidth + c] = src[p];
      }
    }
  }
}

PackedMatrix::PackedMatrix(const float* b, int64_t ldb, bool transposed, int64_t k, int64_t n)
    : k_(k), n_(n) {
  // Over-allocate to place the panels on a 64-byte boundary (aligned vector loads).
  storage_.resize(PackedSize(k, n) + 16);
  auto addr = reinterpret_cast<uintptr_t>(storage_.data());
  data_ = storage_.data() + ((64 - addr % 64) % 64) / sizeof(float);
  PackB(b, ldb, transposed, k, n, data_);
}

void GemmTile(const GemmParams& p, int64_t row_begin, int64_t row_end, int64_t panel_begin,
              int64_t panel_end) {
  EnsureIsaChosen();
  HWY_DYNAMIC_DISPATCH(GemmTileImpl)(p, row_begin, row_end, panel_begin, panel_end);
}

void Gemm(const GemmParams& p, ThreadPool* pool) {
  if (p.m <= 0 || p.n <= 0) return;
  const int64_t panels = (p.n + kPanelWidth - 1) / kPanelWidth;
  // Below ~256k multiply-adds (a few microseconds), waking a second thread costs more than it
  // saves.
  constexpr int64_t kParallelMacs = 1 << 18;
  const int threads = pool == nullptr ? 1 : pool->parallelism();
  if (threads <= 1 || p.m * p.n * p.k < kParallelMacs) {
    GemmTile(p, 0, p.m, 0, panels);
    return;
  }
  if (panels >= threads && (panels >= 2 * threads || p.m < 64)) {
    // Split columns: every thread reads all of A (small) and its own share of B.
    pool->ParallelFor(panels, 1, [&](int64_t b, int64_t e) { GemmTile(p, 0, p.m, b, e); });
    return;
  }
  // Split rows in multiples of 8 (the largest register block).
  const int64_t blocks = (p.m + 7) / 8;
  pool->ParallelFor(blocks, 1, [&](int64_t b, int64_t e) {
    GemmTile(p, b * 8, std::min(p.m, e * 8), 0, panels);
  });
}

double FmaLoop(int64_t iterations) {
  EnsureIsaChosen();
  return HWY_DYNAMIC_DISPATCH(FmaLoopImpl)(iterations);
}

}  // namespace savant::engine::simd
#endif  // HWY_ONCE
