#include <string>
#include <tuple>
#include <vector>

#include "engine/ops/op_test_util.h"
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

}  // namespace
}  // namespace savant::engine
