// Matrix products: MatMul, _FusedMatMul (grappler's and our fusion pass's MatMul + BiasAdd +
// activation), BatchMatMul{,V2,V3} and Einsum (the two-operand equations Keras EinsumDense and
// MultiHeadAttention emit, mapped to transposes and a batched product).
//
// float runs on simd::Gemm: B is packed into 32-column panels, once at kernel construction when it
// is a constant (weights after constant folding) or per call otherwise, and bias and activation
// are applied in the GEMM's register epilogue. Other dtypes use a plain i-k-j loop.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/fusion.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"
#include "engine/shape_inference.h"
#include "engine/simd/simd.h"

namespace savant::engine {
namespace {

using simd::Activation;

// Integer products wrap like TensorFlow's on real machines, without signed-overflow UB.
template <typename T>
struct Acc {
  using Type = T;
};
template <>
struct Acc<int32_t> {
  using Type = uint32_t;
};
template <>
struct Acc<int64_t> {
  using Type = uint64_t;
};

// Below this many multiply-adds a non-float product stays on its calling thread.
constexpr int64_t kParallelMacs = 1 << 16;

// out[m, n] = op(a) b for rows [row_begin, row_end); b is [k, n] row-major.
template <typename T>
void NaiveRows(const T* a, bool transpose_a, const T* b, T* out, int64_t m, int64_t k, int64_t n,
               int64_t row_begin, int64_t row_end) {
  using A = typename Acc<T>::Type;
  for (int64_t i = row_begin; i < row_end; ++i) {
    A* o = reinterpret_cast<A*>(out + i * n);
    std::fill_n(o, n, A(0));
    for (int64_t p = 0; p < k; ++p) {
      const A aip = static_cast<A>(transpose_a ? a[p * m + i] : a[i * k + p]);
      const A* bp = reinterpret_cast<const A*>(b + p * n);
      for (int64_t j = 0; j < n; ++j) o[j] += aip * bp[j];
    }
  }
}

// out = op(a) op(b) for one [m,k] x [k,n] product of a non-float dtype.
template <typename T>
void NaiveProduct(ThreadPool* pool, const T* a, bool transpose_a, const T* b, bool transpose_b,
                  int64_t m, int64_t k, int64_t n, T* out) {
  std::vector<T> b_rows;
  if (transpose_b && k > 0) {
    b_rows.resize(static_cast<size_t>(k * n));
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < k; ++p) b_rows[p * n + j] = b[j * k + p];
    }
    b = b_rows.data();
  }
  if (pool == nullptr || m * n * k < kParallelMacs || m == 1 || pool->parallelism() == 1) {
    NaiveRows<T>(a, transpose_a, b, out, m, k, n, 0, m);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kParallelMacs / std::max<int64_t>(1, n * k));
  pool->ParallelFor(m, grain, [&](int64_t begin, int64_t end) {
    NaiveRows<T>(a, transpose_a, b, out, m, k, n, begin, end);
  });
}

// A 64-byte aligned float scratch buffer (Tensor buffers are aligned; packed panels need it).
float* Scratch(Tensor& holder, int64_t floats) {
  holder = Tensor(DataType::kFloat, Shape{std::max<int64_t>(floats, 1)});
  return holder.data<float>();
}

// Row-major [rows, cols] -> [cols, rows].
void Transpose2D(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t kBlock = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

// What follows a float product: bias, residual operand and activation.
struct Epilogue {
  const float* bias = nullptr;  // [n]
  const float* side = nullptr;  // [m, n] added after the bias ("Add" in fused_ops)
  Activation activation = Activation::kNone;
  float alpha = 0.2f;
};

// out[m, n] = epilogue(op(a) op(b)); `packed` (if set) is b already packed.
void FloatProduct(ThreadPool* pool, const float* a, bool transpose_a, const float* b,
                  bool transpose_b, const simd::PackedMatrix* packed, int64_t m, int64_t k,
                  int64_t n, const Epilogue& epi, float* out) {
  if (m == 0 || n == 0) return;
  Tensor a_holder, b_holder;
  if (transpose_a && m > 1) {
    float* at = Scratch(a_holder, m * k);
    Transpose2D(a, k, m, at);
    a = at;
  }
  const float* pb;
  if (packed != nullptr) {
    pb = packed->data();
  } else {
    float* buf = Scratch(b_holder, simd::PackedSize(k, n));
    simd::PackB(b, transpose_b ? k : n, transpose_b, k, n, buf);
    pb = buf;
  }
  simd::GemmParams p{.m = m,
                     .n = n,
                     .k = k,
                     .a = a,
                     .lda = k,
                     .packed_b = pb,
                     .c = out,
                     .ldc = n,
                     .bias = epi.bias,
                     .activation = epi.side == nullptr ? epi.activation : Activation::kNone,
                     .alpha = epi.alpha};
  simd::Gemm(p, pool);
  if (epi.side != nullptr) {
    for (int64_t i = 0; i < m * n; ++i) out[i] += epi.side[i];
    simd::ApplyActivation(out, m * n, epi.activation, epi.alpha);
  }
}

absl::Status ExpectDType(const Tensor& t, int i, DataType want) {
  if (t.dtype() == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("input ", i, ": expected ", DataTypeName(want),
                                                 " (attr T), got ", DataTypeName(t.dtype())));
}

// ---- MatMul and _FusedMatMul ----

class MatMulKernel final : public OpKernel {
 public:
  MatMulKernel(DataType dtype, bool transpose_a, bool transpose_b, FusedOps fused,
               std::optional<simd::PackedMatrix> packed)
      : dtype_(dtype),
        transpose_a_(transpose_a),
        transpose_b_(transpose_b),
        fused_(fused),
        packed_(std::move(packed)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int want_inputs = 2 + fused_.num_args();
    if (ctx.num_inputs() != want_inputs) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", want_inputs, " inputs, got ", ctx.num_inputs()));
    }
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    for (int i = 0; i < 2; ++i) {
      const Tensor& t = ctx.input(i);
      RETURN_IF_ERROR(ExpectDType(t, i, dtype_));
      if (t.rank() != 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "In[", i, "] is not a matrix. Instead it has shape ", t.shape().DebugString()));
      }
    }
    const int64_t m = transpose_a_ ? a.dim(1) : a.dim(0);
    const int64_t k = transpose_a_ ? a.dim(0) : a.dim(1);
    const int64_t kb = transpose_b_ ? b.dim(1) : b.dim(0);
    const int64_t n = transpose_b_ ? b.dim(0) : b.dim(1);
    if (k != kb) {
      return absl::InvalidArgumentError(
          absl::StrCat("Matrix size-incompatible: In[0]: ", a.shape().DebugString(),
                       ", In[1]: ", b.shape().DebugString()));
    }
    Tensor& out = ctx.allocate_output(0, dtype_, Shape{m, n});
    switch (dtype_) {
      case DataType::kFloat:
        return ComputeFloat(ctx, a, b, m, k, n, out);
      case DataType::kDouble:
        NaiveProduct<double>(&ctx.pool(), a.data<double>(), transpose_a_, b.data<double>(),
                             transpose_b_, m, k, n, out.data<double>());
        return absl::OkStatus();
      case DataType::kInt32:
        NaiveProduct<int32_t>(&ctx.pool(), a.data<int32_t>(), transpose_a_, b.data<int32_t>(),
                              transpose_b_, m, k, n, out.data<int32_t>());
        return absl::OkStatus();
      default:
        return absl::InternalError("MatMul kernel built for an unsupported dtype");
    }
  }

 private:
  absl::Status ComputeFloat(KernelContext& ctx, const Tensor& a, const Tensor& b, int64_t m,
                            int64_t k, int64_t n, Tensor& out) const {
    Epilogue epi{.activation = fused_.activation, .alpha = fused_.leakyrelu_alpha};
    if (fused_.kind == FusedOps::Kind::kBiasAdd) {
      const Tensor& bias = ctx.input(2);
      RETURN_IF_ERROR(ExpectDType(bias, 2, DataType::kFloat));
      if (bias.rank() != 1 || bias.dim(0) != n) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Must provide as many biases as the last dimension of the input tensor: ",
            bias.shape().DebugString(), " vs. ", out.shape().DebugString()));
      }
      epi.bias = bias.data<float>();
    }
    if (fused_.add) {
      const Tensor& side = ctx.input(3);
      if (side.dtype() != DataType::kFloat || side.shape() != out.shape()) {
        return absl::InvalidArgumentError(
            absl::StrCat("fused Add operand must be DT_FLOAT ", out.shape().DebugString(),
                         ", got ", DataTypeName(side.dtype()), " ", side.shape().DebugString()));
      }
      epi.side = side.data<float>();
    }
    FloatProduct(&ctx.pool(), a.data<float>(), transpose_a_, b.data<float>(), transpose_b_,
                 packed_ ? &*packed_ : nullptr, m, k, n, epi, out.data<float>());
    return absl::OkStatus();
  }

  const DataType dtype_;
  const bool transpose_a_;
  const bool transpose_b_;
  const FusedOps fused_;
  const std::optional<simd::PackedMatrix> packed_;
};

// Packs a constant float matrix operand at construction; nullopt when `t` is not one.
std::optional<simd::PackedMatrix> PackConstant(const Tensor* t, bool transposed) {
  if (t == nullptr || t->dtype() != DataType::kFloat || t->rank() != 2) return std::nullopt;
  const int64_t k = transposed ? t->dim(1) : t->dim(0);
  const int64_t n = transposed ? t->dim(0) : t->dim(1);
  return simd::PackedMatrix(t->data<float>(), t->dim(1), transposed, k, n);
}

absl::StatusOr<std::unique_ptr<OpKernel>> CreateMatMul(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && dtype != DataType::kDouble && dtype != DataType::kInt32) {
    return absl::UnimplementedError(absl::StrCat("op \"MatMul\" does not support ",
                                                 DataTypeName(dtype),
                                                 " (supported: DT_FLOAT, DT_DOUBLE, DT_INT32)"));
  }
  const bool ta = GetBoolAttrOr(c.node(), "transpose_a", false);
  const bool tb = GetBoolAttrOr(c.node(), "transpose_b", false);
  auto packed = dtype == DataType::kFloat ? PackConstant(c.constant_input(1), tb) : std::nullopt;
  return std::make_unique<MatMulKernel>(dtype, ta, tb, FusedOps{}, std::move(packed));
}

absl::StatusOr<std::unique_ptr<OpKernel>> CreateFusedMatMul(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat) {
    return absl::UnimplementedError(absl::StrCat("op \"_FusedMatMul\" does not support ",
                                                 DataTypeName(dtype), " (supported: DT_FLOAT)"));
  }
  ASSIGN_OR_RETURN(FusedOps fused, ParseFusedOps(c.node()));
  if (fused.kind == FusedOps::Kind::kBatchNorm) {
    return absl::UnimplementedError("_FusedMatMul does not support fused_ops FusedBatchNorm");
  }
  const bool ta = GetBoolAttrOr(c.node(), "transpose_a", false);
  const bool tb = GetBoolAttrOr(c.node(), "transpose_b", false);
  return std::make_unique<MatMulKernel>(dtype, ta, tb, fused,
                                        PackConstant(c.constant_input(1), tb));
}

// ---- Batched products ----

int64_t NumElements(std::span<const int64_t> dims) {
  return std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<int64_t>());
}

// out[batch, m, n] = op(x[bx, ., .]) op(y[by, ., .]), where x and y hold `x_batch` and `y_batch`
// leading dims that broadcast to `out_batch` (all three of the same rank). Non-float dtypes, and
// float products whose y has no batch, are handled here too.
template <typename T>
void BatchProduct(ThreadPool& pool, const T* x, const Shape& x_batch, bool adj_x, const T* y,
                  const Shape& y_batch, bool adj_y, const simd::PackedMatrix* y_packed, int64_t m,
                  int64_t k, int64_t n, const Shape& out_batch, T* out,
                  const float* bias = nullptr) {
  const int64_t batches = out_batch.num_elements();
  if (batches == 0 || m == 0 || n == 0) return;
  const bool y_shared = y_batch.num_elements() == 1;
  if constexpr (std::is_same_v<T, float>) {
    if (y_shared && !adj_x && x_batch == out_batch) {
      // Every batch uses the same y: one product with the batches stacked as rows.
      FloatProduct(&pool, x, false, y, adj_y, y_packed, batches * m, k, n,
                   Epilogue{.bias = bias}, out);
      return;
    }
  }
  const std::vector<int64_t> xs = BroadcastStrides(x_batch, out_batch);
  const std::vector<int64_t> ys = BroadcastStrides(y_batch, out_batch);
  auto offsets = [&](int64_t b, int64_t* xo, int64_t* yo) {
    *xo = 0;
    *yo = 0;
    for (int d = out_batch.rank() - 1; d >= 0; --d) {
      const int64_t i = b % out_batch.dim(d);
      b /= out_batch.dim(d);
      *xo += i * xs[d];
      *yo += i * ys[d];
    }
  };
  const int threads = pool.parallelism();
  const bool split_batches = threads > 1 && batches >= threads && batches * m * n * k >= kParallelMacs;
  auto run = [&](int64_t begin, int64_t end, ThreadPool* inner) {
    for (int64_t b = begin; b < end; ++b) {
      int64_t xo, yo;
      offsets(b, &xo, &yo);
      const T* xb = x + xo * m * k;
      const T* yb = y + yo * k * n;
      T* ob = out + b * m * n;
      if constexpr (std::is_same_v<T, float>) {
        FloatProduct(inner, xb, adj_x, yb, adj_y, y_shared ? y_packed : nullptr, m, k, n,
                     Epilogue{.bias = bias}, ob);
      } else {
        NaiveProduct<T>(inner, xb, adj_x, yb, adj_y, m, k, n, ob);
      }
    }
  };
  if (split_batches) {
    pool.ParallelFor(batches, 1, [&](int64_t b, int64_t e) { run(b, e, nullptr); });
  } else {
    run(0, batches, &pool);
  }
}

// Dispatches BatchProduct on `dtype`. `bias` ([n], added to every row) is for DT_FLOAT only.
absl::Status BatchProductTyped(ThreadPool& pool, DataType dtype, const void* x,
                               const Shape& x_batch, bool adj_x, const void* y,
                               const Shape& y_batch, bool adj_y,
                               const simd::PackedMatrix* y_packed, int64_t m, int64_t k,
                               int64_t n, const Shape& out_batch, void* out,
                               const float* bias = nullptr) {
  if (bias != nullptr) {
    if (dtype != DataType::kFloat) return absl::InternalError("fused bias needs DT_FLOAT");
    BatchProduct<float>(pool, static_cast<const float*>(x), x_batch, adj_x,
                        static_cast<const float*>(y), y_batch, adj_y, y_packed, m, k, n,
                        out_batch, static_cast<float*>(out), bias);
    return absl::OkStatus();
  }
  switch (dtype) {
#define SAVANT_BATCH_PRODUCT(DT, T)                                                            \
  case DT:                                                                                     \
    BatchProduct<T>(pool, static_cast<const T*>(x), x_batch, adj_x, static_cast<const T*>(y), \
                    y_batch, adj_y, y_packed, m, k, n, out_batch, static_cast<T*>(out));       \
    return absl::OkStatus();
    SAVANT_BATCH_PRODUCT(DataType::kFloat, float)
    SAVANT_BATCH_PRODUCT(DataType::kDouble, double)
    SAVANT_BATCH_PRODUCT(DataType::kInt32, int32_t)
    SAVANT_BATCH_PRODUCT(DataType::kInt64, int64_t)
#undef SAVANT_BATCH_PRODUCT
    default:
      return absl::UnimplementedError(
          absl::StrCat("batched product of ", DataTypeName(dtype),
                       " is not supported (supported: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64)"));
  }
}

bool SupportedBatchType(DataType t) {
  return t == DataType::kFloat || t == DataType::kDouble || t == DataType::kInt32 ||
         t == DataType::kInt64;
}

// Shape with its first `rank` dims, left-padded with 1s to `to_rank`.
Shape BatchDims(const Shape& s, int rank, int to_rank) {
  Shape out;
  for (int i = 0; i < to_rank - rank; ++i) out.AddDim(1);
  for (int i = 0; i < rank; ++i) out.AddDim(s.dim(i));
  return out;
}

class BatchMatMulKernel final : public OpKernel {
 public:
  BatchMatMulKernel(DataType dtype, bool adj_x, bool adj_y, bool broadcast,
                    std::optional<simd::PackedMatrix> y_packed)
      : dtype_(dtype), adj_x_(adj_x), adj_y_(adj_y), broadcast_(broadcast),
        y_packed_(std::move(y_packed)) {}

  absl::Status Compute(KernelContext& ctx) const override {
    RETURN_IF_ERROR(ExpectNumInputs(ctx, 2));
    const Tensor& x = ctx.input(0);
    const Tensor& y = ctx.input(1);
    RETURN_IF_ERROR(ExpectDType(x, 0, dtype_));
    RETURN_IF_ERROR(ExpectDType(y, 1, dtype_));
    if (x.rank() < 2 || y.rank() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("In[", x.rank() < 2 ? 0 : 1, "] ndims must be >= 2: ",
                       x.rank() < 2 ? x.rank() : y.rank()));
    }
    const int xb = x.rank() - 2, yb = y.rank() - 2;
    const int rank = std::max(xb, yb);
    const Shape x_batch = BatchDims(x.shape(), xb, rank);
    const Shape y_batch = BatchDims(y.shape(), yb, rank);
    Shape out_batch;
    if (broadcast_) {
      auto b = BroadcastShapes(x_batch, y_batch);
      if (!b.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "In[0] and In[1] must have compatible batch dimensions: ", x.shape().DebugString(),
            " vs. ", y.shape().DebugString()));
      }
      out_batch = *b;
    } else {
      if (xb != yb || x_batch != y_batch) {
        return absl::InvalidArgumentError(
            absl::StrCat("In[0] and In[1] must have the same batch dimensions: ",
                         x.shape().DebugString(), " vs. ", y.shape().DebugString()));
      }
      out_batch = x_batch;
    }
    const int64_t m = adj_x_ ? x.dim(x.rank() - 1) : x.dim(x.rank() - 2);
    const int64_t k = adj_x_ ? x.dim(x.rank() - 2) : x.dim(x.rank() - 1);
    const int64_t ky = adj_y_ ? y.dim(y.rank() - 1) : y.dim(y.rank() - 2);
    const int64_t n = adj_y_ ? y.dim(y.rank() - 2) : y.dim(y.rank() - 1);
    if (k != ky) {
      return absl::InvalidArgumentError(
          absl::StrCat("Matrix size-incompatible: In[0]: ", x.shape().DebugString(),
                       ", In[1]: ", y.shape().DebugString()));
    }
    Shape out_shape = out_batch;
    out_shape.AddDim(m);
    out_shape.AddDim(n);
    Tensor& out = ctx.allocate_output(0, dtype_, out_shape);
    return BatchProductTyped(ctx.pool(), dtype_, x.raw_data(), x_batch, adj_x_, y.raw_data(),
                             y_batch, adj_y_, y_packed_ ? &*y_packed_ : nullptr, m, k, n,
                             out_batch, out.raw_data());
  }

 private:
  const DataType dtype_;
  const bool adj_x_;
  const bool adj_y_;
  const bool broadcast_;
  const std::optional<simd::PackedMatrix> y_packed_;
};

template <bool kBroadcast>
absl::StatusOr<std::unique_ptr<OpKernel>> CreateBatchMatMul(const KernelConstruction& c) {
  DataType dtype = DataType::kInvalid;
  if (FindAttr(c.node(), "T") != nullptr) {
    ASSIGN_OR_RETURN(dtype, GetTypeAttr(c.node(), "T"));
  } else {
    // BatchMatMulV3 types its operands Ta, Tb and its output Tout; we require them equal.
    ASSIGN_OR_RETURN(dtype, GetTypeAttr(c.node(), "Ta"));
    for (const char* attr : {"Tb", "Tout"}) {
      ASSIGN_OR_RETURN(DataType other, GetTypeAttr(c.node(), attr));
      if (other != dtype) {
        return absl::UnimplementedError(absl::StrCat(
            "mixed types are not supported: Ta=", DataTypeName(dtype), ", ", attr, "=",
            DataTypeName(other)));
      }
    }
  }
  if (!SupportedBatchType(dtype)) {
    return absl::UnimplementedError(absl::StrCat(
        "op \"", c.node().op, "\" does not support ", DataTypeName(dtype),
        " (supported: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64)"));
  }
  const bool adj_x = GetBoolAttrOr(c.node(), "adj_x", false);
  const bool adj_y = GetBoolAttrOr(c.node(), "adj_y", false);
  std::optional<simd::PackedMatrix> packed;
  const Tensor* y = c.constant_input(1);
  if (dtype == DataType::kFloat && y != nullptr && y->dtype() == DataType::kFloat &&
      y->rank() >= 2 && NumElements(y->shape().dims().first(y->rank() - 2)) == 1) {
    Tensor y2 = *y->Reshaped(Shape{y->dim(y->rank() - 2), y->dim(y->rank() - 1)});
    packed = PackConstant(&y2, adj_y);
  }
  return std::make_unique<BatchMatMulKernel>(dtype, adj_x, adj_y, kBroadcast, std::move(packed));
}

// ---- Einsum ----

// Copies `src` (row-major `dims`, `elem`-byte elements) to `dst` permuted: dst dim i = src dim
// perm[i].
void Permute(const char* src, std::span<const int64_t> dims, std::span<const int> perm,
             size_t elem, char* dst) {
  const int rank = static_cast<int>(dims.size());
  const int64_t total = NumElements(dims);
  if (total == 0) return;
  std::vector<int64_t> src_strides(rank, 1);
  for (int i = rank - 2; i >= 0; --i) src_strides[i] = src_strides[i + 1] * dims[i + 1];
  std::vector<int64_t> out_dims(rank), strides(rank);
  for (int i = 0; i < rank; ++i) {
    out_dims[i] = dims[perm[i]];
    strides[i] = src_strides[perm[i]];
  }
  // The innermost run: contiguous when the last dim stays last.
  const int64_t inner = rank > 0 ? out_dims[rank - 1] : 1;
  const int64_t inner_stride = rank > 0 ? strides[rank - 1] : 1;
  std::vector<int64_t> idx(rank, 0);
  int64_t src_off = 0;
  for (int64_t done = 0; done < total; done += inner) {
    if (inner_stride == 1) {
      std::memcpy(dst, src + src_off * elem, inner * elem);
      dst += inner * elem;
    } else {
      for (int64_t j = 0; j < inner; ++j) {
        std::memcpy(dst, src + (src_off + j * inner_stride) * elem, elem);
        dst += elem;
      }
    }
    for (int d = rank - 2; d >= 0; --d) {
      src_off += strides[d];
      if (++idx[d] < out_dims[d]) break;
      src_off -= strides[d] * out_dims[d];
      idx[d] = 0;
    }
  }
}

// Labels after expanding "...": ellipsis dims become the characters '0', '1', ... (aligned from
// the right, as they broadcast), which letters can never clash with.
absl::StatusOr<std::string> ExpandEllipsis(absl::string_view term, int rank, int ellipsis_rank) {
  const size_t pos = term.find("...");
  if (pos == absl::string_view::npos) return std::string(term);
  const int named = static_cast<int>(term.size()) - 3;
  const int count = rank < 0 ? ellipsis_rank : rank - named;
  if (count < 0 || count > ellipsis_rank) {
    return absl::InvalidArgumentError(absl::StrCat("einsum term \"", term, "\" does not match rank ", rank));
  }
  std::string out(term.substr(0, pos));
  for (int i = ellipsis_rank - count; i < ellipsis_rank; ++i) out.push_back(static_cast<char>('0' + i));
  const absl::string_view rest = term.substr(pos + 3);
  out.append(rest.data(), rest.size());
  return out;
}

std::vector<int> PermutationTo(const std::string& from, const std::string& to) {
  std::vector<int> perm;
  for (char c : to) perm.push_back(static_cast<int>(from.find(c)));
  return perm;
}

// The labels of `term` that appear neither in `other` (the other operand, or empty) nor in `out`:
// TensorFlow sums them out of that operand before the product ("ij->i", "ij,jk->k").
std::string SummedLabels(const std::string& term, const std::string& other,
                         const std::string& out) {
  std::string summed;
  for (char c : term) {
    if (other.find(c) == std::string::npos && out.find(c) == std::string::npos) summed.push_back(c);
  }
  return summed;
}

std::string WithoutLabels(const std::string& term, const std::string& drop) {
  std::string kept;
  for (char c : term) {
    if (drop.find(c) == std::string::npos) kept.push_back(c);
  }
  return kept;
}

template <typename T>
void SumInner(const T* src, int64_t outer, int64_t inner, T* dst) {
  for (int64_t o = 0; o < outer; ++o) {
    T acc = T(0);
    for (int64_t i = 0; i < inner; ++i) acc += src[o * inner + i];
    dst[o] = acc;
  }
}

// `t` (labels `labels`) with the labels in `summed` summed out; the result keeps the other labels
// in their order.
Tensor SumOutLabels(const Tensor& t, const std::string& labels, const std::string& summed) {
  const std::string kept = WithoutLabels(labels, summed);
  std::vector<int> perm = PermutationTo(labels, kept + WithoutLabels(labels, kept));
  Shape kept_shape;
  int64_t inner = 1;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (summed.find(labels[i]) == std::string::npos) {
      kept_shape.AddDim(t.dim(static_cast<int>(i)));
    } else {
      inner *= t.dim(static_cast<int>(i));
    }
  }
  Tensor moved(t.dtype(), t.shape());
  const size_t elem = DataTypeSize(t.dtype());
  Permute(static_cast<const char*>(t.raw_data()), t.shape().dims(), perm, elem,
          static_cast<char*>(moved.raw_data()));
  Tensor out(t.dtype(), kept_shape);
  const int64_t outer = kept_shape.num_elements();
  switch (t.dtype()) {
    case DataType::kFloat:
      SumInner(moved.data<float>(), outer, inner, out.data<float>());
      break;
    case DataType::kDouble:
      SumInner(moved.data<double>(), outer, inner, out.data<double>());
      break;
    case DataType::kInt32:
      SumInner(moved.data<int32_t>(), outer, inner, out.data<int32_t>());
      break;
    default:
      SumInner(moved.data<int64_t>(), outer, inner, out.data<int64_t>());
      break;
  }
  return out;
}

// How a two-operand einsum maps onto one batched product; see Plan().
struct EinsumPlan {
  bool swap = false;            // operand 1 is the product's left side
  std::string a_labels;         // left operand as given
  std::string b_labels;         // right operand as given
  std::string batch, free_a, free_b, contract;
  std::vector<int> a_perm;      // empty: already [batch, free_a, contract]
  bool a_adjoint = false;       // left operand is [batch, contract, free_a]
  std::vector<int> b_perm;      // empty: already in one of the two layouts below
  bool b_adjoint = false;       // right operand is [batch, free_b, contract]
  std::vector<int> out_perm;    // empty: [batch, free_a, free_b] is the output order
};

absl::StatusOr<EinsumPlan> Plan(const std::string& in0, const std::string& in1,
                                const std::string& out) {
  for (const std::string* s : {&in0, &in1, &out}) {
    for (size_t i = 0; i < s->size(); ++i) {
      if (s->find((*s)[i], i + 1) != std::string::npos) {
        return absl::UnimplementedError(absl::StrCat("einsum label '", std::string(1, (*s)[i]),
                                                     "' repeats within a term (diagonals are not supported)"));
      }
    }
  }
  auto in = [](const std::string& s, char c) { return s.find(c) != std::string::npos; };
  for (char c : out) {
    if (!in(in0, c) && !in(in1, c)) {
      return absl::InvalidArgumentError(absl::StrCat("einsum output label '", std::string(1, c),
                                                     "' appears in no input"));
    }
  }
  for (const std::string* s : {&in0, &in1}) {
    for (char c : *s) {
      const bool other = s == &in0 ? in(in1, c) : in(in0, c);
      if (!other && !in(out, c)) {
        return absl::UnimplementedError(absl::StrCat(
            "einsum label '", std::string(1, c), "' is summed within one operand (not supported)"));
      }
    }
  }
  EinsumPlan p;
  // The output orders batch labels and each operand's free labels; the operand whose free labels
  // come first in the output is the product's left side.
  std::string free0, free1;
  for (char c : out) {
    if (in(in0, c) && in(in1, c)) {
      p.batch.push_back(c);
    } else if (in(in0, c)) {
      free0.push_back(c);
    } else {
      free1.push_back(c);
    }
  }
  p.swap = !free0.empty() && !free1.empty() && out.find(free1[0]) < out.find(free0[0]);
  p.a_labels = p.swap ? in1 : in0;
  p.b_labels = p.swap ? in0 : in1;
  p.free_a = p.swap ? free1 : free0;
  p.free_b = p.swap ? free0 : free1;
  // Contracted labels in the order of either operand: take the one that needs fewer copies.
  std::string contract_a, contract_b;
  for (char c : p.a_labels) {
    if (in(p.b_labels, c) && !in(out, c)) contract_a.push_back(c);
  }
  for (char c : p.b_labels) {
    if (in(p.a_labels, c) && !in(out, c)) contract_b.push_back(c);
  }
  auto cost = [&](const std::string& contract, EinsumPlan* plan) {
    plan->contract = contract;
    plan->a_perm.clear();
    plan->b_perm.clear();
    plan->a_adjoint = plan->b_adjoint = false;
    int copies = 0;
    if (p.a_labels == p.batch + p.free_a + contract) {
    } else if (p.a_labels == p.batch + contract + p.free_a) {
      plan->a_adjoint = true;
    } else {
      plan->a_perm = PermutationTo(p.a_labels, p.batch + p.free_a + contract);
      ++copies;
    }
    if (p.b_labels == p.batch + contract + p.free_b) {
    } else if (p.b_labels == p.batch + p.free_b + contract) {
      plan->b_adjoint = true;
    } else {
      plan->b_perm = PermutationTo(p.b_labels, p.batch + contract + p.free_b);
      ++copies;
    }
    return copies;
  };
  EinsumPlan alt = p;
  const int cost_a = cost(contract_a, &p);
  const int cost_b = cost(contract_b, &alt);
  if (cost_b < cost_a) p = alt;
  const std::string product = p.batch + p.free_a + p.free_b;
  if (product != out) p.out_perm = PermutationTo(product, out);
  return p;
}

// out = x + y with TensorFlow's broadcasting (float): the fused bias of _FusedEinsum when it could
// not be folded into the product's epilogue. INVALID_ARGUMENT with TensorFlow's wording when the
// shapes do not broadcast.
absl::Status BroadcastAddFloat(KernelContext& ctx, const Tensor& x, const Tensor& y) {
  const int rank = std::max(x.rank(), y.rank());
  Shape out_shape;
  std::vector<int64_t> xs(rank, 0), ys(rank, 0);
  int64_t xstride = 1, ystride = 1;
  std::vector<int64_t> dims(rank);
  for (int i = rank - 1; i >= 0; --i) {
    const int xi = i - (rank - x.rank()), yi = i - (rank - y.rank());
    const int64_t xd = xi >= 0 ? x.dim(xi) : 1, yd = yi >= 0 ? y.dim(yi) : 1;
    if (xd != yd && xd != 1 && yd != 1) {
      return absl::InvalidArgumentError(absl::StrCat("Incompatible shapes: ",
                                                     x.shape().DebugString(), " vs. ",
                                                     y.shape().DebugString()));
    }
    dims[i] = std::max(xd, yd);
    if (xd == 0 || yd == 0) dims[i] = 0;
    xs[i] = xd == 1 ? 0 : xstride;
    ys[i] = yd == 1 ? 0 : ystride;
    xstride *= xd;
    ystride *= yd;
  }
  for (int64_t d : dims) out_shape.AddDim(d);
  Tensor& out = ctx.allocate_output(0, DataType::kFloat, out_shape);
  const int64_t total = out_shape.num_elements();
  const float* xp = x.data<float>();
  const float* yp = y.data<float>();
  float* op = out.data<float>();
  std::vector<int64_t> idx(rank, 0);
  int64_t xo = 0, yo = 0;
  for (int64_t i = 0; i < total; ++i) {
    op[i] = xp[xo] + yp[yo];
    for (int d = rank - 1; d >= 0; --d) {
      xo += xs[d];
      yo += ys[d];
      if (++idx[d] < dims[d]) break;
      xo -= xs[d] * dims[d];
      yo -= ys[d] * dims[d];
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

// The fused bias of _FusedEinsum as one value per column of the product ([n], the free labels of
// the right operand, which end the output), when `bias` broadcasts along exactly those trailing
// dims; empty otherwise (then the bias is added after the product).
std::vector<float> BiasPerColumn(const Tensor& bias, const Shape& out_shape, int64_t n) {
  if (bias.dtype() != DataType::kFloat) return {};
  // Leading 1s broadcast over everything; what remains must be the output's trailing dims.
  int first = 0;
  while (first < bias.rank() && bias.dim(first) == 1) ++first;
  const int r = bias.rank() - first;
  if (r > out_shape.rank()) return {};
  int64_t inner = 1;
  for (int i = 0; i < r; ++i) {
    if (bias.dim(first + i) != out_shape.dim(out_shape.rank() - r + i)) return {};
    inner *= bias.dim(first + i);
  }
  if (inner == 0 || n % inner != 0) return {};
  std::vector<float> per_column(n);
  for (int64_t j = 0; j < n; ++j) per_column[j] = bias.data<float>()[j % inner];
  return per_column;
}

// ---- Strided einsum products ----
// Keras MultiHeadAttention's equations ("aecd,abcd->acbe", "acbe,aecd->abcd") put the head label
// between the sequence and the head dim, so the per-head matrices are strided views of the
// operands. Instead of permuting whole tensors into [batch, rows, cols] order, each batch item's
// GEMM reads A with a row stride, packs B from its strided rows (or columns) and writes C with a
// row stride into the output's layout. Same products, same order of additions: identical results.

// Element stride of each label of `t` (row-major, labels `labels`); 0 where the dim is 1 but the
// label's size is larger (an ellipsis dim that broadcasts).
void LabelStrides(const Tensor& t, const std::string& labels, const int64_t* size,
                  int64_t* stride) {
  int64_t s = 1;
  for (int i = t.rank() - 1; i >= 0; --i) {
    const unsigned char c = static_cast<unsigned char>(labels[i]);
    stride[c] = (t.dim(i) == 1 && size[c] != 1) ? 0 : s;
    s *= t.dim(i);
  }
}

// The stride of one index over the labels of `group` taken together (row-major in that order):
// 0 when they span a single element, -1 when their strides do not compose.
int64_t MergedStride(const std::string& group, const int64_t* size, const int64_t* stride) {
  int64_t base = -1, extent = 1;
  for (int i = static_cast<int>(group.size()) - 1; i >= 0; --i) {
    const unsigned char c = static_cast<unsigned char>(group[i]);
    if (size[c] == 1) continue;
    if (base < 0) {
      base = stride[c];
      if (base <= 0) return -1;
    } else if (stride[c] != base * extent) {
      return -1;
    }
    extent *= size[c];
  }
  return base < 0 ? 0 : base;
}

struct StridedProduct {
  int64_t m = 0, k = 0, n = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool b_transposed = false;  // B stored as [n, k] rows
  std::vector<int64_t> batch_size, a_stride, b_stride, c_stride;  // per batch label
};

// How to run `plan` as strided GEMMs over tensors with label strides sa, sb and so (output), or
// nullopt when a layout needs a copy. `b_packed`: B is already packed (its layout is irrelevant).
std::optional<StridedProduct> PlanStrided(const EinsumPlan& plan, const int64_t* size,
                                          const int64_t* sa, const int64_t* sb,
                                          const int64_t* so, bool b_packed) {
  auto extent = [&](const std::string& ls) {
    int64_t e = 1;
    for (char c : ls) e *= size[static_cast<unsigned char>(c)];
    return e;
  };
  StridedProduct p;
  p.m = extent(plan.free_a);
  p.k = extent(plan.contract);
  p.n = extent(plan.free_b);
  const int64_t a_row = MergedStride(plan.free_a, size, sa);
  const int64_t a_col = MergedStride(plan.contract, size, sa);
  if (a_row < 0 || a_col > 1 || a_col < 0) return std::nullopt;
  p.lda = a_row == 0 ? p.k : a_row;
  if (!b_packed) {
    const int64_t b_k = MergedStride(plan.contract, size, sb);
    const int64_t b_n = MergedStride(plan.free_b, size, sb);
    if (b_k < 0 || b_n < 0) return std::nullopt;
    if (b_n <= 1) {
      p.ldb = b_k == 0 ? p.n : b_k;
    } else if (b_k <= 1) {
      p.b_transposed = true;
      p.ldb = b_n;
    } else {
      return std::nullopt;
    }
  }
  const int64_t c_row = MergedStride(plan.free_a, size, so);
  const int64_t c_col = MergedStride(plan.free_b, size, so);
  if (c_row < 0 || c_col < 0 || c_col > 1) return std::nullopt;
  p.ldc = c_row == 0 ? p.n : c_row;
  for (char ch : plan.batch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    p.batch_size.push_back(size[c]);
    p.a_stride.push_back(sa[c]);
    p.b_stride.push_back(b_packed ? 0 : sb[c]);
    p.c_stride.push_back(so[c]);
  }
  return p;
}

// out = a b (+ bias per column) over the batch labels of `sp`; see PlanStrided.
void RunStrided(ThreadPool& pool, const StridedProduct& sp, const float* a, const float* b,
                const simd::PackedMatrix* b_packed, const float* bias, float* out) {
  int64_t batches = 1;
  for (int64_t d : sp.batch_size) batches *= d;
  if (batches == 0 || sp.m == 0 || sp.n == 0) return;
  const int rank = static_cast<int>(sp.batch_size.size());
  auto offsets = [&](int64_t bi, int64_t* ao, int64_t* bo, int64_t* co) {
    *ao = *bo = *co = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = bi % sp.batch_size[d];
      bi /= sp.batch_size[d];
      *ao += i * sp.a_stride[d];
      *bo += i * sp.b_stride[d];
      *co += i * sp.c_stride[d];
    }
  };
  bool b_shared = true;
  for (int64_t s : sp.b_stride) b_shared = b_shared && s == 0;
  // Packed panels are read with aligned loads: scratch comes from Tensor (64-byte aligned).
  Tensor shared;
  const float* shared_pb = b_packed != nullptr ? b_packed->data() : nullptr;
  if (shared_pb == nullptr && b_shared) {
    float* buf = Scratch(shared, simd::PackedSize(sp.k, sp.n));
    simd::PackB(b, sp.ldb, sp.b_transposed, sp.k, sp.n, buf);
    shared_pb = buf;
  }
  auto run = [&](int64_t begin, int64_t end, ThreadPool* inner) {
    Tensor packed_holder;
    float* packed = shared_pb == nullptr ? Scratch(packed_holder, simd::PackedSize(sp.k, sp.n))
                                         : nullptr;
    for (int64_t bi = begin; bi < end; ++bi) {
      int64_t ao, bo, co;
      offsets(bi, &ao, &bo, &co);
      const float* pb = shared_pb;
      if (pb == nullptr) {
        simd::PackB(b + bo, sp.ldb, sp.b_transposed, sp.k, sp.n, packed);
        pb = packed;
      }
      simd::GemmParams p{.m = sp.m,
                         .n = sp.n,
                         .k = sp.k,
                         .a = a + ao,
                         .lda = sp.lda,
                         .packed_b = pb,
                         .c = out + co,
                         .ldc = sp.ldc,
                         .bias = bias};
      simd::Gemm(p, inner);
    }
  };
  const int threads = pool.parallelism();
  if (threads > 1 && batches >= threads && batches * sp.m * sp.n * sp.k >= kParallelMacs) {
    pool.ParallelFor(batches, 1, [&](int64_t b0, int64_t b1) { run(b0, b1, nullptr); });
  } else {
    run(0, batches, &pool);
  }
}

class EinsumKernel final : public OpKernel {
 public:
  EinsumKernel(DataType dtype, std::vector<std::string> inputs, std::string output,
               std::optional<EinsumPlan> plan, std::optional<simd::PackedMatrix> b_packed,
               bool fused_bias)
      : dtype_(dtype), inputs_(std::move(inputs)), output_(std::move(output)),
        plan_(std::move(plan)), b_packed_(std::move(b_packed)), fused_bias_(fused_bias) {}

  absl::Status Compute(KernelContext& ctx) const override {
    const int n_in = static_cast<int>(inputs_.size());
    if (ctx.num_inputs() != n_in + (fused_bias_ ? 1 : 0)) {
      return absl::InvalidArgumentError(absl::StrCat("equation has ", n_in, " inputs, got ",
                                                     ctx.num_inputs(), " tensors"));
    }
    if (!fused_bias_) return ComputeEinsum(ctx, nullptr, nullptr);
    // _FusedEinsum: einsum + bias. A bias along the output's trailing (column) dims goes into the
    // product's epilogue; any other broadcast is added afterwards.
    const Tensor& bias = ctx.input(n_in);
    if (bias.dtype() != DataType::kFloat) {
      return absl::InvalidArgumentError(absl::StrCat("input ", n_in, ": expected DT_FLOAT (attr T), got ",
                                                     DataTypeName(bias.dtype())));
    }
    Tensor product;
    return ComputeEinsum(ctx, &bias, &product);
  }

 private:
  // The einsum of the first inputs. With `bias`, either it is folded into the epilogue (the
  // result lands in output 0) or the product lands in `*product` and the sum in output 0.
  absl::Status ComputeEinsum(KernelContext& ctx, const Tensor* bias, Tensor* product_out) const {
    const int n_in = static_cast<int>(inputs_.size());
    for (int i = 0; i < n_in; ++i) RETURN_IF_ERROR(ExpectDType(ctx.input(i), i, dtype_));
    // Expand ellipses: all of them stand for the same (broadcast) dims.
    int ellipsis_rank = 0;
    for (int i = 0; i < n_in; ++i) {
      if (inputs_[i].find("...") != std::string::npos) {
        ellipsis_rank = std::max(ellipsis_rank,
                                 ctx.input(i).rank() - static_cast<int>(inputs_[i].size()) + 3);
      }
    }
    std::vector<std::string> labels(n_in);
    for (int i = 0; i < n_in; ++i) {
      ASSIGN_OR_RETURN(labels[i], ExpandEllipsis(inputs_[i], ctx.input(i).rank(), ellipsis_rank));
      if (static_cast<int>(labels[i].size()) != ctx.input(i).rank()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expected input ", i, " to have rank ", labels[i].size(), " but got: ",
            ctx.input(i).rank()));
      }
    }
    ASSIGN_OR_RETURN(std::string out_labels, ExpandEllipsis(output_, -1, ellipsis_rank));
    // Sizes per label. Named labels must agree exactly (TensorFlow's einsum_op_impl.h); the dims
    // an ellipsis stands for ('0', '1', ...) broadcast, so there 1 matches anything.
    int64_t size[128];
    std::fill_n(size, 128, int64_t{-1});
    for (int i = 0; i < n_in; ++i) {
      for (size_t j = 0; j < labels[i].size(); ++j) {
        const unsigned char c = static_cast<unsigned char>(labels[i][j]);
        const int64_t d = ctx.input(i).dim(static_cast<int>(j));
        const bool broadcast = c >= '0' && c <= '9';
        if (size[c] < 0 || (broadcast && size[c] == 1)) {
          size[c] = d;
        } else if (d != size[c] && !(broadcast && d == 1)) {
          if (broadcast) {
            return absl::InvalidArgumentError(absl::StrCat(
                "Expected broadcast compatible shapes for the dims of \"...\", got ",
                ctx.input(0).shape().DebugString(), " and ", ctx.input(1).shape().DebugString()));
          }
          return absl::InvalidArgumentError(absl::StrCat(
              "Expected dimension ", size[c], " at axis ", j, " of the input shaped ",
              ctx.input(i).shape().DebugString(), " but got dimension ", d));
        }
      }
    }
    Shape out_shape;
    for (char c : out_labels) out_shape.AddDim(size[static_cast<unsigned char>(c)]);
    const size_t elem = DataTypeSize(dtype_);
    // Labels only one operand has and the output lacks are summed out of that operand first.
    Tensor reduced[2];
    const Tensor* operand[2] = {&ctx.input(0), n_in > 1 ? &ctx.input(1) : nullptr};
    for (int i = 0; i < n_in; ++i) {
      const std::string summed =
          SummedLabels(labels[i], n_in > 1 ? labels[1 - i] : std::string(), out_labels);
      if (summed.empty()) continue;
      reduced[i] = SumOutLabels(*operand[i], labels[i], summed);
      operand[i] = &reduced[i];
      labels[i] = WithoutLabels(labels[i], summed);
    }
    if (n_in == 1) {
      if (bias != nullptr) return absl::InternalError("_FusedEinsum needs two operands");
      for (size_t i = 0; i < labels[0].size(); ++i) {
        if (labels[0].find(labels[0][i], i + 1) != std::string::npos ||
            out_labels.find(labels[0][i]) == std::string::npos) {
          return absl::UnimplementedError(absl::StrCat(
              "einsum term \"", inputs_[0], "\" repeats a label (diagonals are not supported)"));
        }
      }
      for (char c : out_labels) {
        if (labels[0].find(c) == std::string::npos) {
          return absl::InvalidArgumentError(absl::StrCat("einsum output label '", std::string(1, c),
                                                         "' appears in no input"));
        }
      }
      Tensor& out = ctx.allocate_output(0, dtype_, out_shape);
      Permute(static_cast<const char*>(operand[0]->raw_data()), operand[0]->shape().dims(),
              PermutationTo(labels[0], out_labels), elem, static_cast<char*>(out.raw_data()));
      return absl::OkStatus();
    }
    EinsumPlan plan;
    if (plan_) {
      plan = *plan_;
    } else {
      ASSIGN_OR_RETURN(plan, Plan(labels[0], labels[1], out_labels));
    }
    const Tensor& a = *operand[plan.swap ? 1 : 0];
    const Tensor& b = *operand[plan.swap ? 0 : 1];
    auto dims_of = [&](const std::string& ls) {
      int64_t p = 1;
      for (char c : ls) p *= size[static_cast<unsigned char>(c)];
      return p;
    };
    // Batch dims as each operand has them (1 where it broadcasts).
    auto operand_batch = [&](const Tensor& t, const std::string& ls) {
      Shape s;
      for (char c : plan.batch) s.AddDim(t.dim(static_cast<int>(ls.find(c))));
      return s;
    };
    const Shape a_batch = operand_batch(a, plan.a_labels);
    const Shape b_batch = operand_batch(b, plan.b_labels);
    Shape out_batch;
    for (char c : plan.batch) out_batch.AddDim(size[static_cast<unsigned char>(c)]);
    const int64_t m = dims_of(plan.free_a), k = dims_of(plan.contract), n = dims_of(plan.free_b);
    const bool needs_copy = !plan.a_perm.empty() || !plan.out_perm.empty() ||
                            (!plan.b_perm.empty() && b_packed_ == std::nullopt);
    if (dtype_ == DataType::kFloat && needs_copy && (bias == nullptr || plan.out_perm.empty())) {
      int64_t sa[128], sb[128], so[128];
      LabelStrides(a, plan.a_labels, size, sa);
      LabelStrides(b, plan.b_labels, size, sb);
      int64_t s = 1;
      for (int i = static_cast<int>(out_labels.size()) - 1; i >= 0; --i) {
        so[static_cast<unsigned char>(out_labels[i])] = s;
        s *= out_shape.dim(i);
      }
      std::vector<float> col_bias;
      if (bias != nullptr) col_bias = BiasPerColumn(*bias, out_shape, n);
      std::optional<StridedProduct> sp =
          PlanStrided(plan, size, sa, sb, so, b_packed_ != std::nullopt);
      if (sp && (bias == nullptr || !col_bias.empty())) {
        Tensor& out = ctx.allocate_output(0, dtype_, out_shape);
        RunStrided(ctx.pool(), *sp, a.data<float>(), b.data<float>(),
                   b_packed_ ? &*b_packed_ : nullptr, col_bias.empty() ? nullptr : col_bias.data(),
                   out.data<float>());
        return absl::OkStatus();
      }
    }
    Tensor a_copy, b_copy, product;
    const void* a_data = a.raw_data();
    const void* b_data = b.raw_data();
    if (!plan.a_perm.empty()) {
      a_copy = Tensor(dtype_, a.shape());
      Permute(static_cast<const char*>(a_data), a.shape().dims(), plan.a_perm, elem,
              static_cast<char*>(a_copy.raw_data()));
      a_data = a_copy.raw_data();
    }
    if (!plan.b_perm.empty() && b_packed_ == std::nullopt) {
      b_copy = Tensor(dtype_, b.shape());
      Permute(static_cast<const char*>(b_data), b.shape().dims(), plan.b_perm, elem,
              static_cast<char*>(b_copy.raw_data()));
      b_data = b_copy.raw_data();
    }
    Shape product_shape = out_batch;
    for (char c : plan.free_a) product_shape.AddDim(size[static_cast<unsigned char>(c)]);
    for (char c : plan.free_b) product_shape.AddDim(size[static_cast<unsigned char>(c)]);
    std::vector<float> column_bias;
    if (bias != nullptr && plan.out_perm.empty()) column_bias = BiasPerColumn(*bias, out_shape, n);
    const bool add_after = bias != nullptr && column_bias.empty();
    Tensor& out = add_after ? (*product_out = Tensor(dtype_, out_shape))
                            : ctx.allocate_output(0, dtype_, out_shape);
    void* product_data = out.raw_data();
    if (!plan.out_perm.empty()) {
      product = Tensor(dtype_, product_shape);
      product_data = product.raw_data();
    }
    RETURN_IF_ERROR(BatchProductTyped(ctx.pool(), dtype_, a_data, a_batch, plan.a_adjoint,
                                      b_data, b_batch, plan.b_adjoint,
                                      b_packed_ ? &*b_packed_ : nullptr, m, k, n, out_batch,
                                      product_data,
                                      column_bias.empty() ? nullptr : column_bias.data()));
    if (!plan.out_perm.empty()) {
      Permute(static_cast<const char*>(product_data), product_shape.dims(), plan.out_perm, elem,
              static_cast<char*>(out.raw_data()));
    }
    if (add_after) return BroadcastAddFloat(ctx, out, *bias);
    return absl::OkStatus();
  }

  const DataType dtype_;
  const std::vector<std::string> inputs_;
  const std::string output_;
  const std::optional<EinsumPlan> plan_;  // when the equation has no ellipsis
  const std::optional<simd::PackedMatrix> b_packed_;
  const bool fused_bias_;  // _FusedEinsum: a bias input follows the operands
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateEinsum(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (!SupportedBatchType(dtype)) {
    return absl::UnimplementedError(absl::StrCat(
        "op \"Einsum\" does not support ", DataTypeName(dtype),
        " (supported: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64)"));
  }
  ASSIGN_OR_RETURN(std::string equation, GetStringAttr(c.node(), "equation"));
  std::optional<EinsumEquation> parsed = ParseEinsumEquation(equation);
  if (!parsed) {
    return absl::UnimplementedError(
        absl::StrCat("einsum equation \"", equation, "\" has no \"->\" (implicit output is not supported)"));
  }
  if (parsed->inputs.size() > 2) {
    return absl::UnimplementedError(
        absl::StrCat("einsum equation \"", equation, "\" has more than two inputs"));
  }
  std::vector<std::string> inputs = std::move(parsed->inputs);
  const std::string output = std::move(parsed->output);
  for (const std::string& term : inputs) {
    for (size_t i = 0; i < term.size(); ++i) {
      const char ch = term[i];
      const bool dots = term.compare(i, 3, "...") == 0;
      if (dots) {
        i += 2;
        continue;
      }
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
        return absl::InvalidArgumentError(
            absl::StrCat("einsum equation \"", equation, "\" has an invalid label"));
      }
    }
  }
  for (const std::string& term : inputs) {
    for (size_t i = 0; i < term.size(); ++i) {
      if (term[i] != '.' && term.find(term[i], i + 1) != std::string::npos) {
        return absl::UnimplementedError(absl::StrCat(
            "einsum equation \"", equation, "\" repeats label '", std::string(1, term[i]),
            "' within a term (diagonals are not supported)"));
      }
    }
  }
  std::optional<EinsumPlan> plan;
  std::optional<simd::PackedMatrix> packed;
  const bool ellipsis =
      output.find("...") != std::string::npos ||
      std::any_of(inputs.begin(), inputs.end(),
                  [](const std::string& t) { return t.find("...") != std::string::npos; });
  if (inputs.size() == 1 && !ellipsis) {
    for (char ch : output) {
      if (inputs[0].find(ch) == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("einsum output label '", std::string(1, ch),
                                                       "' appears in no input"));
      }
    }
  }
  if (inputs.size() == 2 && !ellipsis) {
    const std::string summed0 = SummedLabels(inputs[0], inputs[1], output);
    const std::string summed1 = SummedLabels(inputs[1], inputs[0], output);
    ASSIGN_OR_RETURN(plan, Plan(WithoutLabels(inputs[0], summed0),
                                WithoutLabels(inputs[1], summed1), output));
    // Constant right operand without batch labels (EinsumDense's kernel): pack it now.
    const Tensor* b = c.constant_input(plan->swap ? 0 : 1);
    const bool b_summed = !(plan->swap ? summed0 : summed1).empty();
    if (dtype == DataType::kFloat && b != nullptr && b->dtype() == DataType::kFloat && !b_summed &&
        plan->batch.empty() && b->rank() == static_cast<int>(plan->b_labels.size())) {
      Tensor src = *b;
      if (!plan->b_perm.empty()) {
        src = Tensor(DataType::kFloat, b->shape());
        Permute(static_cast<const char*>(b->raw_data()), b->shape().dims(), plan->b_perm,
                sizeof(float), static_cast<char*>(src.raw_data()));
      }
      int64_t k = 1, n = 1;
      for (size_t i = 0; i < plan->b_labels.size(); ++i) {
        const char label = plan->b_labels[i];
        (plan->contract.find(label) != std::string::npos ? k : n) *= b->dim(static_cast<int>(i));
      }
      packed = simd::PackedMatrix(src.data<float>(), plan->b_adjoint ? k : n, plan->b_adjoint,
                                  k, n);
    }
  }
  bool fused_bias = false;
  if (c.node().op == "_FusedEinsum") {
    ASSIGN_OR_RETURN(FusedOps fused, ParseFusedOps(c.node()));
    if (fused.kind != FusedOps::Kind::kBiasAdd || fused.add ||
        fused.activation != Activation::kNone || dtype != DataType::kFloat || inputs.size() != 2) {
      return absl::UnimplementedError(
          "_FusedEinsum supports only fused_ops [BiasAdd] on two DT_FLOAT operands");
    }
    fused_bias = true;
  }
  return std::make_unique<EinsumKernel>(dtype, std::move(inputs), output, std::move(plan),
                                        std::move(packed), fused_bias);
}

}  // namespace

void RegisterMatMulOps(OpRegistry& registry) {
  registry.Add("BatchMatMul", {.factory = CreateBatchMatMul<false>});
  registry.Add("BatchMatMulV2", {.factory = CreateBatchMatMul<true>});
  registry.Add("BatchMatMulV3", {.factory = CreateBatchMatMul<true>});
  registry.Add("Einsum", {.factory = CreateEinsum});
  registry.Add("_FusedEinsum", {.factory = CreateEinsum});
  registry.Add("MatMul", {.factory = CreateMatMul});
  registry.Add("_FusedMatMul", {.factory = CreateFusedMatMul, .num_outputs = 1});
}

}  // namespace savant::engine
