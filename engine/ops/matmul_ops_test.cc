#include <cmath>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "engine/ops/ops.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeTensor;
using testing::OpTest;

template <typename T>
absl::StatusOr<Tensor> RunMatMul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false,
                                 ThreadPool* pool = nullptr) {
  OpTest t("MatMul");
  t.TypeAttr("T", DataTypeOf<T>())
      .BoolAttr("transpose_a", ta)
      .BoolAttr("transpose_b", tb)
      .Input(a)
      .Input(b)
      .UsePool(pool);
  auto out = t.Run();
  if (!out.ok()) return out.status();
  return (*out)[0];
}

template <typename T>
class MatMulTypedTest : public ::testing::Test {};
using MatMulTypes = ::testing::Types<float, double, int32_t>;
TYPED_TEST_SUITE(MatMulTypedTest, MatMulTypes);

// a = [[1,2,3],[4,5,6]], b = [[7,8],[9,10],[11,12]]: a.b = [[58,64],[139,154]].
TYPED_TEST(MatMulTypedTest, AllTransposeCombinations) {
  using T = TypeParam;
  const Tensor a = MakeTensor<T>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor at = MakeTensor<T>({3, 2}, {1, 4, 2, 5, 3, 6});
  const Tensor b = MakeTensor<T>({3, 2}, {7, 8, 9, 10, 11, 12});
  const Tensor bt = MakeTensor<T>({2, 3}, {7, 9, 11, 8, 10, 12});
  const std::vector<T> expected = {58, 64, 139, 154};
  for (auto [lhs, rhs, ta, tb] :
       {std::tuple{&a, &b, false, false}, std::tuple{&at, &b, true, false},
        std::tuple{&a, &bt, false, true}, std::tuple{&at, &bt, true, true}}) {
    SCOPED_TRACE(::testing::Message() << "transpose_a=" << ta << " transpose_b=" << tb);
    auto out = RunMatMul<T>(*lhs, *rhs, ta, tb);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectTensor<T>(*out, Shape{2, 2}, expected);
  }
}

TYPED_TEST(MatMulTypedTest, VectorShapesAndEmpty) {
  using T = TypeParam;
  // [1,3] x [3,1]
  auto dot = RunMatMul<T>(MakeTensor<T>({1, 3}, {1, 2, 3}), MakeTensor<T>({3, 1}, {4, 5, 6}));
  ASSERT_TRUE(dot.ok());
  ExpectTensor<T>(*dot, Shape{1, 1}, {32});
  // Empty outer dims.
  auto empty = RunMatMul<T>(MakeTensor<T>({0, 3}, {}), MakeTensor<T>({3, 2}, {1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(empty.ok());
  ExpectTensor<T>(*empty, Shape{0, 2}, {});
  // Empty inner dim: the sum over nothing is zero.
  auto zero_k = RunMatMul<T>(MakeTensor<T>({2, 0}, {}), MakeTensor<T>({0, 2}, {}));
  ASSERT_TRUE(zero_k.ok());
  ExpectTensor<T>(*zero_k, Shape{2, 2}, {0, 0, 0, 0});
}

TEST(MatMulTest, SizeMismatchNamesBothShapes) {
  auto out = RunMatMul<float>(MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}),
                              MakeTensor<float>({4, 1}, {1, 2, 3, 4}));
  ExpectError(out.status(), absl::StatusCode::kInvalidArgument,
              "Matrix size-incompatible: In[0]: [2,3], In[1]: [4,1]");
  auto transposed = RunMatMul<float>(MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}),
                                     MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}), false, false);
  ExpectError(transposed.status(), absl::StatusCode::kInvalidArgument,
              "In[0]: [2,3], In[1]: [2,3]");
}

TEST(MatMulTest, RankAndDtypeErrors) {
  auto vec =
      RunMatMul<float>(MakeTensor<float>({3}, {1, 2, 3}), MakeTensor<float>({3, 1}, {1, 2, 3}));
  ExpectError(vec.status(), absl::StatusCode::kInvalidArgument,
              "In[0] is not a matrix. Instead it has shape [3]");
  OpTest t("MatMul");
  t.TypeAttr("T", DataType::kFloat)
      .Input(MakeTensor<float>({1, 1}, {1}))
      .Input(MakeTensor<double>({1, 1}, {1}));
  ExpectError(t.Run().status(), absl::StatusCode::kInvalidArgument, "expected DT_FLOAT");
  OpTest i64("MatMul");
  i64.TypeAttr("T", DataType::kInt64);
  ExpectError(i64.Build(), absl::StatusCode::kUnimplemented, "DT_INT64");
}

TEST(MatMulTest, LargeProductSplitAcrossThreads) {
  ThreadPool pool(2);
  const int64_t m = 67, k = 45, n = 33;
  std::vector<float> a(m * k), b(k * n), expected(m * n, 0);
  for (int64_t i = 0; i < m * k; ++i) a[i] = static_cast<float>((i * 7) % 11) - 5;
  for (int64_t i = 0; i < k * n; ++i) b[i] = static_cast<float>((i * 3) % 13) - 6;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += a[i * k + p] * b[p * n + j];
      expected[i * n + j] = sum;
    }
  }
  auto out = RunMatMul<float>(MakeTensor<float>({m, k}, a), MakeTensor<float>({k, n}, b), false,
                              false, &pool);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>(*out, Shape{m, n}, expected);
}


std::vector<float> RandomVec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Float sums of up to 784 products: each ISA accumulates in its own order (AVX2 and scalar in
// fewer, longer chains than AVX-512), which moves results by about 1e-5; the goldens' 1e-4.
void ExpectAllNear(const Tensor& t, const Shape& shape, const std::vector<float>& want) {
  ASSERT_EQ(t.shape(), shape) << t.DebugString();
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(t.flat<float>()[i], want[i], 1e-4 * std::max(1.0f, std::abs(want[i]))) << i;
  }
}

TEST(MatMulTest, FloatFastPathMatchesReferenceForServingShapes) {
  ThreadPool pool(2);
  for (auto [m, k, n] : {std::tuple{1, 784, 512}, std::tuple{3, 100, 33}, std::tuple{32, 64, 10},
                         std::tuple{130, 17, 70}}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const auto a = RandomVec(m * k, 1), b = RandomVec(k * n, 2);
        std::vector<float> want(m * n, 0);
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int p = 0; p < k; ++p) {
              sum += double(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            }
            want[i * n + j] = static_cast<float>(sum);
          }
        }
        auto out = RunMatMul<float>(MakeTensor<float>(ta ? Shape{k, m} : Shape{m, k}, a),
                                    MakeTensor<float>(tb ? Shape{n, k} : Shape{k, n}, b), ta, tb,
                                    &pool);
        ASSERT_TRUE(out.ok()) << out.status();
        ExpectAllNear(*out, Shape{m, n}, want);
      }
    }
  }
}

TEST(FusedMatMulTest, BiasAndActivationsMatchUnfusedFormulas) {
  const auto a = RandomVec(4 * 6, 3), b = RandomVec(6 * 5, 4), bias = RandomVec(5, 5);
  for (const char* act : {"", "Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh",
                          "GeluApproximate", "GeluExact"}) {
    SCOPED_TRACE(act);
    OpTest t("_FusedMatMul");
    tensorflow::AttrValue ops;
    ops.mutable_list()->add_s("BiasAdd");
    if (*act) ops.mutable_list()->add_s(act);
    t.TypeAttr("T", DataType::kFloat)
        .Attr("fused_ops", ops)
        .IntAttr("num_args", 1)
        .FloatAttr("leakyrelu_alpha", 0.25f)
        .Input(MakeTensor<float>({4, 6}, a))
        .Input(MakeTensor<float>({6, 5}, b))
        .Input(MakeTensor<float>({5}, bias));
    std::vector<float> want(20);
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 5; ++j) {
        double x = bias[j];
        for (int p = 0; p < 6; ++p) x += double(a[i * 6 + p]) * b[p * 5 + j];
        const std::string name = act;
        if (name == "Relu") x = std::max(x, 0.0);
        if (name == "Relu6") x = std::min(std::max(x, 0.0), 6.0);
        if (name == "Elu") x = x < 0 ? std::expm1(x) : x;
        if (name == "LeakyRelu") x = x < 0 ? 0.25 * x : x;
        if (name == "Sigmoid") x = 1 / (1 + std::exp(-x));
        if (name == "Tanh") x = std::tanh(x);
        if (name == "GeluApproximate") x = 0.5 * x * (1 + std::tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
        if (name == "GeluExact") x = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        want[i * 5 + j] = static_cast<float>(x);
      }
    }
    auto out = t.Run();
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectAllNear((*out)[0], Shape{4, 5}, want);
  }
  OpTest bad("_FusedMatMul");
  tensorflow::AttrValue ops;
  ops.mutable_list()->add_s("BiasAdd");
  bad.TypeAttr("T", DataType::kFloat)
      .Attr("fused_ops", ops)
      .IntAttr("num_args", 1)
      .Input(MakeTensor<float>({1, 2}, {1, 2}))
      .Input(MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}))
      .Input(MakeTensor<float>({2}, {1, 2}));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument, "as many biases");
}

// out[b] = op(x[b]) op(y[b]) by brute force, with numpy broadcasting of the batch dims.
std::vector<float> NaiveBatchMatMul(const Tensor& x, const Tensor& y, bool adj_x, bool adj_y,
                                    Shape* out_shape) {
  const int xr = x.rank(), yr = y.rank();
  Shape xb, yb;
  for (int i = 0; i < xr - 2; ++i) xb.AddDim(x.dim(i));
  for (int i = 0; i < yr - 2; ++i) yb.AddDim(y.dim(i));
  Shape ob = *BroadcastShapes(xb, yb);
  const int64_t m = adj_x ? x.dim(xr - 1) : x.dim(xr - 2), k = adj_x ? x.dim(xr - 2) : x.dim(xr - 1);
  const int64_t n = adj_y ? y.dim(yr - 2) : y.dim(yr - 1);
  *out_shape = ob;
  out_shape->AddDim(m);
  out_shape->AddDim(n);
  const auto xs = BroadcastStrides(xb, ob), ys = BroadcastStrides(yb, ob);
  std::vector<float> out;
  for (int64_t b = 0; b < ob.num_elements(); ++b) {
    int64_t rem = b, xo = 0, yo = 0;
    for (int d = ob.rank() - 1; d >= 0; --d) {
      xo += (rem % ob.dim(d)) * xs[d];
      yo += (rem % ob.dim(d)) * ys[d];
      rem /= ob.dim(d);
    }
    const float* xp = x.data<float>() + xo * m * k;
    const float* yp = y.data<float>() + yo * k * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          sum += double(adj_x ? xp[p * m + i] : xp[i * k + p]) * (adj_y ? yp[j * k + p] : yp[p * n + j]);
        }
        out.push_back(static_cast<float>(sum));
      }
    }
  }
  return out;
}

TEST(BatchMatMulTest, BroadcastsBatchDimsAndAdjoints) {
  ThreadPool pool(2);
  struct Case {
    Shape x, y;
    bool adj_x, adj_y;
  };
  for (const Case& c : {Case{{2, 3, 4}, {2, 4, 5}, false, false}, Case{{2, 1, 3, 4}, {5, 5, 4}, false, true},
                        Case{{3, 4, 2}, {4, 6}, true, false}, Case{{7, 16, 8}, {8, 9}, false, false},
                        Case{{1, 4, 3}, {6, 5, 4}, true, true}}) {
    const Tensor x = MakeTensor<float>(c.x, RandomVec(c.x.num_elements(), 6));
    const Tensor y = MakeTensor<float>(c.y, RandomVec(c.y.num_elements(), 7));
    Shape shape;
    const auto want = NaiveBatchMatMul(x, y, c.adj_x, c.adj_y, &shape);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      OpTest t("BatchMatMulV2");
      t.TypeAttr("T", DataType::kFloat).BoolAttr("adj_x", c.adj_x).BoolAttr("adj_y", c.adj_y);
      t.Input(x).Input(y).UsePool(p);
      auto out = t.Run();
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectAllNear((*out)[0], shape, want);
    }
  }
  OpTest bad("BatchMatMulV2");
  bad.TypeAttr("T", DataType::kFloat)
      .Input(MakeTensor<float>({2, 2, 3}, std::vector<float>(12, 1)))
      .Input(MakeTensor<float>({3, 3, 2}, std::vector<float>(18, 1)));
  ExpectError(bad.Run().status(), absl::StatusCode::kInvalidArgument, "compatible batch dimensions");
  OpTest v1("BatchMatMul");
  v1.TypeAttr("T", DataType::kFloat)
      .Input(MakeTensor<float>({2, 2, 3}, std::vector<float>(12, 1)))
      .Input(MakeTensor<float>({3, 2}, std::vector<float>(6, 1)));
  ExpectError(v1.Run().status(), absl::StatusCode::kInvalidArgument, "same batch dimensions");
  OpTest d("BatchMatMulV2");
  d.TypeAttr("T", DataType::kDouble)
      .Input(MakeTensor<double>({2, 1, 2}, {1, 2, 3, 4}))
      .Input(MakeTensor<double>({2, 1}, {10, 100}));
  auto dout = d.Run();
  ASSERT_TRUE(dout.ok()) << dout.status();
  ExpectTensor<double>((*dout)[0], Shape{2, 1, 1}, {210, 430});
}

// Brute-force einsum over every assignment of the labels.
std::vector<float> NaiveEinsum(const std::string& in0, const Tensor& a, const std::string& in1,
                               const Tensor& b, const std::string& out, Shape* out_shape) {
  std::map<char, int64_t> size;
  for (size_t i = 0; i < in0.size(); ++i) size[in0[i]] = a.dim(i);
  for (size_t i = 0; i < in1.size(); ++i) size[in1[i]] = b.dim(i);
  Shape shape;
  for (char c : out) shape.AddDim(size[c]);
  *out_shape = shape;
  std::vector<char> labels;
  for (auto& [c, s] : size) labels.push_back(c);
  std::vector<double> acc(out_shape->num_elements(), 0);
  std::map<char, int64_t> idx;
  for (char c : labels) idx[c] = 0;
  auto flat = [&](const std::string& ls, const Shape& shape) {
    int64_t f = 0;
    for (size_t i = 0; i < ls.size(); ++i) f = f * shape.dim(i) + idx[ls[i]];
    return f;
  };
  for (;;) {
    acc[flat(out, *out_shape)] +=
        double(a.data<float>()[flat(in0, a.shape())]) * b.data<float>()[flat(in1, b.shape())];
    size_t d = 0;
    for (; d < labels.size(); ++d) {
      if (++idx[labels[d]] < size[labels[d]]) break;
      idx[labels[d]] = 0;
    }
    if (d == labels.size()) break;
  }
  return std::vector<float>(acc.begin(), acc.end());
}

// The same for a whole two-operand equation "in0,in1->out".
std::vector<float> NaiveEinsum(const std::string& eq, const Tensor& a, const Tensor& b, Shape* out_shape) {
  const size_t comma = eq.find(','), arrow = eq.find("->");
  return NaiveEinsum(eq.substr(0, comma), a, eq.substr(comma + 1, arrow - comma - 1), b, eq.substr(arrow + 2),
                     out_shape);
}

TEST(EinsumTest, KerasEquationsMatchBruteForce) {
  struct Case {
    std::string eq;
    Shape a, b;
  };
  for (const Case& c : {Case{"abc,cd->abd", {2, 3, 4}, {4, 5}}, Case{"abc,cde->abde", {2, 3, 4}, {4, 2, 3}},
                        Case{"abcd,cde->abe", {2, 3, 2, 4}, {2, 4, 5}},
                        Case{"aecd,abcd->acbe", {2, 5, 2, 3}, {2, 4, 2, 3}},
                        Case{"acbe,aecd->abcd", {2, 2, 4, 5}, {2, 5, 2, 3}},
                        Case{"ab,bc->ac", {3, 4}, {4, 5}}, Case{"ij,kj->ik", {3, 4}, {5, 4}},
                        Case{"bij,bjk->bik", {2, 3, 4}, {2, 4, 5}}}) {
    SCOPED_TRACE(c.eq);
    const Tensor a = MakeTensor<float>(c.a, RandomVec(c.a.num_elements(), 8));
    const Tensor b = MakeTensor<float>(c.b, RandomVec(c.b.num_elements(), 9));
    Shape shape;
    const auto want = NaiveEinsum(c.eq, a, b, &shape);
    OpTest t("Einsum");
    t.TypeAttr("T", DataType::kFloat).StringAttr("equation", c.eq).IntAttr("N", 2).Input(a).Input(b);
    auto out = t.Run();
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectAllNear((*out)[0], shape, want);
  }
}

// MultiHeadAttention's equations at sizes that exercise the strided path (per-head matrices read
// in place with row strides): rows not a multiple of the 8-row block, columns past one 32-wide
// panel, a long contraction, and batches split across two threads.
TEST(EinsumTest, AttentionEquationsAtOddSizesOnTwoThreads) {
  struct Case {
    std::string eq;
    Shape a, b;
  };
  ThreadPool pool(2);
  for (const Case& c : {Case{"aecd,abcd->acbe", {3, 33, 4, 65}, {3, 37, 4, 65}},
                        Case{"acbe,aecd->abcd", {3, 4, 37, 33}, {3, 33, 4, 65}},
                        Case{"aecd,abcd->acbe", {1, 1, 2, 7}, {1, 9, 2, 7}},
                        Case{"abcd,aecd->acbe", {2, 5, 3, 1}, {2, 6, 3, 1}}}) {
    SCOPED_TRACE(c.eq);
    const Tensor a = MakeTensor<float>(c.a, RandomVec(c.a.num_elements(), 21));
    const Tensor b = MakeTensor<float>(c.b, RandomVec(c.b.num_elements(), 22));
    Shape shape;
    const auto want = NaiveEinsum(c.eq, a, b, &shape);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      OpTest t("Einsum");
      if (p != nullptr) t.UsePool(p);
      t.TypeAttr("T", DataType::kFloat).StringAttr("equation", c.eq).IntAttr("N", 2).Input(a).Input(b);
      auto out = t.Run();
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectAllNear((*out)[0], shape, want);
    }
  }
}

TEST(EinsumTest, EllipsisTransposeAndErrors) {
  const Tensor a = MakeTensor<float>({2, 3, 4}, RandomVec(24, 10));
  const Tensor w = MakeTensor<float>({4, 5}, RandomVec(20, 11));
  Shape shape;
  const auto want = NaiveEinsum("abc", a, "cd", w, "abd", &shape);
  OpTest t("Einsum");
  t.TypeAttr("T", DataType::kFloat).StringAttr("equation", "...c,cd->...d").Input(a).Input(w);
  auto out = t.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectAllNear((*out)[0], shape, want);
  OpTest tr("Einsum");
  tr.TypeAttr("T", DataType::kFloat).StringAttr("equation", "ij->ji").Input(MakeTensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto tout = tr.Run();
  ASSERT_TRUE(tout.ok()) << tout.status();
  ExpectTensor<float>((*tout)[0], Shape{3, 2}, {1, 4, 2, 5, 3, 6});
  OpTest diag("Einsum");
  diag.TypeAttr("T", DataType::kFloat).StringAttr("equation", "ii,ij->ij");
  ExpectError(diag.Build(), absl::StatusCode::kUnimplemented, "repeats");
  OpTest mismatch("Einsum");
  mismatch.TypeAttr("T", DataType::kFloat)
      .StringAttr("equation", "ab,bc->ac")
      .Input(MakeTensor<float>({2, 3}, RandomVec(6, 1)))
      .Input(MakeTensor<float>({4, 2}, RandomVec(8, 1)));
  ExpectError(mismatch.Run().status(), absl::StatusCode::kInvalidArgument, "Expected dimension");
  // Named labels never broadcast (only the dims of "..." do): TensorFlow rejects a 1 against 3.
  OpTest no_broadcast("Einsum");
  no_broadcast.TypeAttr("T", DataType::kFloat)
      .StringAttr("equation", "bij,bjk->bik")
      .Input(MakeTensor<float>({1, 2, 3}, RandomVec(6, 1)))
      .Input(MakeTensor<float>({3, 3, 2}, RandomVec(18, 1)));
  ExpectError(no_broadcast.Run().status(), absl::StatusCode::kInvalidArgument,
              "Expected dimension 1 at axis 0 of the input shaped [3,3,2] but got dimension 3");
}

// Labels that only one operand has and the output lacks are summed out first, as TensorFlow does.
TEST(EinsumTest, SumsLabelsFoundInOneOperandOnly) {
  OpTest rows("Einsum");
  rows.TypeAttr("T", DataType::kInt32).StringAttr("equation", "ij->i")
      .Input(MakeTensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto r = rows.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectTensor<int32_t>((*r)[0], Shape{2}, {6, 15});
  OpTest all("Einsum");
  all.TypeAttr("T", DataType::kFloat).StringAttr("equation", "ij->")
      .Input(MakeTensor<float>({2, 2}, {1, 2, 3, 4}));
  auto a = all.Run();
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectTensor<float>((*a)[0], Shape{}, {10});
  // sum_i a[i, j] = [4, 6], then [4, 6] x [[1, 2], [3, 4]] = [22, 32].
  OpTest two("Einsum");
  two.TypeAttr("T", DataType::kFloat).StringAttr("equation", "ij,jk->k")
      .Input(MakeTensor<float>({2, 2}, {1, 2, 3, 4}))
      .Input(MakeTensor<float>({2, 2}, {1, 2, 3, 4}));
  auto t = two.Run();
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectTensor<float>((*t)[0], Shape{2}, {22, 32});
}

}  // namespace
}  // namespace savant::engine
