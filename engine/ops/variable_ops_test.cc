#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/ops/op_test_util.h"
#include "engine/resource_manager.h"
#include "gtest/gtest.h"

namespace savant::engine {
namespace {

using testing::ExpectError;
using testing::ExpectTensor;
using testing::MakeScalar;
using testing::MakeTensor;
using testing::OpTest;

// One model's resources, shared by the nodes of a test.
class VariableOpsTest : public ::testing::Test {
 protected:
  // Runs `t` against the shared resources.
  absl::StatusOr<std::vector<Tensor>> Run(OpTest& t, int num_outputs = 1) {
    t.ShareResources(resources_);
    return t.Run(num_outputs);
  }

  // The handle output of a VariableV2 (or VarHandleOp) node.
  Tensor Handle(const std::string& op, const std::string& name, DataType dtype,
                const PartialShape& shape, const std::string& shared_name = "") {
    OpTest t(op, name);
    t.TypeAttr("dtype", dtype)
        .ShapeAttr("shape", shape)
        .StringAttr("container", "")
        .StringAttr("shared_name", shared_name);
    auto out = Run(t);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0] : Tensor();
  }

  absl::Status Assign(const Tensor& ref, const Tensor& value, bool validate_shape = true) {
    OpTest t("Assign");
    t.BoolAttr("validate_shape", validate_shape)
        .BoolAttr("use_locking", true)
        .Input(ref)
        .Input(value);
    auto out = Run(t);
    if (!out.ok()) return out.status();
    EXPECT_TRUE((*out)[0].SharesBufferWith(ref)) << "Assign forwards its ref";
    return absl::OkStatus();
  }

  absl::StatusOr<Tensor> ReadRef(const Tensor& ref) {
    OpTest t("_ReadRef");
    t.Input(ref);
    auto out = Run(t);
    if (!out.ok()) return out.status();
    return (*out)[0];
  }

  absl::StatusOr<Tensor> ReadVariable(const Tensor& handle, DataType dtype) {
    OpTest t("ReadVariableOp");
    t.TypeAttr("dtype", dtype).Input(handle);
    auto out = Run(t);
    if (!out.ok()) return out.status();
    return (*out)[0];
  }

  std::shared_ptr<ResourceManager> resources_ = std::make_shared<ResourceManager>();
};

TEST_F(VariableOpsTest, VariableV2CreatesOneVariablePerName) {
  const Tensor a = Handle("VariableV2", "w", DataType::kFloat, PartialShape{2});
  const Tensor b = Handle("VariableV2", "w", DataType::kFloat, PartialShape{2});
  ASSERT_EQ(a.dtype(), DataType::kResource);
  EXPECT_EQ(a.scalar<ResourceHandle>(), b.scalar<ResourceHandle>());
  const Tensor shared = Handle("VariableV2", "node", DataType::kFloat, PartialShape{2}, "w");
  EXPECT_EQ(shared.scalar<ResourceHandle>(), a.scalar<ResourceHandle>());
  ASSERT_EQ(resources_->Variables().size(), 1u);
  EXPECT_EQ(resources_->Variables()[0]->name(), "w");
  EXPECT_EQ(resources_->Variables()[0]->shape(), PartialShape{2});
}

TEST_F(VariableOpsTest, AssignThenRead) {
  const Tensor ref = Handle("VariableV2", "w", DataType::kFloat, PartialShape{2});
  OpTest init("IsVariableInitialized");
  init.Input(ref);
  auto before = Run(init);
  ASSERT_TRUE(before.ok());
  ExpectTensor<bool>((*before)[0], Shape{}, {false});
  ExpectError(ReadRef(ref).status(), absl::StatusCode::kFailedPrecondition, "\"w\"");

  ASSERT_TRUE(Assign(ref, MakeTensor<float>({2}, {1, 2})).ok());
  auto value = ReadRef(ref);
  ASSERT_TRUE(value.ok());
  ExpectTensor<float>(*value, Shape{2}, {1, 2});
  auto after = Run(init);
  ASSERT_TRUE(after.ok());
  ExpectTensor<bool>((*after)[0], Shape{}, {true});
}

TEST_F(VariableOpsTest, AssignValidatesShapeAndDtype) {
  const Tensor ref = Handle("VariableV2", "w", DataType::kFloat, PartialShape{2});
  ExpectError(Assign(ref, MakeTensor<float>({3}, {1, 2, 3})), absl::StatusCode::kInvalidArgument,
              "Assign requires shapes of both tensors to match. lhs shape= [2] rhs shape= [3]");
  ExpectError(Assign(ref, MakeTensor<int32_t>({2}, {1, 2})), absl::StatusCode::kInvalidArgument,
              "DT_INT32");
  // validate_shape=false lets the value define the shape.
  EXPECT_TRUE(Assign(ref, MakeTensor<float>({3}, {1, 2, 3}), false).ok());
  const Tensor any = Handle("VariableV2", "any", DataType::kFloat, PartialShape::UnknownRank());
  EXPECT_TRUE(Assign(any, MakeTensor<float>({1}, {1})).ok());
  ExpectError(Assign(any, MakeTensor<float>({2}, {1, 2})), absl::StatusCode::kInvalidArgument,
              "lhs shape= [1] rhs shape= [2]");
}

TEST_F(VariableOpsTest, AssignAddAndSubAreCopyOnWrite) {
  const Tensor ref = Handle("VariableV2", "counter", DataType::kInt64, PartialShape{2});
  ASSERT_TRUE(Assign(ref, MakeTensor<int64_t>({2}, {10, 20})).ok());
  auto snapshot = ReadRef(ref);
  ASSERT_TRUE(snapshot.ok());
  OpTest add("AssignAdd");
  add.Input(ref).Input(MakeTensor<int64_t>({2}, {1, 2}));
  auto added = Run(add);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE((*added)[0].SharesBufferWith(ref));
  OpTest sub("AssignSub");
  sub.Input(ref).Input(MakeTensor<int64_t>({2}, {5, 5}));
  ASSERT_TRUE(Run(sub).ok());
  auto now = ReadRef(ref);
  ASSERT_TRUE(now.ok());
  ExpectTensor<int64_t>(*now, Shape{2}, {6, 17});
  // The reader that took a snapshot before the updates still sees the old value.
  ExpectTensor<int64_t>(*snapshot, Shape{2}, {10, 20});
  OpTest bad("AssignAdd");
  bad.Input(ref).Input(MakeTensor<int64_t>({3}, {1, 2, 3}));
  ExpectError(Run(bad).status(), absl::StatusCode::kInvalidArgument,
              "Cannot update variable with shape [2] using a Tensor with shape [3]");
}

TEST_F(VariableOpsTest, ResourceVariableLifecycle) {
  const Tensor h =
      Handle("VarHandleOp", "dense/kernel", DataType::kFloat, PartialShape{2, 1}, "dense/kernel");
  OpTest is_init("VarIsInitializedOp");
  is_init.Input(h);
  auto init0 = Run(is_init);
  ASSERT_TRUE(init0.ok());
  ExpectTensor<bool>((*init0)[0], Shape{}, {false});
  ExpectError(ReadVariable(h, DataType::kFloat).status(), absl::StatusCode::kFailedPrecondition,
              "dense/kernel");

  OpTest assign("AssignVariableOp");
  assign.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<float>({2, 1}, {0.5f, 2}));
  auto none = Run(assign, 0);
  ASSERT_TRUE(none.ok()) << none.status();
  auto value = ReadVariable(h, DataType::kFloat);
  ASSERT_TRUE(value.ok());
  ExpectTensor<float>(*value, Shape{2, 1}, {0.5f, 2});

  OpTest add("AssignAddVariableOp");
  add.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<float>({2, 1}, {1, 1}));
  ASSERT_TRUE(Run(add, 0).ok());
  OpTest sub("AssignSubVariableOp");
  sub.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<float>({2, 1}, {0.25f, 4}));
  ASSERT_TRUE(Run(sub, 0).ok());
  auto updated = ReadVariable(h, DataType::kFloat);
  ASSERT_TRUE(updated.ok());
  ExpectTensor<float>(*updated, Shape{2, 1}, {1.25f, -1});
  ExpectTensor<float>(*value, Shape{2, 1}, {0.5f, 2});

  auto init1 = Run(is_init);
  ASSERT_TRUE(init1.ok());
  ExpectTensor<bool>((*init1)[0], Shape{}, {true});

  OpTest destroy("DestroyResourceOp");
  destroy.BoolAttr("ignore_lookup_error", false).Input(h);
  ASSERT_TRUE(Run(destroy, 0).ok());
  EXPECT_TRUE(resources_->Variables().empty());
  ExpectError(Run(destroy, 0).status(), absl::StatusCode::kNotFound, "dense/kernel");
  OpTest destroy_quiet("DestroyResourceOp");
  destroy_quiet.BoolAttr("ignore_lookup_error", true).Input(h);
  EXPECT_TRUE(Run(destroy_quiet, 0).ok());
}

// One SGD step: var - alpha * delta = [1 - 0.5*2, 2 - 0.5*(-4)] = [0, 4].
TEST_F(VariableOpsTest, ResourceApplyGradientDescentTakesOneStep) {
  const Tensor h = Handle("VarHandleOp", "w", DataType::kFloat, PartialShape{2}, "w");
  OpTest assign("AssignVariableOp");
  assign.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<float>({2}, {1, 2}));
  ASSERT_TRUE(Run(assign, 0).ok());
  auto step = [&](const Tensor& alpha, const Tensor& delta) {
    OpTest t("ResourceApplyGradientDescent");
    t.TypeAttr("T", DataType::kFloat).BoolAttr("use_locking", false).Input(h).Input(alpha).Input(delta);
    return Run(t, 0).status();
  };
  ASSERT_TRUE(step(MakeTensor<float>({}, {0.5f}), MakeTensor<float>({2}, {2, -4})).ok());
  auto value = ReadVariable(h, DataType::kFloat);
  ASSERT_TRUE(value.ok()) << value.status();
  ExpectTensor<float>(*value, Shape{2}, {0, 4});
  ExpectError(step(MakeTensor<float>({1}, {0.5f}), MakeTensor<float>({2}, {1, 1})),
              absl::StatusCode::kInvalidArgument, "alpha is not a scalar: [1]");
  ExpectError(step(MakeTensor<float>({}, {0.5f}), MakeTensor<float>({3}, {1, 1, 1})),
              absl::StatusCode::kInvalidArgument, "var and delta do not have the same shape[2] [3]");
}

TEST_F(VariableOpsTest, ResourceVariableDtypeAndShapeChecks) {
  const Tensor h = Handle("VarHandleOp", "v", DataType::kFloat, PartialShape{2}, "v");
  OpTest assign("AssignVariableOp");
  assign.TypeAttr("dtype", DataType::kInt32).Input(h).Input(MakeTensor<int32_t>({2}, {1, 2}));
  ExpectError(Run(assign, 0).status(), absl::StatusCode::kInvalidArgument, "DT_INT32");
  OpTest mismatch("AssignVariableOp");
  mismatch.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<int32_t>({2}, {1, 2}));
  ExpectError(Run(mismatch, 0).status(), absl::StatusCode::kInvalidArgument,
              "Variable and value dtypes don't match; respectively, float and int32");
  OpTest ok("AssignVariableOp");
  ok.TypeAttr("dtype", DataType::kFloat).Input(h).Input(MakeTensor<float>({2}, {1, 2}));
  ASSERT_TRUE(Run(ok, 0).ok());
  ExpectError(ReadVariable(h, DataType::kInt64).status(), absl::StatusCode::kInvalidArgument,
              "Expected int64 got float");
  OpTest validated("AssignVariableOp");
  validated.TypeAttr("dtype", DataType::kFloat)
      .BoolAttr("validate_shape", true)
      .Input(h)
      .Input(MakeTensor<float>({3}, {1, 2, 3}));
  ExpectError(Run(validated, 0).status(), absl::StatusCode::kInvalidArgument,
              "Expected [2] got [3]");
}

TEST_F(VariableOpsTest, HandlesThatAreNotVariablesAreRejected) {
  OpTest read("ReadVariableOp");
  read.TypeAttr("dtype", DataType::kFloat).Input(MakeScalar<float>(1));
  ExpectError(Run(read).status(), absl::StatusCode::kInvalidArgument,
              "expected a DT_RESOURCE scalar handle to a variable, got DT_FLOAT []");
  Tensor empty_handle(DataType::kResource, Shape{});
  OpTest read_null("_ReadRef");
  read_null.Input(empty_handle);
  ExpectError(Run(read_null).status(), absl::StatusCode::kInvalidArgument,
              "does not point to a variable");
  OpTest is_init("VarIsInitializedOp");
  is_init.Input(empty_handle);
  auto out = Run(is_init);
  ASSERT_TRUE(out.ok());
  ExpectTensor<bool>((*out)[0], Shape{}, {false});
}

TEST_F(VariableOpsTest, ConcurrentReadersSeeWholeUpdates) {
  // One writer adds 1 to every element while readers run the same kernels concurrently; as updates
  // are copy-on-write, every snapshot a reader gets has all elements equal.
  const Tensor h = Handle("VarHandleOp", "c", DataType::kInt64, PartialShape{64}, "c");
  OpTest init("AssignVariableOp");
  init.TypeAttr("dtype", DataType::kInt64)
      .Input(h)
      .Input(MakeTensor<int64_t>({64}, std::vector<int64_t>(64, 0)));
  ASSERT_TRUE(Run(init, 0).ok());
  OpTest add("AssignAddVariableOp");
  add.TypeAttr("dtype", DataType::kInt64)
      .Input(h)
      .Input(MakeTensor<int64_t>({64}, std::vector<int64_t>(64, 1)));
  OpTest read("ReadVariableOp");
  read.TypeAttr("dtype", DataType::kInt64).Input(h);
  add.ShareResources(resources_);
  read.ShareResources(resources_);
  ASSERT_TRUE(add.Build().ok());
  ASSERT_TRUE(read.Build().ok());
  constexpr int kUpdates = 2000;
  std::atomic<int> torn{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto out = read.Run();
        if (!out.ok()) {
          ++torn;
          continue;
        }
        auto v = (*out)[0].flat<int64_t>();
        for (int64_t x : v) torn += x != v[0];
      }
    });
  }
  for (int i = 0; i < kUpdates; ++i) ASSERT_TRUE(add.Run(0).ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  auto final_value = ReadVariable(h, DataType::kInt64);
  ASSERT_TRUE(final_value.ok());
  ExpectTensor<int64_t>(*final_value, Shape{64}, std::vector<int64_t>(64, kUpdates));
}

TEST(VariableOpsRegistrationTest, FlagsTheCompilerReliesOn) {
  const OpRegistry& r = OpRegistry::Global();
  for (const char* op : {"VariableV2", "Variable"}) {
    const OpRegistration* reg = r.Find(op);
    ASSERT_NE(reg, nullptr) << op;
    EXPECT_EQ(reg->ref_output_mask, 1u);
    EXPECT_TRUE(reg->stateful);
    EXPECT_TRUE(reg->compile_time_handle);
  }
  for (const char* op : {"Assign", "AssignAdd", "AssignSub"}) {
    const OpRegistration* reg = r.Find(op);
    ASSERT_NE(reg, nullptr) << op;
    EXPECT_EQ(reg->ref_input_mask, 1u);
    EXPECT_EQ(reg->ref_output_mask, 1u);
    EXPECT_TRUE(reg->stateful);
  }
  const OpRegistration* read_ref = r.Find("_ReadRef");
  ASSERT_NE(read_ref, nullptr);
  EXPECT_EQ(read_ref->ref_input_mask, 1u);
  EXPECT_EQ(read_ref->num_outputs, 1);
  EXPECT_TRUE(read_ref->stateful);
  EXPECT_EQ(r.Find("IsVariableInitialized")->ref_input_mask, 1u);
  EXPECT_TRUE(r.Find("VarHandleOp")->compile_time_handle);
  EXPECT_TRUE(r.Find("VarHandleOp")->stateful);
  for (const char* op : {"ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp",
                         "AssignSubVariableOp", "VarIsInitializedOp", "DestroyResourceOp"}) {
    ASSERT_NE(r.Find(op), nullptr) << op;
    EXPECT_TRUE(r.Find(op)->stateful) << op;
    EXPECT_FALSE(r.Find(op)->compile_time_handle) << op;
  }
}

}  // namespace
}  // namespace savant::engine
