// Test helpers for kernels: build one hand-made node, create its kernel from the global registry
// and run it on given inputs, without a graph, a compiler or an executor. Used by the
// ops/*_test.cc files only (header-only so that nothing here links into savant_engine).
//
//   OpTest t("AddV2");
//   t.TypeAttr("T", DataType::kFloat).Input(MakeTensor<float>({2}, {1, 2})).Input(Scalar(1.0f));
//   auto out = t.Run();
//   ASSERT_TRUE(out.ok()) << out.status();
//   ExpectTensor<float>((*out)[0], {2}, {2, 3});
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/base/thread_pool.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"
#include "engine/tensor_proto.h"
#include "gtest/gtest.h"

namespace savant::engine::testing {

// A tensor of C++ element type T (dtype from DataTypeOf<T>) with row-major `values`.
template <typename T>
Tensor MakeTensor(const Shape& shape, const std::vector<T>& values) {
  return Tensor::FromVector<T>(DataTypeOf<T>(), shape, values);
}
template <typename T>
Tensor MakeScalar(T value) {
  return MakeTensor<T>(Shape{}, {value});
}
inline Tensor MakeStrings(const Shape& shape, const std::vector<std::string>& values) {
  return MakeTensor<std::string>(shape, values);
}

// Checks dtype, shape and every value (floats with a 4-ulp tolerance).
template <typename T>
void ExpectTensor(const Tensor& t, const Shape& shape, const std::vector<T>& values) {
  ASSERT_EQ(t.dtype(), DataTypeOf<T>()) << t.DebugString();
  ASSERT_EQ(t.shape(), shape) << t.DebugString();
  ASSERT_EQ(static_cast<size_t>(t.num_elements()), values.size());
  auto flat = t.flat<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) {
      EXPECT_FLOAT_EQ(flat[i], values[i]) << "element " << i;
    } else if constexpr (std::is_same_v<T, double>) {
      EXPECT_DOUBLE_EQ(flat[i], values[i]) << "element " << i;
    } else if constexpr (std::is_same_v<T, bool>) {
      EXPECT_EQ(flat[i], static_cast<bool>(values[i])) << "element " << i;
    } else {
      EXPECT_EQ(flat[i], values[i]) << "element " << i;
    }
  }
}

// Checks the code and that the message contains `substring`.
inline void ExpectError(const absl::Status& status, absl::StatusCode code,
                        absl::string_view substring) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(status.message().find(substring), absl::string_view::npos)
      << "message \"" << status.message() << "\" lacks \"" << substring << "\"";
}

// One node of op `op`, its attrs and inputs, a kernel built from OpRegistry::Global() and the
// run-time services (an inline ThreadPool, a ResourceManager, RunOptions). Movable; confined to one
// thread.
class OpTest {
 public:
  explicit OpTest(std::string op, std::string name = "test_node") {
    node_.name = std::move(name);
    node_.op = std::move(op);
  }

  OpTest& Attr(const std::string& name, tensorflow::AttrValue value) {
    node_.attrs[name] = std::move(value);
    return *this;
  }
  OpTest& IntAttr(const std::string& name, int64_t v) {
    tensorflow::AttrValue a;
    a.set_i(v);
    return Attr(name, a);
  }
  OpTest& FloatAttr(const std::string& name, float v) {
    tensorflow::AttrValue a;
    a.set_f(v);
    return Attr(name, a);
  }
  OpTest& BoolAttr(const std::string& name, bool v) {
    tensorflow::AttrValue a;
    a.set_b(v);
    return Attr(name, a);
  }
  OpTest& StringAttr(const std::string& name, const std::string& v) {
    tensorflow::AttrValue a;
    a.set_s(v);
    return Attr(name, a);
  }
  OpTest& TypeAttr(const std::string& name, DataType v) {
    tensorflow::AttrValue a;
    a.set_type(static_cast<tensorflow::DataType>(v));
    return Attr(name, a);
  }
  OpTest& IntListAttr(const std::string& name, const std::vector<int64_t>& v) {
    tensorflow::AttrValue a;
    a.mutable_list();
    for (int64_t x : v) a.mutable_list()->add_i(x);
    return Attr(name, a);
  }
  OpTest& TypeListAttr(const std::string& name, const std::vector<DataType>& v) {
    tensorflow::AttrValue a;
    a.mutable_list();
    for (DataType x : v) a.mutable_list()->add_type(static_cast<tensorflow::DataType>(x));
    return Attr(name, a);
  }
  OpTest& ShapeAttr(const std::string& name, const PartialShape& v) {
    tensorflow::AttrValue a;
    PartialShapeToProto(v, a.mutable_shape());
    return Attr(name, a);
  }
  OpTest& ShapeListAttr(const std::string& name, const std::vector<PartialShape>& v) {
    tensorflow::AttrValue a;
    a.mutable_list();
    for (const auto& s : v) PartialShapeToProto(s, a.mutable_list()->add_shape());
    return Attr(name, a);
  }
  OpTest& TensorAttr(const std::string& name, const Tensor& v) {
    tensorflow::AttrValue a;
    TensorToProto(v, a.mutable_tensor());
    return Attr(name, a);
  }

  // Appends a run-time input.
  OpTest& Input(Tensor t) {
    inputs_.push_back(std::make_unique<Tensor>(std::move(t)));
    node_.inputs.push_back(Endpoint{static_cast<int>(node_.inputs.size()), 0});
    return *this;
  }
  // Replaces the run-time inputs (the kernel, once built, is kept).
  OpTest& ClearInputs() {
    inputs_.clear();
    node_.inputs.clear();
    return *this;
  }

  // Builds the kernel (once); the error of CreateKernel otherwise.
  absl::Status Build() {
    if (kernel_ != nullptr) return absl::OkStatus();
    std::vector<DataType> dtypes;
    for (const auto& t : inputs_) dtypes.push_back(t->dtype());
    std::vector<const Tensor*> constants;
    if (constant_weights_) {
      constants.push_back(nullptr);
      for (size_t i = 1; i < inputs_.size(); ++i) constants.push_back(inputs_[i].get());
    }
    KernelConstruction c(node_, constants, dtypes);
    auto kernel = CreateKernel(OpRegistry::Global(), c);
    if (!kernel.ok()) return kernel.status();
    kernel_ = *std::move(kernel);
    return absl::OkStatus();
  }

  // Builds the kernel if needed and runs it once with `num_outputs` output slots.
  absl::StatusOr<std::vector<Tensor>> Run(int num_outputs = 1) {
    absl::Status built = Build();
    if (!built.ok()) return built;
    std::vector<const Tensor*> inputs;
    for (const auto& t : inputs_) inputs.push_back(t.get());
    std::vector<Tensor> outputs(num_outputs);
    KernelContext ctx(node_, inputs, outputs, pool_ != nullptr ? *pool_ : *inline_pool_,
                      *resources_, run_options_);
    absl::Status s = kernel_->Compute(ctx);
    if (!s.ok()) return s;
    return outputs;
  }

  Node& node() { return node_; }
  ResourceManager& resources() { return *resources_; }
  // Shares another test's resources (variables created by one node, used by another).
  OpTest& ShareResources(std::shared_ptr<ResourceManager> resources) {
    resources_ = std::move(resources);
    return *this;
  }
  std::shared_ptr<ResourceManager> shared_resources() const { return resources_; }
  RunOptions& run_options() { return run_options_; }
  // Shows the kernel inputs 1.. as compile-time constants when it is built, as a model's weights
  // are, so it takes its load-time paths (packed or transformed filters, folded args).
  OpTest& ConstantWeights(bool constant = true) {
    constant_weights_ = constant;
    return *this;
  }
  // Runs on `pool` (not owned) instead of an inline pool, to exercise intra-op splitting.
  OpTest& UsePool(ThreadPool* pool) {
    pool_ = pool;
    return *this;
  }

 private:
  Node node_;
  std::vector<std::unique_ptr<Tensor>> inputs_;
  std::unique_ptr<OpKernel> kernel_;
  std::unique_ptr<ThreadPool> inline_pool_ = std::make_unique<ThreadPool>(0);
  ThreadPool* pool_ = nullptr;
  bool constant_weights_ = false;
  std::shared_ptr<ResourceManager> resources_ = std::make_shared<ResourceManager>();
  RunOptions run_options_;
};

}  // namespace savant::engine::testing
