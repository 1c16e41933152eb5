// A compiled, thread-safe plan for one set of feeds, fetches and targets of a Graph: the unit the
// loader builds per signature. Compilation prunes to what the fetches need, dereferences TF1
// reference variables, creates one kernel per node (an unsupported op fails here, at load time, not
// on the first request), folds constants (including reads of variables that nothing assigns) and
// drops Identity/NoOp nodes that only forward values. Run() is const and safe to call from many
// threads at once; all per-run state lives in the call.
//
// Steps run in plan order on the calling thread, unless the plan has independent expensive
// branches (two expensive steps, such as MatMul or Conv2D, neither of which waits for the other):
// then a ready queue runs every step whose inputs and control dependencies are done, the caller
// and helpers on the pool side by side (inter-op parallelism). The caller always works too, so a
// Run never waits for a pool that is busy elsewhere.
//
//   ASSIGN_OR_RETURN(auto fn, Function::Compile(graph, resources, {.feeds = {"x:0"},
//                                                                  .fetches = {"y:0"}}));
//   std::vector<Tensor> out;
//   RETURN_IF_ERROR(fn->Run({x}, &out));
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/base/thread_pool.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"

namespace savant::engine {

struct FunctionSpec {
  std::vector<std::string> feeds;    // tensor names, "x:0" or "x"
  std::vector<std::string> fetches;  // tensor names
  std::vector<std::string> targets;  // node names run for their effects
  // Fold reads of these variables (by resource or node name) only if absent here: variables that
  // some function of the model assigns. Empty means: never fold variable reads.
  bool fold_variable_reads = false;
  absl::flat_hash_set<std::string> assigned_variables;
  // Prefix for error messages ("signature \"serving_default\"").
  std::string label;
  // Inter-op parallelism: kAuto decides by the plan's shape (see the class comment); kAlways and
  // kNever force the ready queue or plan order (tests, benchmarks).
  enum class InterOp { kAuto, kAlways, kNever };
  InterOp inter_op = InterOp::kAuto;
  // Static shapes of the feeds, in the order of `feeds` (a signature's input shapes, usually with
  // an unknown batch dimension); empty means all unknown. Compile propagates them through the
  // plan (engine/shape_inference.h) and fails with INVALID_ARGUMENT naming the node when known
  // dims cannot fit the op.
  std::vector<PartialShape> feed_shapes;
  // Batch splitting (engine/batch_split.h). kAuto: when the plan's leading steps are row-wise
  // (row i of their outputs depends only on row i of the feeds), a batch larger than what fits a
  // core's L2 cache runs through them in slices of rows, the slices spread over the pool, each
  // slice's steps on one thread; the steps after them run on the whole batch. Those leading steps
  // stop before the first step whose weights outweigh a slice's activations, and must include an
  // expensive step (Conv2D, MatMul, ...); only batches whose largest such step overflows the
  // threads' share of the last-level cache split (split_min_batch()). kAlways: every leading
  // row-wise step, in slices of `batch_split_rows` rows, any batch larger than one slice, whatever
  // the cost (tests). kNever: whole batches only.
  enum class BatchSplit { kAuto, kAlways, kNever };
  BatchSplit batch_split = BatchSplit::kAuto;
  int64_t batch_split_rows = 1;  // kAlways only
};

// Names of the variables that the nodes needed by (fetches, targets) may assign: TF1 Assign* on a
// VariableV2 (its node name) and TF2 Assign*VariableOp on a VarHandleOp (its shared_name).
absl::StatusOr<absl::flat_hash_set<std::string>> AssignedVariables(const Graph& graph,
                                                                   const FunctionSpec& spec);

class Function {
 public:
  static absl::StatusOr<std::unique_ptr<Function>> Compile(
      std::shared_ptr<const Graph> graph, std::shared_ptr<ResourceManager> resources,
      FunctionSpec spec, const OpRegistry& registry = OpRegistry::Global(),
      ThreadPool& pool = ThreadPool::Default());
  ~Function();

  // Runs with `feeds` in the order of spec.feeds and fills `fetches` in the order of spec.fetches.
  // Errors name the node and op that failed.
  absl::Status Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches,
                   const RunOptions& options = {}) const;

  const FunctionSpec& spec() const { return spec_; }
  // Number of kernels that run per call after pruning and folding.
  int num_steps() const;
  // Op types of the steps, for inspection ("MatMul", "AddV2", ...).
  std::vector<std::string> step_ops() const;
  // True when Run uses the ready queue rather than plan order.
  bool runs_steps_in_parallel() const;
  // Steps that run in slices of rows when the batch is larger than split_rows() (the first
  // split_steps() steps of the plan; 0 when the plan never splits).
  int split_steps() const;
  int64_t split_rows() const;
  // The smallest batch that splits (in kAuto, where the whole batch overflows the threads' share
  // of the last-level cache).
  int64_t split_min_batch() const;
  // The static shapes of the fetches, in the order of spec.fetches, inferred at compile time from
  // spec.feed_shapes; unknown dims are -1 and unknown ranks are UnknownRank().
  const std::vector<PartialShape>& fetch_shapes() const;

  struct Plan;

 private:
  Function() = default;
  // Runs one step: resolves its inputs, computes it into `values`, and on error names the node.
  absl::Status RunStep(int step, std::span<const Tensor> feeds, Tensor* values,
                       const RunOptions& options, ThreadPool& pool) const;
  // Runs the split steps over slices of the batch and leaves their values that later steps or
  // fetches read in `values`, whole. False when this batch does not split, or a slice failed: the
  // caller then runs every step on the whole batch (so errors read as they would unsplit).
  bool RunSplit(std::span<const Tensor> feeds, Tensor* values, const RunOptions& options) const;
  // The ready-queue executor; leaves the fetched values in `values`.
  absl::Status RunInParallel(std::span<const Tensor> feeds, Tensor* values,
                             const RunOptions& options) const;

  FunctionSpec spec_;
  std::shared_ptr<const Graph> graph_;
  std::shared_ptr<ResourceManager> resources_;
  ThreadPool* pool_ = nullptr;
  std::unique_ptr<Plan> plan_;
};

}  // namespace savant::engine
