// Vector kernels of the engine: the only code with SIMD in it. Each primitive is written once with
// Highway and compiled for every x86 target it supports (AVX-512, AVX2, SSE4, SSSE3 and the
// portable EMU128 fallback, called "scalar" here); the best one the CPU has is chosen at run time,
// so one baseline x86-64 binary is fast everywhere. SAVANT_CPU=avx512|avx2|sse4|scalar (read once,
// at first use) or ForceIsa() lowers the choice, for debugging and for the tests that compare each
// ISA with the scalar one. Ops in engine/ops/ call these; they own shapes, attrs and threading.
//
// The GEMM multiplies row-major A by B packed into panels of kPanelWidth columns (PackB). Packing
// is done once at kernel construction for constant weights, or per call otherwise. The packed
// layout is the same for every ISA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/base/thread_pool.h"

namespace savant::engine::simd {

// Elementwise functions fused after a GEMM, a convolution or a per-channel affine map. Formulas
// are TensorFlow's: Relu6 = min(max(x,0),6), Elu = x<0 ? expm1(x) : x, LeakyRelu = x<0 ? alpha*x
// : x, GeluApprox = 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), GeluExact = 0.5x(1+erf(x/sqrt(2))).
enum class Activation : int {
  kNone,
  kRelu,
  kRelu6,
  kElu,
  kLeakyRelu,
  kSigmoid,
  kTanh,
  kGeluApprox,
  kGeluExact,
};

// ---- Instruction-set selection ----

// The ISA the dispatcher uses now: "avx512", "avx2", "sse4", "ssse3" or "scalar".
std::string CurrentIsa();
// The ISAs both compiled in and supported by this CPU, best first (always ends with "scalar").
std::vector<std::string> SupportedIsas();
// Restricts dispatch to `isa` (one of SupportedIsas()) or resets to the best with "" / "best".
// INVALID_ARGUMENT naming the allowed set otherwise. Not thread-safe with concurrent kernels:
// call at start-up or in tests.
absl::Status ForceIsa(absl::string_view isa);

// ---- GEMM ----

inline constexpr int64_t kPanelWidth = 32;

// Floats PackB writes for a [k, n] matrix: ceil(n / kPanelWidth) panels of k x kPanelWidth.
inline int64_t PackedSize(int64_t k, int64_t n) {
  return (n + kPanelWidth - 1) / kPanelWidth * kPanelWidth * k;
}

// Packs B ([k, n] row-major with row stride `ldb`; or, when `transposed`, B^T stored [n, k] with row
// stride `ldb`) into `out` (PackedSize(k, n) floats): panel j holds columns [32j, 32j+32) as k rows
// of 32 floats, zero-padded past n.
void PackB(const float* b, int64_t ldb, bool transposed, int64_t k, int64_t n, float* out);

// A packed B that owns its memory (64-byte aligned).
class PackedMatrix {
 public:
  PackedMatrix() = default;
  PackedMatrix(const float* b, int64_t ldb, bool transposed, int64_t k, int64_t n);
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  const float* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

 private:
  int64_t k_ = 0;
  int64_t n_ = 0;
  std::vector<float> storage_;
  float* data_ = nullptr;
};

struct GemmParams {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  const float* a = nullptr;  // [m, k], row stride lda
  int64_t lda = 0;
  const float* packed_b = nullptr;  // PackB of [k, n]
  float* c = nullptr;               // [m, n], row stride ldc
  int64_t ldc = 0;
  const float* bias = nullptr;  // [n] added to every row, or null
  Activation activation = Activation::kNone;
  float alpha = 0.2f;  // LeakyRelu slope
  // C = act(C + A B + bias): the product adds to what C holds (a sum split over several GEMMs,
  // such as the filter rows of a convolution; pass bias and activation with the last one only).
  bool accumulate = false;
  // Floats between the starts of consecutive panels of packed_b; 0 means k * kPanelWidth. A
  // larger stride selects rows [r, r + k) of a matrix packed with more rows (pass
  // packed_b + r * kPanelWidth).
  int64_t panel_stride = 0;
  // A row may be `a_segments` runs of k / a_segments contiguous floats, run s starting
  // s * a_segment_stride floats after the row's start (k must be a multiple of a_segments). A
  // convolution's window is such a row: one run per filter row, read in place from the input
  // instead of copied out by im2col.
  int64_t a_segments = 1;
  int64_t a_segment_stride = 0;
};

// C[rows, panels] = act(A B + bias) for rows [row_begin, row_end) and the columns of panels
// [panel_begin, panel_end). Single-threaded; the building block of Gemm().
void GemmTile(const GemmParams& p, int64_t row_begin, int64_t row_end, int64_t panel_begin,
              int64_t panel_end);
// The whole product, split across `pool` when it is large enough (pool may be null).
void Gemm(const GemmParams& p, ThreadPool* pool);

// ---- Elementwise and per-channel maps ----

// x[i] = act(x[i]) in place.
void ApplyActivation(float* x, int64_t n, Activation act, float alpha);
// out[r, c] = act(x[r, c] * scale[c] + shift[c]) for `rows` rows of `channels`; scale or shift may
// be null (1 and 0). `out` may equal `x`.
void ChannelAffine(const float* x, int64_t rows, int64_t channels, const float* scale,
                   const float* shift, float* out, Activation act, float alpha);

// acc[i] += double(x[i]) for i < n: one step of a float sum accumulated in double (Sum and Mean
// over the outer dims of a tensor, e.g. a global average pool), exact in any lane order.
void AccumulateToDouble(const float* x, int64_t n, double* acc);
// The sum of x[0, n) accumulated in double over several vector lanes (a different association
// than a sequential sum; both carry ~50 bits, so the float result agrees except in rare ties).
double SumToDouble(const float* x, int64_t n);

// ---- Convolution and pooling rows (NHWC, vectorised over channels) ----

// One output row of a depthwise convolution with channel multiplier 1. `in_rows[ky]` points at
// input row oy*stride_h + ky*dilation_h - pad_top ([in_w, channels]), or is null when that row is
// padding. `filter` is [kh, kw, channels]. out[ox, c] = act(bias[c] + sum over valid taps).
struct DepthwiseRowParams {
  const float* const* in_rows = nullptr;
  int64_t in_w = 0;
  int64_t channels = 0;
  const float* filter = nullptr;
  int kh = 0;
  int kw = 0;
  int stride_w = 1;
  int dilation_w = 1;
  int64_t pad_left = 0;
  int64_t out_w = 0;
  const float* bias = nullptr;  // [channels] or null
  Activation activation = Activation::kNone;
  float alpha = 0.2f;
  float* out = nullptr;  // [out_w, channels]
};
void DepthwiseConvRow(const DepthwiseRowParams& p);

// One output row of MaxPool or AvgPool; taps outside the input are skipped, and AvgPool divides by
// the number of taps inside (TensorFlow's rule for SAME padding). Rows as for DepthwiseConvRow.
struct PoolRowParams {
  const float* const* in_rows = nullptr;
  int kh = 0;
  int64_t in_w = 0;
  int64_t channels = 0;
  int kw = 0;
  int stride_w = 1;
  int64_t pad_left = 0;
  int64_t out_w = 0;
  float* out = nullptr;
};
void MaxPoolRow(const PoolRowParams& p);
void AvgPoolRow(const PoolRowParams& p);

// ---- Winograd F(2x2, 3x3) (winograd.cc) ----
//
// A 3x3, stride-1 convolution in tiles of 2x2 output pixels: each tile's 4x4 input pixels are
// transformed (WinogradInputTile) into 16 planes, plane xi multiplied by the transformed filter's
// plane xi (16 GEMMs of [tiles, in_c] x [in_c, out_c]), and the 16 products transformed back
// (WinogradOutputTile) into the tile's 4 output pixels.

// U (16 planes of [in_c, out_c], plane stride in_c * out_c) from an HWIO [3, 3, in_c, out_c] filter.
void WinogradFilter(const float* filter, int64_t in_c, int64_t out_c, float* u);
// rows[r] points at input row r of the tile: 4 consecutive pixels of `channels` floats. Writes
// plane xi of the tile at v + xi * v_stride (`channels` floats).
void WinogradInputTile(const float* const* rows, int64_t channels, float* v, int64_t v_stride);
struct WinogradOutputParams {
  const float* m = nullptr;  // plane xi of the tile's products at m + xi * m_stride
  int64_t m_stride = 0;
  int64_t channels = 0;
  const float* bias = nullptr;  // [channels] or null
  Activation activation = Activation::kNone;
  float alpha = 0.2f;
  // Pixels (0,0), (0,1), (1,0), (1,1) of the tile; null ones (outside the output) are skipped.
  float* out[4] = {nullptr, nullptr, nullptr, nullptr};
  // Store only the max of the four pixels (after bias and activation) to out[0]: a 2x2 MaxPool.
  bool max_pool = false;
};
void WinogradOutputTile(const WinogradOutputParams& p);

// ---- Benchmark support ----

// Runs `iterations` of a dependency-free block of vector FMAs on the calling thread and returns
// the number of floating-point operations done (2 per lane per FMA).
double FmaLoop(int64_t iterations);

}  // namespace savant::engine::simd
