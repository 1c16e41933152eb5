// MatMul: out[m,n] = op(a)[m,k] * op(b)[k,n], where op transposes when transpose_a / transpose_b
// is set. The loop is i-k-j: each output row accumulates rows of B scaled by one element of A, so
// the innermost loop streams contiguous memory of B and the output and vectorises. A transposed B
// is first copied into row-major order for that reason. Rows of the output are split across the
// pool for large products.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kernel.h"
#include "engine/ops/ops.h"

namespace savant::engine {
namespace {

// Integer products wrap like TensorFlow's on real machines, without signed-overflow UB.
template <typename T>
struct Acc {
  using Type = T;
};
template <>
struct Acc<int32_t> {
  using Type = uint32_t;
};

// Below this many multiply-adds a MatMul stays on its calling thread.
constexpr int64_t kParallelFlops = 1 << 16;

template <typename T>
void MatMulRows(const T* a, bool transpose_a, const T* b, T* out, int64_t m, int64_t k,
                int64_t n, int64_t row_begin, int64_t row_end) {
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

template <typename T>
absl::Status ComputeMatMul(KernelContext& ctx, bool transpose_a, bool transpose_b) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const int64_t m = transpose_a ? a.dim(1) : a.dim(0);
  const int64_t k = transpose_a ? a.dim(0) : a.dim(1);
  const int64_t n = transpose_b ? b.dim(0) : b.dim(1);
  Tensor& out = ctx.allocate_output(0, a.dtype(), Shape{m, n});
  if (m == 0 || n == 0) return absl::OkStatus();
  const T* pb = b.data<T>();
  std::vector<T> b_rows;
  if (transpose_b && k > 0) {
    // b is [n,k]; the loop wants [k,n].
    b_rows.resize(static_cast<size_t>(k * n));
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < k; ++p) b_rows[p * n + j] = pb[j * k + p];
    }
    pb = b_rows.data();
  }
  const T* pa = a.data<T>();
  T* po = out.data<T>();
  if (m * n * k < kParallelFlops || m == 1 || ctx.pool().parallelism() == 1) {
    MatMulRows<T>(pa, transpose_a, pb, po, m, k, n, 0, m);
  } else {
    const int64_t grain = std::max<int64_t>(1, kParallelFlops / std::max<int64_t>(1, n * k));
    ctx.pool().ParallelFor(m, grain, [&](int64_t begin, int64_t end) {
      MatMulRows<T>(pa, transpose_a, pb, po, m, k, n, begin, end);
    });
  }
  return absl::OkStatus();
}

class MatMulKernel final : public OpKernel {
 public:
  MatMulKernel(DataType dtype, bool transpose_a, bool transpose_b)
      : dtype_(dtype), transpose_a_(transpose_a), transpose_b_(transpose_b) {}

  absl::Status Compute(KernelContext& ctx) const override {
    if (ctx.num_inputs() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("expected 2 inputs, got ", ctx.num_inputs()));
    }
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    for (int i = 0; i < 2; ++i) {
      const Tensor& t = ctx.input(i);
      if (t.dtype() != dtype_) {
        return absl::InvalidArgumentError(absl::StrCat("input ", i, ": expected ",
                                                       DataTypeName(dtype_), " (attr T), got ",
                                                       DataTypeName(t.dtype())));
      }
      if (t.rank() != 2) {
        return absl::InvalidArgumentError(absl::StrCat("In[", i, "] is not a matrix. Instead it has shape ",
                                                       t.shape().DebugString()));
      }
    }
    const int64_t ka = transpose_a_ ? a.dim(0) : a.dim(1);
    const int64_t kb = transpose_b_ ? b.dim(1) : b.dim(0);
    if (ka != kb) {
      return absl::InvalidArgumentError(absl::StrCat("Matrix size-incompatible: In[0]: ",
                                                     a.shape().DebugString(), ", In[1]: ",
                                                     b.shape().DebugString()));
    }
    switch (dtype_) {
      case DataType::kFloat: return ComputeMatMul<float>(ctx, transpose_a_, transpose_b_);
      case DataType::kDouble: return ComputeMatMul<double>(ctx, transpose_a_, transpose_b_);
      case DataType::kInt32: return ComputeMatMul<int32_t>(ctx, transpose_a_, transpose_b_);
      default: return absl::InternalError("MatMul kernel built for an unsupported dtype");
    }
  }

 private:
  const DataType dtype_;
  const bool transpose_a_;
  const bool transpose_b_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> CreateMatMul(const KernelConstruction& c) {
  ASSIGN_OR_RETURN(DataType dtype, GetTypeAttr(c.node(), "T"));
  if (dtype != DataType::kFloat && dtype != DataType::kDouble && dtype != DataType::kInt32) {
    return absl::UnimplementedError(
        absl::StrCat("op \"MatMul\" does not support ", DataTypeName(dtype),
                     " (supported: DT_FLOAT, DT_DOUBLE, DT_INT32)"));
  }
  return std::make_unique<MatMulKernel>(dtype, GetBoolAttrOr(c.node(), "transpose_a", false),
                                        GetBoolAttrOr(c.node(), "transpose_b", false));
}

}  // namespace

void RegisterMatMulOps(OpRegistry& registry) {
  registry.Add("MatMul", {.factory = CreateMatMul});
}

}  // namespace savant::engine
