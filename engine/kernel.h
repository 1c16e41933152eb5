// The kernel interface and the op registry. A kernel is our implementation of one TensorFlow op.
// One OpKernel object is built per graph node when a Function is compiled (so it can validate attrs
// and pre-pack constant weights once); Compute() is then called concurrently by many requests and
// must be thread-safe (it is const). Registration is an explicit list: ops/all_ops.cc calls each
// family's Register...Ops(). The registry is read-only once the first Function is compiled.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/base/thread_pool.h"
#include "engine/graph.h"
#include "engine/tensor.h"

namespace savant::engine {

class ResourceManager;

// Per-run services a kernel may need, supplied by whoever runs the function.
struct RunOptions {
  // Reads tensor `name` (with TF's "shape_and_slice" spec, empty for the whole tensor) from the
  // checkpoint at `prefix`; used by RestoreV2. The engine knows nothing of files: the loader provides
  // this when it restores variables. Unset means restore ops fail with FAILED_PRECONDITION.
  std::function<absl::StatusOr<Tensor>(absl::string_view prefix, absl::string_view name,
                                       absl::string_view shape_and_slice, DataType dtype)>
      restore;
};

// What a kernel sees while it is being built for a node at compile time.
class KernelConstruction {
 public:
  KernelConstruction(const Node& node, std::span<const Tensor* const> constant_inputs,
                     std::span<const DataType> input_dtypes)
      : node_(node), constant_inputs_(constant_inputs), input_dtypes_(input_dtypes) {}

  const Node& node() const { return node_; }
  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  // The input's value when it is a constant known at compile time (weights), else nullptr.
  const Tensor* constant_input(int i) const {
    return i < static_cast<int>(constant_inputs_.size()) ? constant_inputs_[i] : nullptr;
  }
  // The input's dtype when known statically, else kInvalid.
  DataType input_dtype(int i) const {
    return i < static_cast<int>(input_dtypes_.size()) ? input_dtypes_[i] : DataType::kInvalid;
  }

 private:
  const Node& node_;
  std::span<const Tensor* const> constant_inputs_;
  std::span<const DataType> input_dtypes_;
};

// What a kernel sees while it runs. Confined to one thread for the duration of one Compute().
class KernelContext {
 public:
  KernelContext(const Node& node, std::span<const Tensor* const> inputs, std::span<Tensor> outputs,
                ThreadPool& pool, ResourceManager& resources, const RunOptions& run_options)
      : node_(node),
        inputs_(inputs),
        outputs_(outputs),
        pool_(pool),
        resources_(resources),
        run_options_(run_options) {}

  const Node& node() const { return node_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  const Tensor& input(int i) const { return *inputs_[i]; }
  int num_outputs() const { return static_cast<int>(outputs_.size()); }

  // Allocates output `i` (uninitialised POD memory) and returns it for filling.
  Tensor& allocate_output(int i, DataType dtype, const Shape& shape) {
    outputs_[i] = Tensor(dtype, shape);
    return outputs_[i];
  }
  // Sets output `i` to an existing tensor (forwarding an input, a reshape view, a constant).
  void set_output(int i, Tensor t) { outputs_[i] = std::move(t); }
  Tensor& output(int i) { return outputs_[i]; }

  ThreadPool& pool() { return pool_; }
  ResourceManager& resources() { return resources_; }
  const RunOptions& run_options() const { return run_options_; }

 private:
  const Node& node_;
  std::span<const Tensor* const> inputs_;
  std::span<Tensor> outputs_;
  ThreadPool& pool_;
  ResourceManager& resources_;
  const RunOptions& run_options_;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  // Fills the context's outputs. Errors state the value and the rule; the executor adds the node
  // and op, so a kernel never repeats them.
  virtual absl::Status Compute(KernelContext& ctx) const = 0;
};

using ComputeFn = absl::Status (*)(KernelContext& ctx);
using KernelFactory =
    std::function<absl::StatusOr<std::unique_ptr<OpKernel>>(const KernelConstruction& c)>;

// A kernel with no compile-time state: wraps a plain function.
class FunctionKernel final : public OpKernel {
 public:
  explicit FunctionKernel(ComputeFn fn) : fn_(fn) {}
  absl::Status Compute(KernelContext& ctx) const override { return fn_(ctx); }

 private:
  ComputeFn fn_;
};

struct OpRegistration {
  // Exactly one of `compute` (stateless function) or `factory` (kernel object with compile-time
  // state) is set.
  ComputeFn compute = nullptr;
  KernelFactory factory;
  // Stateful ops (variables, random, assignment, I/O) are never constant-folded or deduplicated.
  bool stateful = false;
  // Number of outputs when the op has no OpDef in the model (used for ops we synthesise); -1 means
  // "take it from the OpDef".
  int num_outputs = -1;
  // TF1 reference semantics. A ref output (VariableV2:0, Assign:0, ...) yields a DT_RESOURCE tensor
  // holding the Variable; a ref input (Assign:0, IsVariableInitialized:0, ...) accepts one. The
  // compiler inserts an implicit read wherever a ref output feeds a non-ref input or a fetch.
  uint32_t ref_output_mask = 0;
  uint32_t ref_input_mask = 0;
  // Evaluated once at compile time even though stateful (VarHandleOp, VariableV2): the op only
  // creates or finds a resource, so its output is a constant handle.
  bool compile_time_handle = false;
  // Worth running concurrently with other steps (a cost hint for inter-op scheduling). The compiler
  // also treats a fixed list of heavy ops (MatMul, Conv2D, ...) as expensive.
  bool expensive = false;
};

class OpRegistry {
 public:
  // The process-wide registry with every kernel of ops/all_ops.cc registered.
  static const OpRegistry& Global();

  // Registers `op`; registering a name twice is a wiring bug and aborts at start-up.
  void Add(std::string op, OpRegistration registration);
  const OpRegistration* Find(absl::string_view op) const;
  // Every registered op name, sorted.
  std::vector<std::string> OpNames() const;

 private:
  absl::flat_hash_map<std::string, OpRegistration> ops_;
};

// Builds the kernel object for `c.node()`; UNIMPLEMENTED naming the op when it is not registered.
absl::StatusOr<std::unique_ptr<OpKernel>> CreateKernel(const OpRegistry& registry,
                                                       const KernelConstruction& c);

// ops/all_ops.cc: registers every op family in alphabetical order.
void RegisterAllOps(OpRegistry& registry);

}  // namespace savant::engine
