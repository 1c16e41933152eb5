#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "gtest/gtest.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"
#include "tests/util/fixtures.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeStrings;
using testing::MakeTensor;
using testing::OpTest;

tensorflow::Feature Floats(std::vector<float> v) {
  tensorflow::Feature f;
  for (float x : v) f.mutable_float_list()->add_value(x);
  if (v.empty()) f.mutable_float_list();
  return f;
}
tensorflow::Feature Int64s(std::vector<int64_t> v) {
  tensorflow::Feature f;
  for (int64_t x : v) f.mutable_int64_list()->add_value(x);
  if (v.empty()) f.mutable_int64_list();
  return f;
}
tensorflow::Feature Bytes(std::vector<std::string> v) {
  tensorflow::Feature f;
  for (const auto& x : v) f.mutable_bytes_list()->add_value(x);
  if (v.empty()) f.mutable_bytes_list();
  return f;
}

std::string Example(std::vector<std::pair<std::string, tensorflow::Feature>> features) {
  tensorflow::Example e;
  for (auto& [key, f] : features) (*e.mutable_features()->mutable_feature())[key] = f;
  return e.SerializeAsString();
}

Tensor Batch(std::vector<std::string> serialized) {
  const int64_t n = static_cast<int64_t>(serialized.size());
  return MakeStrings({n}, serialized);
}

const Tensor kNoNames = MakeStrings({0}, {});
const Tensor kRequiredFloat = MakeTensor<float>({0}, {});

// The TF1 graph of TF Serving's half_plus_two: tf.parse_example with FixedLenFeature([1], float)
// for "x" (required) and "x2" (default 0... here 5).
OpTest HalfPlusTwoParser() {
  OpTest t("ParseExample", "ParseExample/ParseExample");
  t.IntAttr("Nsparse", 0)
      .IntAttr("Ndense", 2)
      .TypeListAttr("sparse_types", {})
      .TypeListAttr("Tdense", {DataType::kFloat, DataType::kFloat})
      .ShapeListAttr("dense_shapes", {PartialShape{1}, PartialShape{1}});
  return t;
}

void AddHalfPlusTwoInputs(OpTest& t, const Tensor& serialized, const Tensor& names = kNoNames) {
  t.Input(serialized)
      .Input(names)
      .Input(MakeStrings({}, {"x"}))
      .Input(MakeStrings({}, {"x2"}))
      .Input(kRequiredFloat)
      .Input(MakeTensor<float>({1}, {5}));
}

TEST(ParseExampleTest, HalfPlusTwoDenseFeaturesWithDefault) {
  OpTest t = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(t, Batch({Example({{"x", Floats({1})}, {"x2", Floats({3})}}),
                                 Example({{"x", Floats({-2.5f})}, {"other", Int64s({1})}})}));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{2, 1}, {1, -2.5f});
  ExpectTensor<float>((*out)[1], Shape{2, 1}, {3, 5});
}

TEST(ParseExampleTest, MissingRequiredFeature) {
  OpTest t = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(t, Batch({Example({{"x2", Floats({3})}})}));
  auto out = t.Run(2);
  ExpectError(out.status(), absl::StatusCode::kInvalidArgument,
              "Name: <unknown>, Feature: x (data type: float) is required but could not be "
              "found.");
  // A feature with no kind set counts as missing.
  OpTest empty_kind = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(empty_kind, Batch({Example({{"x", tensorflow::Feature()}})}),
                       MakeStrings({1}, {"ex0"}));
  ExpectError(empty_kind.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Name: ex0, Feature: x (data type: float) is required");
}

TEST(ParseExampleTest, WrongSizeAndWrongType) {
  OpTest size = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(size,
                       Batch({Example({{"x", Floats({1})}}), Example({{"x", Floats({1, 2})}})}));
  ExpectError(size.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Name: <unknown>, Key: x, Index: 1.  Number of float values != expected.  Values "
              "size: 2 but output shape: [1]");
  OpTest type = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(type, Batch({Example({{"x", Int64s({1})}})}));
  ExpectError(type.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Key: x, Index: 0.  Data types don't match. Data type: int64 but expected type: "
              "float");
}

TEST(ParseExampleTest, MalformedSerializedExample) {
  OpTest t = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(t, Batch({std::string("\x0a\xff\xff", 3)}));
  ExpectError(t.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Could not parse example input, value: '\\n\\xff\\xff'");
}

TEST(ParseExampleTest, InputShapeErrors) {
  OpTest scalar = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(scalar, MakeStrings({}, {Example({{"x", Floats({1})}})}));
  ExpectError(scalar.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Expected serialized to be a vector, got shape: []");
  OpTest names = HalfPlusTwoParser();
  AddHalfPlusTwoInputs(names, Batch({Example({{"x", Floats({1})}})}), MakeStrings({2}, {"a", "b"}));
  ExpectError(names.Run(2).status(), absl::StatusCode::kInvalidArgument,
              "Expected names have the same shape as serialized: name.shape=[2], "
              "serialized.shape=[1]");
  OpTest default_dtype("ParseExample");
  default_dtype.IntAttr("Nsparse", 0)
      .IntAttr("Ndense", 1)
      .TypeListAttr("Tdense", {DataType::kFloat})
      .ShapeListAttr("dense_shapes", {PartialShape{1}})
      .Input(Batch({}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"x"}))
      .Input(MakeTensor<int64_t>({1}, {0}));
  ExpectError(default_dtype.Run(1).status(), absl::StatusCode::kInvalidArgument,
              "dense_defaults[0].dtype() == int64 != dense_types_[0] == float");
  OpTest default_shape("ParseExample");
  default_shape.IntAttr("Nsparse", 0)
      .IntAttr("Ndense", 1)
      .TypeListAttr("Tdense", {DataType::kFloat})
      .ShapeListAttr("dense_shapes", {PartialShape{2}})
      .Input(Batch({}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"x"}))
      .Input(MakeTensor<float>({3}, {0, 0, 0}));
  ExpectError(default_shape.Run(1).status(), absl::StatusCode::kInvalidArgument,
              "def_value[0].shape() == [3] is not compatible with dense_shapes_[0] == [2]");
}

TEST(ParseExampleTest, EmptyBatch) {
  OpTest t("ParseExample");
  t.IntAttr("Nsparse", 1)
      .IntAttr("Ndense", 1)
      .TypeListAttr("sparse_types", {DataType::kInt64})
      .TypeListAttr("Tdense", {DataType::kFloat})
      .ShapeListAttr("dense_shapes", {PartialShape{1}})
      .Input(Batch({}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"s"}))
      .Input(MakeStrings({}, {"x"}))
      .Input(kRequiredFloat);
  auto out = t.Run(4);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int64_t>((*out)[0], Shape{0, 2}, {});
  ExpectTensor<int64_t>((*out)[1], Shape{0}, {});
  ExpectTensor<int64_t>((*out)[2], Shape{2}, {0, 0});
  ExpectTensor<float>((*out)[3], Shape{0, 1}, {});
}

TEST(ParseExampleTest, SparseFeaturesAsCoo) {
  OpTest t("ParseExample");
  t.IntAttr("Nsparse", 2)
      .IntAttr("Ndense", 0)
      .TypeListAttr("sparse_types", {DataType::kInt64, DataType::kString})
      .TypeListAttr("Tdense", {})
      .ShapeListAttr("dense_shapes", {})
      .Input(Batch({Example({{"ids", Int64s({4, 5, 6})}, {"tags", Bytes({"a"})}}), Example({}),
                    Example({{"ids", Int64s({7})}, {"tags", Bytes({})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"ids"}))
      .Input(MakeStrings({}, {"tags"}));
  auto out = t.Run(6);
  ASSERT_TRUE(out.ok()) << out.status();
  // Outputs: indices[ids], indices[tags], values[ids], values[tags], shapes[ids], shapes[tags].
  ExpectTensor<int64_t>((*out)[0], Shape{4, 2}, {0, 0, 0, 1, 0, 2, 2, 0});
  ExpectTensor<int64_t>((*out)[1], Shape{1, 2}, {0, 0});
  ExpectTensor<int64_t>((*out)[2], Shape{4}, {4, 5, 6, 7});
  ExpectTensor<std::string>((*out)[3], Shape{1}, {"a"});
  ExpectTensor<int64_t>((*out)[4], Shape{2}, {3, 3});
  ExpectTensor<int64_t>((*out)[5], Shape{2}, {3, 1});

  OpTest wrong("ParseExample");
  wrong.IntAttr("Nsparse", 1)
      .IntAttr("Ndense", 0)
      .TypeListAttr("sparse_types", {DataType::kFloat})
      .Input(Batch({Example({{"ids", Int64s({1})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"ids"}));
  ExpectError(wrong.Run(3).status(), absl::StatusCode::kInvalidArgument,
              "Data types don't match. Expected type: float, Actual type: int64");
}

TEST(ParseExampleTest, MultiDimensionalAndStringDense) {
  OpTest t("ParseExample");
  t.IntAttr("Nsparse", 0)
      .IntAttr("Ndense", 2)
      .TypeListAttr("Tdense", {DataType::kInt64, DataType::kString})
      .ShapeListAttr("dense_shapes", {PartialShape{2, 2}, PartialShape(Shape{})})
      .Input(Batch({Example({{"m", Int64s({1, 2, 3, 4})}, {"s", Bytes({"hello"})}}), Example({})}))
      .Input(kNoNames)
      .Input(MakeStrings({}, {"m"}))
      .Input(MakeStrings({}, {"s"}))
      .Input(MakeTensor<int64_t>({2, 2}, {0, 0, 0, -1}))
      .Input(MakeStrings({}, {"none"}));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int64_t>((*out)[0], Shape{2, 2, 2}, {1, 2, 3, 4, 0, 0, 0, -1});
  ExpectTensor<std::string>((*out)[1], Shape{2}, {"hello", "none"});
}

OpTest V2Parser(std::vector<DataType> tdense, std::vector<PartialShape> shapes, int num_sparse,
                std::vector<DataType> sparse_types, std::vector<DataType> ragged_values = {},
                std::vector<DataType> ragged_splits = {}) {
  OpTest t("ParseExampleV2");
  t.TypeListAttr("Tdense", tdense)
      .ShapeListAttr("dense_shapes", shapes)
      .IntAttr("num_sparse", num_sparse)
      .TypeListAttr("sparse_types", sparse_types)
      .TypeListAttr("ragged_value_types", ragged_values)
      .TypeListAttr("ragged_split_types", ragged_splits);
  return t;
}

TEST(ParseExampleV2Test, HalfPlusTwoTf2Signature) {
  OpTest t =
      V2Parser({DataType::kFloat, DataType::kFloat}, {PartialShape{1}, PartialShape{1}}, 0, {});
  t.Input(Batch({Example({{"x", Floats({4})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({2}, {"x", "x2"}))
      .Input(MakeStrings({0}, {}))
      .Input(kRequiredFloat)
      .Input(MakeTensor<float>({1}, {0}));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{1, 1}, {4});
  ExpectTensor<float>((*out)[1], Shape{1, 1}, {0});
}

TEST(ParseExampleV2Test, VariableLengthDenseIsPadded) {
  OpTest t = V2Parser({DataType::kFloat, DataType::kInt64}, {PartialShape{-1}, PartialShape{-1, 2}},
                      0, {});
  t.Input(Batch({Example({{"v", Floats({1, 2, 3})}, {"p", Int64s({1, 2})}}),
                 Example({{"v", Floats({4})}}), Example({{"p", Int64s({3, 4, 5, 6})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({2}, {"v", "p"}))
      .Input(MakeStrings({0}, {}))
      .Input(MakeScalar<float>(-1))
      .Input(MakeScalar<int64_t>(0));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{3, 3}, {1, 2, 3, 4, -1, -1, -1, -1, -1});
  ExpectTensor<int64_t>((*out)[1], Shape{3, 2, 2}, {1, 2, 0, 0, 0, 0, 0, 0, 3, 4, 5, 6});

  OpTest stride = V2Parser({DataType::kInt64}, {PartialShape{-1, 2}}, 0, {});
  stride.Input(Batch({Example({{"p", Int64s({1, 2, 3})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({1}, {"p"}))
      .Input(MakeStrings({0}, {}))
      .Input(MakeScalar<int64_t>(0));
  ExpectError(stride.Run(1).status(), absl::StatusCode::kInvalidArgument,
              "Number of int64 values is not a multiple of stride length. Saw 3 values but output "
              "shape is: [?,2]");
}

TEST(ParseExampleV2Test, RaggedFeatures) {
  OpTest t = V2Parser({}, {}, 0, {}, {DataType::kString, DataType::kFloat},
                      {DataType::kInt64, DataType::kInt32});
  t.Input(Batch({Example({{"w", Bytes({"a", "b"})}, {"f", Floats({0.5f})}}),
                 Example({{"f", Floats({1, 2})}})}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({2}, {"w", "f"}));
  auto out = t.Run(4);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<std::string>((*out)[0], Shape{2}, {"a", "b"});
  ExpectTensor<float>((*out)[1], Shape{3}, {0.5f, 1, 2});
  ExpectTensor<int64_t>((*out)[2], Shape{3}, {0, 2, 2});
  ExpectTensor<int32_t>((*out)[3], Shape{3}, {0, 1, 3});
}

TEST(ParseExampleV2Test, ScalarSerializedDropsTheBatchDim) {
  OpTest t = V2Parser({DataType::kFloat, DataType::kFloat}, {PartialShape{2}, PartialShape{-1}}, 1,
                      {DataType::kInt64});
  t
      .Input(MakeStrings(
          {}, {Example({{"d", Floats({1, 2})}, {"v", Floats({3, 4, 5})}, {"s", Int64s({9, 8})}})}))
      .Input(MakeStrings({}, {""}))
      .Input(MakeStrings({1}, {"s"}))
      .Input(MakeStrings({2}, {"d", "v"}))
      .Input(MakeStrings({0}, {}))
      .Input(kRequiredFloat)
      .Input(MakeScalar<float>(0));
  // Outputs: sparse indices, values, shape, then dense d, v.
  auto out = t.Run(5);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<int64_t>((*out)[0], Shape{2, 1}, {0, 1});
  ExpectTensor<int64_t>((*out)[1], Shape{2}, {9, 8});
  ExpectTensor<int64_t>((*out)[2], Shape{1}, {2});
  ExpectTensor<float>((*out)[3], Shape{2}, {1, 2});
  ExpectTensor<float>((*out)[4], Shape{3}, {3, 4, 5});

  OpTest missing = V2Parser({DataType::kFloat}, {PartialShape{1}}, 0, {});
  missing.Input(MakeStrings({}, {Example({})}))
      .Input(MakeStrings({}, {""}))
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({1}, {"label"}))
      .Input(MakeStrings({0}, {}))
      .Input(kRequiredFloat);
  auto status = missing.Run(1).status();
  EXPECT_EQ(status.message(),
            "Feature: label (data type: float) is required but could not be found.");
}

TEST(ParseExampleV2Test, KeyCountMismatchAndBadAttrs) {
  OpTest keys = V2Parser({DataType::kFloat}, {PartialShape{1}}, 0, {});
  keys.Input(Batch({}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({2}, {"a", "b"}))
      .Input(MakeStrings({0}, {}))
      .Input(kRequiredFloat);
  ExpectError(keys.Run(1).status(), absl::StatusCode::kInvalidArgument,
              "Expected len(dense_keys) == len(dense_types) but got: 2 vs. 1");
  OpTest inner = V2Parser({DataType::kFloat}, {PartialShape{2, -1}}, 0, {});
  ExpectError(inner.Build(), absl::StatusCode::kInvalidArgument,
              "dense_shapes[0] has unknown rank or unknown inner dimensions: [2,?]");
  OpTest dtype = V2Parser({DataType::kInt32}, {PartialShape{1}}, 0, {});
  ExpectError(dtype.Build(), absl::StatusCode::kInvalidArgument, "DT_INT32");
  OpTest splits = V2Parser({}, {}, 0, {}, {DataType::kFloat}, {DataType::kFloat});
  ExpectError(splits.Build(), absl::StatusCode::kInvalidArgument,
              "Invalid ragged_split_type: float");
  OpTest matrix = V2Parser({}, {}, 0, {});
  matrix.Input(MakeStrings({1, 1}, {""}))
      .Input(kNoNames)
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({0}, {}))
      .Input(MakeStrings({0}, {}));
  ExpectError(matrix.Run(0).status(), absl::StatusCode::kInvalidArgument,
              "Expected serialized to be a scalar or vector, got shape: [1,1]");
}

// The ParseExample node of TF Serving's half_plus_two (the TF1 graph behind its classify and
// regress signatures), with its real attrs and the real Const values feeding it.
TEST(ParseExampleFixtureTest, HalfPlusTwoClassifyInput) {
  SAVANT_FIXTURE_OR_SKIP(path, "tfserving/saved_model_half_plus_two_cpu/00000123/saved_model.pb");
  tensorflow::SavedModel saved_model;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(saved_model.ParseFromIstream(&in));
  const tensorflow::GraphDef& graph = saved_model.meta_graphs(0).graph_def();
  auto find = [&](const std::string& name) -> const tensorflow::NodeDef* {
    for (const auto& n : graph.node()) {
      if (n.name() == name) return &n;
    }
    return nullptr;
  };
  auto const_value = [&](const std::string& name) {
    const tensorflow::NodeDef* n = find(name);
    EXPECT_NE(n, nullptr) << name;
    auto t = TensorFromProto(n->attr().at("value").tensor());
    EXPECT_TRUE(t.ok()) << name;
    return *t;
  };
  const tensorflow::NodeDef* parse = find("ParseExample/ParseExample");
  ASSERT_NE(parse, nullptr);
  ASSERT_EQ(parse->input_size(), 6);
  EXPECT_EQ(parse->input(5), "ParseExample/Reshape");  // Reshape(key_x2, [1])
  OpTest t("ParseExample", parse->name());
  for (const auto& [key, value] : parse->attr()) t.Attr(key, value);
  t.Input(
       Batch({Example({{"x", Floats({1})}}), Example({{"x", Floats({3})}, {"x2", Floats({7})}})}))
      .Input(const_value(parse->input(1)))
      .Input(const_value(parse->input(2)))
      .Input(const_value(parse->input(3)))
      .Input(const_value(parse->input(4)))
      .Input(const_value("ParseExample/key_x2"));
  auto out = t.Run(2);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectTensor<float>((*out)[0], Shape{2, 1}, {1, 3});
  ExpectTensor<float>((*out)[1], Shape{2, 1}, {0, 7});

  t.ClearInputs()
      .Input(Batch({Example({{"x2", Floats({1})}})}))
      .Input(const_value(parse->input(1)))
      .Input(const_value(parse->input(2)))
      .Input(const_value(parse->input(3)))
      .Input(const_value(parse->input(4)))
      .Input(const_value("ParseExample/key_x2"));
  EXPECT_EQ(t.Run(2).status().message(),
            "Name: <unknown>, Feature: x (data type: float) is required but could not be found.");
}

}  // namespace
}  // namespace savant::engine
