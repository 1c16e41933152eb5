#include "engine/function.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/batch_split.h"
#include "engine/shape_inference.h"

namespace savant::engine {
namespace {

// Where a step input comes from. Constants live in the plan; feeds and computed values per run.
struct Source {
  enum Kind : uint8_t { kConstant, kFeed, kValue } kind = kValue;
  int index = 0;
};

bool IsIdentityLike(absl::string_view op) {
  return op == "Identity" || op == "Snapshot" || op == "StopGradient" || op == "PreventGradient";
}

bool AssignsVariable(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "Assign", "AssignAdd", "AssignSub", "ScatterUpdate", "ScatterAdd", "ScatterSub",
      "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "ResourceScatterUpdate",
      "ResourceScatterAdd", "ResourceScatterSub", "DestroyResourceOp", "ResourceApplyGradientDescent",
      "ResourceApplyAdam"};
  return kOps.contains(op);
}

// Ops heavy enough that running two of them side by side pays for handing one to another thread.
// Kernels can also say so at registration (OpRegistration::expensive).
bool IsExpensiveOp(absl::string_view op) {
  static const absl::flat_hash_set<absl::string_view> kOps = {
      "MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
      "Conv2D", "_FusedConv2D", "Conv3D", "DepthwiseConv2dNative", "_FusedDepthwiseConv2dNative",
      "Conv2DBackpropInput", "ParseExample", "ParseExampleV2", "ParseSingleExample"};
  return kOps.contains(op);
}

using StepSet = absl::InlinedVector<int, 2>;

void SortUnique(StepSet& set) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
}

// The resource name a VariableV2/VarHandleOp node creates (shared_name, else the node name).
std::string ResourceNameOf(const Node& node) {
  std::string shared = GetStringAttrOr(node, "shared_name", "");
  return shared.empty() ? node.name : shared;
}

struct Resolved {
  std::vector<Endpoint> feeds;
  std::vector<Endpoint> fetches;
  std::vector<int> targets;
  absl::flat_hash_map<Endpoint, int> feed_index;
};

absl::StatusOr<Resolved> Resolve(const Graph& graph, const FunctionSpec& spec) {
  Resolved r;
  for (const auto& name : spec.feeds) {
    ASSIGN_OR_RETURN(Endpoint ep, graph.FindEndpoint(name));
    r.feed_index[ep] = static_cast<int>(r.feeds.size());
    r.feeds.push_back(ep);
  }
  for (const auto& name : spec.fetches) {
    ASSIGN_OR_RETURN(Endpoint ep, graph.FindEndpoint(name));
    r.fetches.push_back(ep);
  }
  for (const auto& name : spec.targets) {
    absl::string_view n = name;
    if (!n.empty() && n[0] == '^') n.remove_prefix(1);
    int node = graph.FindNode(n);
    if (node < 0) {
      return absl::NotFoundError(absl::StrCat("target node \"", name, "\" is not in the graph"));
    }
    r.targets.push_back(node);
  }
  return r;
}

// Nodes needed by the fetches and targets, not looking behind fed endpoints.
std::vector<bool> NeededNodes(const Graph& graph, const Resolved& r) {
  std::vector<bool> needed(graph.num_nodes(), false);
  std::vector<int> stack;
  auto push = [&](int n) {
    if (!needed[n]) {
      needed[n] = true;
      stack.push_back(n);
    }
  };
  for (const auto& ep : r.fetches) {
    if (!r.feed_index.contains(ep)) push(ep.node);
  }
  for (int t : r.targets) push(t);
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    const Node& node = graph.node(n);
    for (const auto& in : node.inputs) {
      if (!r.feed_index.contains(in)) push(in.node);
    }
    for (int c : node.control_inputs) push(c);
  }
  return needed;
}

// True when `inputs[0]` is a constant handle to an initialised variable that nothing assigns.
bool IsFrozenVariable(const FunctionSpec& spec, std::span<const Tensor* const> inputs) {
  if (!spec.fold_variable_reads || spec.assigned_variables.contains("*") || inputs.empty() ||
      inputs[0] == nullptr || inputs[0]->dtype() != DataType::kResource) {
    return false;
  }
  auto var = std::dynamic_pointer_cast<Variable>(inputs[0]->scalar<ResourceHandle>());
  return var != nullptr && !spec.assigned_variables.contains(var->name()) && var->initialized();
}

}  // namespace

struct Function::Plan {
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<OpKernel> kernel;
    absl::InlinedVector<Source, 4> inputs;
    int first_output = 0;  // index into per-run values
    int num_outputs = 0;
    bool stateful = false;
    bool expensive = false;
    // Steps that must finish first: producers of the inputs and control dependencies, including
    // those reached through folded, forwarded or NoOp nodes. Indices into `steps`.
    StepSet preds;
  };
  std::vector<Step> steps;
  // The ready queue's graph: for each step, the steps waiting for it and how many it waits for.
  bool parallel = false;
  std::vector<std::vector<int>> successors;
  std::vector<int> num_preds;
  // Static shapes, from spec.feed_shapes: per run-time value and per fetch.
  std::vector<PartialShape> value_shapes;
  std::vector<PartialShape> fetch_shapes;
  std::deque<Tensor> constants;  // deque: kernels may keep pointers to constant inputs
  std::vector<Source> fetches;
  int num_values = 0;
  std::deque<Node> synthetic;  // _ReadRef nodes the compiler added
  // Batch splitting (FunctionSpec::batch_split): steps [0, split_steps) run per slice of
  // split_rows rows of the split_feeds; split_outputs are their values that later steps or
  // fetches read, concatenated back into whole batches.
  int split_steps = 0;
  int64_t split_rows = 0;
  int64_t split_min_batch = 0;  // smaller batches run whole
  std::vector<int> split_feeds;
  std::vector<int> split_outputs;
  std::vector<int64_t> split_output_scales;  // dim-0 rows per batch row of each split output
  // Per step, the values no later step reads and no fetch returns (plan-order runs drop them).
  std::vector<std::vector<int>> release_after;
};

namespace {

// Finds the leading row-wise steps of the plan and the slice size (see FunctionSpec::batch_split).
// `last_reader`: per value, the last step that reads it (the step count for a fetched value, -1
// for an unread one).
void PlanBatchSplit(Function::Plan& plan, const FunctionSpec& spec,
                    const std::vector<PartialShape>& feed_shapes,
                    const std::vector<int>& last_reader, int parallelism) {
  using Plan = Function::Plan;
  const bool always = spec.batch_split == FunctionSpec::BatchSplit::kAlways;
  std::vector<RowClass> value_class(plan.num_values, RowClass::kOther);
  std::vector<int64_t> value_scale(plan.num_values, 1);  // dim-0 rows per batch row
  const auto class_of = [&](const Source& src) {
    switch (src.kind) {
      case Source::kConstant: return RowClass::kConstant;
      case Source::kFeed: return feed_shapes[src.index].rank() >= 1 ? RowClass::kRows : RowClass::kOther;
      case Source::kValue: break;
    }
    return value_class[src.index];
  };
  const int64_t budget = L2CacheBytes();
  int64_t max_row = 0;
  int64_t rows = always ? std::max<int64_t>(1, spec.batch_split_rows) : 0;
  int end = 0;
  bool expensive = false;
  for (const Plan::Step& st : plan.steps) {
    if (st.stateful || st.num_outputs == 0) break;
    std::vector<RowClass> classes;
    std::vector<PartialShape> shapes;
    std::vector<const Tensor*> constants;
    std::vector<int64_t> scales;
    int64_t weights = 0;
    for (const Source& src : st.inputs) {
      classes.push_back(class_of(src));
      scales.push_back(src.kind == Source::kValue ? value_scale[src.index] : 1);
      const Tensor* c = src.kind == Source::kConstant ? &plan.constants[src.index] : nullptr;
      constants.push_back(c);
      shapes.push_back(c != nullptr                   ? PartialShape(c->shape())
                       : src.kind == Source::kFeed ? feed_shapes[src.index]
                                                   : plan.value_shapes[src.index]);
      if (c != nullptr) weights += static_cast<int64_t>(c->byte_size());
    }
    const std::span<const PartialShape> out_shapes(plan.value_shapes.data() + st.first_output,
                                                   st.num_outputs);
    int64_t out_scale = 1;
    const std::vector<RowClass> outs =
        ClassifyRows(*st.node, classes, shapes, constants, out_shapes, scales, &out_scale);
    bool row_wise = true;
    int64_t row = 0;  // bytes of one row of the step's row-wise inputs and outputs
    // A Reshape's output is a view of its input: no new bytes.
    const bool view = st.node->op == "Reshape" || st.node->op == "Squeeze" || st.node->op == "ExpandDims";
    for (int p = 0; p < st.num_outputs; ++p) {
      if (last_reader[st.first_output + p] < 0) continue;
      row_wise = row_wise && outs[p] == RowClass::kRows;
      const int64_t bytes = view ? 0 : RowBytes(out_shapes[p]) * out_scale;
      row = bytes < 0 || row < 0 ? -1 : row + bytes;
    }
    for (size_t i = 0; i < classes.size(); ++i) {
      if (classes[i] != RowClass::kRows) continue;
      const int64_t bytes = RowBytes(shapes[i]) * scales[i];
      row = bytes < 0 || row < 0 ? -1 : row + bytes;
    }
    if (!row_wise) break;
    if (!always) {
      // Slices as large as fit L2 with the largest step so far. Each slice reads the step's
      // weights again: stop before a step whose weights outweigh a slice's activations, unless
      // its product has enough rows per slice (output pixels or positions: the output's elements
      // over its last dim) to make re-reading them cheap against the arithmetic, which is
      // 2 * rows flops per weight float: 32 rows keep a GEMM compute-bound even from L3.
      if (row <= 0) break;
      max_row = std::max(max_row, row);
      const int64_t fit = std::max<int64_t>(1, budget / max_row);
      int64_t product_rows = 0;
      const PartialShape& out0 = out_shapes.empty() ? PartialShape::UnknownRank() : out_shapes[0];
      const int64_t last = out0.rank() >= 2 ? out0.dim(out0.rank() - 1) : -1;
      const int64_t elements = RowBytes(out0, 1);
      if (last > 0 && elements > 0) product_rows = fit * out_scale * elements / last;
      if (weights > fit * row && product_rows < 32) break;
      rows = fit;
    }
    for (int p = 0; p < st.num_outputs; ++p) {
      value_class[st.first_output + p] = outs[p];
      value_scale[st.first_output + p] = out_scale;
    }
    ++end;
    expensive = expensive || st.expensive;
  }
  if (end == 0 || (!always && !expensive)) return;
  plan.split_steps = end;
  plan.split_rows = rows;
  // Below this batch the whole batch's activations stay in the threads' share of the last-level
  // cache, and running each layer over the whole batch on all threads is as fast (measured on
  // bench/'s MNIST CNN: 3.9 MB at batch 32, no gain from slices; MobileNet's 28 MB: +25-50%).
  plan.split_min_batch = rows + 1;
  if (!always) {
    plan.split_min_batch = std::max(plan.split_min_batch,
                                    LastLevelCacheBytesPerThread() * parallelism / max_row + 1);
  }
  // The split steps' feeds, and their values read after them (by a later step or a fetch).
  absl::flat_hash_set<int> feeds;
  for (int i = 0; i < end; ++i) {
    const Plan::Step& st = plan.steps[i];
    for (const Source& src : st.inputs) {
      if (src.kind == Source::kFeed) feeds.insert(src.index);
    }
    for (int v = st.first_output; v < st.first_output + st.num_outputs; ++v) {
      if (last_reader[v] >= end) {
        plan.split_outputs.push_back(v);
        plan.split_output_scales.push_back(value_scale[v]);
      }
    }
  }
  plan.split_feeds.assign(feeds.begin(), feeds.end());
  std::sort(plan.split_feeds.begin(), plan.split_feeds.end());
}

// Rows [begin, begin + count) of `t`: a view when aligned for the kernels' vector loads, else a
// copy.
Tensor RowSlice(const Tensor& t, int64_t begin, int64_t count) {
  Shape shape = t.shape();
  shape.set_dim(0, count);
  const size_t row_bytes = t.dim(0) == 0 ? 0 : t.byte_size() / static_cast<size_t>(t.dim(0));
  const size_t offset = t.buffer_offset() + static_cast<size_t>(begin) * row_bytes;
  if (offset % Tensor::kAlignment == 0) return Tensor(t.dtype(), shape, t.buffer(), offset);
  Tensor copy(t.dtype(), shape);
  std::memcpy(copy.raw_data(), static_cast<const char*>(t.raw_data()) + begin * row_bytes,
              copy.byte_size());
  return copy;
}

}  // namespace

absl::StatusOr<absl::flat_hash_set<std::string>> AssignedVariables(const Graph& graph,
                                                                   const FunctionSpec& spec) {
  ASSIGN_OR_RETURN(Resolved r, Resolve(graph, spec));
  std::vector<bool> needed = NeededNodes(graph, r);
  absl::flat_hash_set<std::string> out;
  for (int n = 0; n < graph.num_nodes(); ++n) {
    if (!needed[n] || !AssignsVariable(graph.node(n).op) || graph.node(n).inputs.empty()) continue;
    // Walk back through forwarding ops to the node that owns the variable.
    Endpoint src = graph.node(n).inputs[0];
    for (int hops = 0; hops < 64; ++hops) {
      const Node& s = graph.node(src.node);
      if ((IsIdentityLike(s.op) || s.op == "RefIdentity") && !s.inputs.empty()) {
        src = s.inputs[0];
        continue;
      }
      break;
    }
    const Node& owner = graph.node(src.node);
    if (owner.op == "VarHandleOp" || owner.op == "VariableV2" || owner.op == "Variable") {
      out.insert(ResourceNameOf(owner));
    } else {
      // A handle we cannot trace (e.g. fed from outside): be safe, treat every variable as mutable.
      out.insert("*");
    }
  }
  return out;
}

Function::~Function() = default;

int Function::split_steps() const { return plan_->split_steps; }

int64_t Function::split_rows() const { return plan_->split_rows; }

int64_t Function::split_min_batch() const { return plan_->split_min_batch; }

int Function::num_steps() const { return static_cast<int>(plan_->steps.size()); }

bool Function::runs_steps_in_parallel() const { return plan_->parallel; }

const std::vector<PartialShape>& Function::fetch_shapes() const { return plan_->fetch_shapes; }

std::vector<std::string> Function::step_ops() const {
  std::vector<std::string> ops;
  for (const auto& s : plan_->steps) ops.push_back(s.node->op);
  return ops;
}

absl::StatusOr<std::unique_ptr<Function>> Function::Compile(
    std::shared_ptr<const Graph> graph, std::shared_ptr<ResourceManager> resources,
    FunctionSpec spec, const OpRegistry& registry, ThreadPool& pool) {
  auto fn = std::unique_ptr<Function>(new Function());
  fn->spec_ = std::move(spec);
  fn->graph_ = graph;
  fn->resources_ = resources;
  fn->pool_ = &pool;
  fn->plan_ = std::make_unique<Plan>();
  Plan& plan = *fn->plan_;
  const FunctionSpec& s = fn->spec_;
  const std::string label = s.label.empty() ? "" : s.label + ": ";

  ASSIGN_OR_RETURN(Resolved r, Resolve(*graph, s));
  std::vector<bool> needed = NeededNodes(*graph, r);

  // Topological order (Kahn) over the needed nodes.
  const int n = graph->num_nodes();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (int i = 0; i < n; ++i) {
    if (!needed[i]) continue;
    const Node& node = graph->node(i);
    for (const auto& in : node.inputs) {
      if (r.feed_index.contains(in)) continue;
      pending[i]++;
      consumers[in.node].push_back(i);
    }
    for (int c : node.control_inputs) {
      pending[i]++;
      consumers[c].push_back(i);
    }
  }
  std::vector<int> order;
  std::vector<int> ready;
  for (int i = n - 1; i >= 0; --i) {
    if (needed[i] && pending[i] == 0) ready.push_back(i);
  }
  while (!ready.empty()) {
    int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (int c : consumers[i]) {
      if (--pending[c] == 0) ready.push_back(c);
    }
  }
  int needed_count = static_cast<int>(std::count(needed.begin(), needed.end(), true));
  if (static_cast<int>(order.size()) != needed_count) {
    for (int i = 0; i < n; ++i) {
      if (needed[i] && pending[i] > 0) {
        return absl::UnimplementedError(absl::StrCat(
            label, "node \"", graph->node(i).name, "\" (", graph->node(i).op,
            "): the graph has a cycle (TF1 control flow loops are not supported yet)"));
      }
    }
  }

  // Output sources per (node, port); filled as nodes are compiled or folded.
  absl::flat_hash_map<Endpoint, Source> produced;
  // Per graph node, the steps whose completion means the node is done: its own step, or for a
  // node that runs no step (folded, forwarded, NoOp) whatever it waited for, so consumers keep
  // the order its control edges imposed.
  std::vector<StepSet> done(n);
  auto deps_of = [&](const Node& node) {
    StepSet deps;
    for (const auto& in : node.inputs) {
      if (!r.feed_index.contains(in)) deps.insert(deps.end(), done[in.node].begin(), done[in.node].end());
    }
    for (int c : node.control_inputs) deps.insert(deps.end(), done[c].begin(), done[c].end());
    SortUnique(deps);
    return deps;
  };
  auto add_constant = [&](Tensor t) {
    plan.constants.push_back(std::move(t));
    return Source{Source::kConstant, static_cast<int>(plan.constants.size()) - 1};
  };
  auto source_of = [&](const Endpoint& ep) -> absl::StatusOr<Source> {
    if (auto it = r.feed_index.find(ep); it != r.feed_index.end()) return Source{Source::kFeed, it->second};
    auto it = produced.find(ep);
    if (it == produced.end()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", graph->node(ep.node).name, ":",
                                                     ep.port, "\" is not produced by its node"));
    }
    return it->second;
  };

  ThreadPool inline_pool(0);
  RunOptions fold_options;
  auto is_ref_output = [&](const Endpoint& ep) {
    const OpRegistration* reg = registry.Find(graph->node(ep.node).op);
    return reg != nullptr && ep.port < 32 && (reg->ref_output_mask >> ep.port) & 1u;
  };
  // Adds a _ReadRef step reading the variable behind `src` (a ref), returns its output source.
  auto add_deref = [&](Source src, const std::string& name, const StepSet& preds) -> absl::StatusOr<Source> {
    Node& rd = plan.synthetic.emplace_back();
    rd.name = name + "/_read";
    rd.op = "_ReadRef";
    const Tensor* constant = src.kind == Source::kConstant ? &plan.constants[src.index] : nullptr;
    const Tensor* const_inputs[1] = {constant};
    DataType dtypes[1] = {DataType::kResource};
    ASSIGN_OR_RETURN(auto kernel, CreateKernel(registry, KernelConstruction(rd, const_inputs, dtypes)));
    Plan::Step step;
    step.node = &rd;
    step.kernel = std::move(kernel);
    step.inputs.push_back(src);
    step.first_output = plan.num_values++;
    step.num_outputs = 1;
    step.stateful = true;
    step.preds = preds;
    // A variable nothing assigns can be read once, now: its value is a constant of the plan.
    if (IsFrozenVariable(s, const_inputs)) {
      auto var = std::dynamic_pointer_cast<Variable>(constant->scalar<ResourceHandle>());
      ASSIGN_OR_RETURN(Tensor value, var->Read());
      plan.num_values--;
      return add_constant(std::move(value));
    }
    plan.steps.push_back(std::move(step));
    return Source{Source::kValue, plan.steps.back().first_output};
  };

  for (int idx : order) {
    const Node& node = graph->node(idx);
    const OpRegistration* reg = registry.Find(node.op);
    if (reg == nullptr) {
      return absl::UnimplementedError(absl::StrCat(label, "node \"", node.name, "\" (", node.op,
                                                   "): op \"", node.op, "\" is not supported"));
    }
    int num_outputs = reg->num_outputs;
    if (num_outputs < 0) {
      if (const auto* op_def = graph->library().FindSignature(node.op)) {
        num_outputs = NumOutputsFromOpDef(*op_def, node.attrs);
      }
    }
    if (num_outputs < 0) {
      // No OpDef in the model (TF2 stripped op lists can miss ops that only functions use): size
      // by the attr that sizes the op's output list in TensorFlow's OpDef, else by the highest
      // port anyone reads (at least one). Reads alone can undercount: RestoreV2 must produce
      // every tensor its dtypes list, even one whose consumer was pruned.
      num_outputs = 1;
      static const absl::flat_hash_map<absl::string_view, absl::string_view> kListAttrs = {
          {"RestoreV2", "dtypes"}, {"IdentityN", "T"}, {"Unpack", "num"},
          {"Split", "num_split"}, {"SplitV", "num_split"}};
      if (auto it = kListAttrs.find(node.op); it != kListAttrs.end()) {
        if (const tensorflow::AttrValue* a = FindAttr(node, it->second)) {
          const int listed = a->has_list() ? std::max(a->list().type_size(), a->list().i_size())
                                           : static_cast<int>(a->i());
          num_outputs = std::max(num_outputs, listed);
        }
      }
      for (int c : consumers[idx]) {
        for (const auto& in : graph->node(c).inputs) {
          if (in.node == idx) num_outputs = std::max(num_outputs, in.port + 1);
        }
      }
      for (const auto& ep : r.fetches) {
        if (ep.node == idx) num_outputs = std::max(num_outputs, ep.port + 1);
      }
    }

    Plan::Step step;
    step.node = &node;
    step.num_outputs = num_outputs;
    step.stateful = reg->stateful;
    step.expensive = reg->expensive || IsExpensiveOp(node.op);
    done[idx] = deps_of(node);  // replaced by the step itself if one is added
    step.preds = done[idx];
    absl::InlinedVector<const Tensor*, 4> const_inputs;
    absl::InlinedVector<DataType, 4> dtypes;
    bool all_constant = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Endpoint& in = node.inputs[i];
      ASSIGN_OR_RETURN(Source src, source_of(in));
      bool wants_ref = i < 32 && (reg->ref_input_mask >> i) & 1u;
      if (!r.feed_index.contains(in) && is_ref_output(in) && !wants_ref) {
        ASSIGN_OR_RETURN(src, add_deref(src, absl::StrCat(node.name, "/input", i), done[in.node]));
      }
      step.inputs.push_back(src);
      all_constant = all_constant && src.kind == Source::kConstant;
    }
    for (const Source& src : step.inputs) {
      const Tensor* t = src.kind == Source::kConstant ? &plan.constants[src.index] : nullptr;
      const_inputs.push_back(t);
      dtypes.push_back(t ? t->dtype() : DataType::kInvalid);
    }
    auto kernel = CreateKernel(registry, KernelConstruction(node, const_inputs, dtypes));
    if (!kernel.ok()) {
      return Annotate(kernel.status(), absl::StrCat(label, "node \"", node.name, "\" (", node.op, ")"));
    }
    step.kernel = *std::move(kernel);

    // Fold: pure ops over constants, ops that only create a resource handle, and reads of
    // variables that no function of the model assigns.
    bool foldable = (reg->compile_time_handle || (!reg->stateful && all_constant) ||
                     (node.op == "ReadVariableOp" && all_constant && IsFrozenVariable(s, const_inputs)));
    foldable = foldable && node.op != "Placeholder" && num_outputs > 0;
    if (foldable) {
      std::vector<Tensor> outs(num_outputs);
      KernelContext ctx(node, const_inputs, outs, inline_pool, *resources, fold_options);
      absl::Status st = step.kernel->Compute(ctx);
      bool complete = st.ok() && std::all_of(outs.begin(), outs.end(), [](const Tensor& t) { return t.valid(); });
      if (complete) {
        for (int p = 0; p < num_outputs; ++p) produced[{idx, p}] = add_constant(std::move(outs[p]));
        continue;
      }
      // Folding failed (e.g. a shape error): keep the step so the error surfaces at run time.
    }
    // Forwarding ops add nothing at run time: consumers read the input directly.
    if (IsIdentityLike(node.op) && node.control_inputs.empty() && step.inputs.size() == 1 &&
        num_outputs == 1) {
      produced[{idx, 0}] = step.inputs[0];
      continue;
    }
    if (node.op == "NoOp") continue;  // control-only: sequential order already honours it
    step.first_output = plan.num_values;
    plan.num_values += num_outputs;
    for (int p = 0; p < num_outputs; ++p) produced[{idx, p}] = Source{Source::kValue, step.first_output + p};
    done[idx] = {static_cast<int>(plan.steps.size())};
    plan.steps.push_back(std::move(step));
  }

  for (size_t i = 0; i < r.fetches.size(); ++i) {
    const Endpoint& ep = r.fetches[i];
    ASSIGN_OR_RETURN(Source src, source_of(ep));
    if (!r.feed_index.contains(ep) && is_ref_output(ep)) {
      ASSIGN_OR_RETURN(src, add_deref(src, absl::StrCat(graph->node(ep.node).name, "/fetch", i),
                                      done[ep.node]));
    }
    plan.fetches.push_back(src);
  }

  // Dead-step removal: keep stateful steps and those whose outputs someone reads.
  std::vector<bool> used(plan.num_values, false);
  for (const Source& f : plan.fetches) {
    if (f.kind == Source::kValue) used[f.index] = true;
  }
  std::vector<bool> keep(plan.steps.size(), false);
  for (int i = static_cast<int>(plan.steps.size()) - 1; i >= 0; --i) {
    auto& st = plan.steps[i];
    bool live = st.stateful;
    for (int p = 0; p < st.num_outputs && !live; ++p) live = used[st.first_output + p];
    if (!live) continue;
    keep[i] = true;
    for (const Source& in : st.inputs) {
      if (in.kind == Source::kValue) used[in.index] = true;
    }
  }
  // Data edges: each value's producer. Then replace removed predecessors by their own (already
  // rewritten) predecessors, and renumber to the kept steps.
  std::vector<int> owner(plan.num_values, -1);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& st = plan.steps[i];
    for (int p = 0; p < st.num_outputs; ++p) owner[st.first_output + p] = static_cast<int>(i);
  }
  std::vector<int> new_index(plan.steps.size(), -1);
  for (size_t i = 0, kept_count = 0; i < plan.steps.size(); ++i) {
    if (keep[i]) new_index[i] = static_cast<int>(kept_count++);
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    auto& st = plan.steps[i];
    for (const Source& in : st.inputs) {
      if (in.kind == Source::kValue && owner[in.index] >= 0) st.preds.push_back(owner[in.index]);
    }
    StepSet live;
    for (int p : st.preds) {
      if (keep[p]) {
        live.push_back(p);
      } else {
        live.insert(live.end(), plan.steps[p].preds.begin(), plan.steps[p].preds.end());
      }
    }
    SortUnique(live);
    st.preds = std::move(live);  // only kept steps, by their old index
  }
  std::vector<Plan::Step> kept;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (!keep[i]) continue;
    for (int& p : plan.steps[i].preds) p = new_index[p];
    kept.push_back(std::move(plan.steps[i]));
  }
  plan.steps = std::move(kept);

  // Run in parallel only when two expensive steps are independent. In the partial order "must
  // finish before", the expensive steps are all comparable exactly when they form one chain, so
  // they are not when the longest chain holds fewer of them than there are.
  const int num_steps = static_cast<int>(plan.steps.size());
  plan.successors.assign(num_steps, {});
  plan.num_preds.assign(num_steps, 0);
  std::vector<int> chain(num_steps, 0);
  int expensive_steps = 0;
  int longest_chain = 0;
  for (int i = 0; i < num_steps; ++i) {
    const auto& st = plan.steps[i];
    plan.num_preds[i] = static_cast<int>(st.preds.size());
    for (int p : st.preds) {
      plan.successors[p].push_back(i);
      chain[i] = std::max(chain[i], chain[p]);
    }
    chain[i] += st.expensive ? 1 : 0;
    expensive_steps += st.expensive ? 1 : 0;
    longest_chain = std::max(longest_chain, chain[i]);
  }
  // Static shapes, step by step in plan order.
  if (!s.feed_shapes.empty() && s.feed_shapes.size() != r.feeds.size()) {
    return absl::InvalidArgumentError(absl::StrCat(label, s.feed_shapes.size(), " feed shapes for ",
                                                   r.feeds.size(), " feeds"));
  }
  const auto feed_shape = [&](int i) {
    return s.feed_shapes.empty() ? PartialShape::UnknownRank() : s.feed_shapes[i];
  };
  const auto static_shape = [&](const Source& src) {
    switch (src.kind) {
      case Source::kConstant: return PartialShape(plan.constants[src.index].shape());
      case Source::kFeed: return feed_shape(src.index);
      case Source::kValue: break;
    }
    return plan.value_shapes[src.index];
  };
  plan.value_shapes.assign(plan.num_values, PartialShape::UnknownRank());
  for (const auto& st : plan.steps) {
    std::vector<PartialShape> input_shapes;
    absl::InlinedVector<const Tensor*, 4> input_constants;
    for (const Source& src : st.inputs) {
      input_shapes.push_back(static_shape(src));
      input_constants.push_back(src.kind == Source::kConstant ? &plan.constants[src.index] : nullptr);
    }
    auto shapes = InferNodeShapes(*st.node, input_shapes, input_constants, st.num_outputs);
    if (!shapes.ok()) {
      return Annotate(shapes.status(), absl::StrCat(label, "node \"", st.node->name, "\" (", st.node->op, ")"));
    }
    for (int p = 0; p < st.num_outputs; ++p) plan.value_shapes[st.first_output + p] = (*shapes)[p];
  }
  for (const Source& f : plan.fetches) plan.fetch_shapes.push_back(static_shape(f));

  // Per value, the last step that reads it: num_steps when a fetch returns it, -1 when nothing
  // reads it.
  std::vector<int> last_reader(plan.num_values, -1);
  for (int i = 0; i < num_steps; ++i) {
    for (const Source& src : plan.steps[i].inputs) {
      if (src.kind == Source::kValue) last_reader[src.index] = std::max(last_reader[src.index], i);
    }
  }
  for (const Source& f : plan.fetches) {
    if (f.kind == Source::kValue) last_reader[f.index] = num_steps;
  }
  // Release points (plan order): each value is dropped after the last step that reads it (an
  // unread one after its producer), so its buffer goes back to the allocator's cache while still
  // warm and the next output reuses it.
  plan.release_after.assign(num_steps, {});
  for (int i = 0; i < num_steps; ++i) {
    const auto& st = plan.steps[i];
    for (int v = st.first_output; v < st.first_output + st.num_outputs; ++v) {
      const int last = last_reader[v] < 0 ? i : last_reader[v];
      if (last < num_steps) plan.release_after[last].push_back(v);
    }
  }

  switch (s.inter_op) {
    case FunctionSpec::InterOp::kAlways:
      plan.parallel = true;
      break;
    case FunctionSpec::InterOp::kNever:
      plan.parallel = false;
      break;
    case FunctionSpec::InterOp::kAuto:
      plan.parallel = pool.parallelism() > 1 && longest_chain < expensive_steps;
      break;
  }
  if (s.batch_split != FunctionSpec::BatchSplit::kNever && !plan.parallel) {
    std::vector<PartialShape> shapes;
    for (size_t i = 0; i < r.feeds.size(); ++i) shapes.push_back(feed_shape(static_cast<int>(i)));
    PlanBatchSplit(plan, s, shapes, last_reader, pool.parallelism());
  }
  return fn;
}

absl::Status Function::RunStep(int index, std::span<const Tensor> feeds, Tensor* values,
                               const RunOptions& options, ThreadPool& pool) const {
  const Plan& plan = *plan_;
  const Plan::Step& step = plan.steps[index];
  absl::InlinedVector<const Tensor*, 8> inputs;
  for (const Source& src : step.inputs) {
    switch (src.kind) {
      case Source::kConstant: inputs.push_back(&plan.constants[src.index]); break;
      case Source::kFeed: inputs.push_back(&feeds[src.index]); break;
      case Source::kValue: inputs.push_back(&values[src.index]); break;
    }
  }
  KernelContext ctx(*step.node, inputs, std::span<Tensor>(values + step.first_output, step.num_outputs),
                    pool, *resources_, options);
  absl::Status st = step.kernel->Compute(ctx);
  if (!st.ok()) {
    return absl::Status(st.code(), absl::StrCat(spec_.label.empty() ? "" : spec_.label + ": ", "node \"",
                                                step.node->name, "\" (", step.node->op, "): ",
                                                st.message()));
  }
  return absl::OkStatus();
}

namespace {

// One parallel Run's scheduling state, shared by the caller and the helpers it schedules on the
// pool. A helper may start after the Run has returned (the caller did all the work); it then finds
// nothing ready and leaves, touching only this object, which it keeps alive.
struct ReadyQueue {
  std::mutex mu;
  std::condition_variable cv;             // the caller waits here for ready steps or the end
  std::vector<int> ready;                 // guarded by mu
  std::vector<int> waiting_for;           // guarded by mu; per step, unfinished predecessors
  int unfinished = 0;                     // guarded by mu
  int running = 0;                        // guarded by mu
  int helpers = 0;                        // guarded by mu; scheduled and not yet gone
  absl::Status error;                     // guarded by mu; the first failure
  std::function<absl::Status(int)> run;   // valid while unfinished > 0 and no error
  const std::vector<std::vector<int>>* successors = nullptr;
};

// Takes and runs ready steps until none is left (helper) or the run is over (caller). Schedules
// more helpers while more steps are ready than threads take them, up to the pool's workers.
void WorkOn(const std::shared_ptr<ReadyQueue>& q, ThreadPool& pool, bool caller) {
  std::unique_lock<std::mutex> lock(q->mu);
  for (;;) {
    if (!q->ready.empty() && q->error.ok()) {
      const int step = q->ready.back();
      q->ready.pop_back();
      ++q->running;
      int new_helpers = 0;
      const int max_helpers = pool.parallelism() - 1;
      while (q->helpers < max_helpers && q->helpers < static_cast<int>(q->ready.size())) {
        ++q->helpers;
        ++new_helpers;
      }
      lock.unlock();
      for (int i = 0; i < new_helpers; ++i) pool.Schedule([q, &pool] { WorkOn(q, pool, false); });
      absl::Status status = q->run(step);
      lock.lock();
      --q->running;
      if (!status.ok()) {
        if (q->error.ok()) q->error = std::move(status);
        q->ready.clear();
      } else {
        --q->unfinished;
        for (int next : (*q->successors)[step]) {
          if (--q->waiting_for[next] == 0) q->ready.push_back(next);
        }
      }
      q->cv.notify_all();
      continue;
    }
    if (!caller) {
      --q->helpers;
      return;
    }
    if (q->unfinished == 0 || (!q->error.ok() && q->running == 0)) return;
    q->cv.wait(lock);
  }
}

}  // namespace

absl::Status Function::RunInParallel(std::span<const Tensor> feeds, Tensor* values,
                                     const RunOptions& options) const {
  const Plan& plan = *plan_;
  auto q = std::make_shared<ReadyQueue>();
  q->waiting_for = plan.num_preds;
  q->unfinished = static_cast<int>(plan.steps.size());
  q->successors = &plan.successors;
  q->run = [this, feeds, values, &options](int step) {
    return RunStep(step, feeds, values, options, *pool_);
  };
  // Roots in reverse so that the LIFO queue starts with the first step of the plan.
  for (int i = static_cast<int>(plan.steps.size()) - 1; i >= 0; --i) {
    if (plan.num_preds[i] == 0) q->ready.push_back(i);
  }
  WorkOn(q, *pool_, /*caller=*/true);
  std::lock_guard<std::mutex> lock(q->mu);
  q->run = nullptr;
  return q->error;
}

bool Function::RunSplit(std::span<const Tensor> feeds, Tensor* values,
                        const RunOptions& options) const {
  const Plan& plan = *plan_;
  if (plan.split_steps == 0 || plan.split_feeds.empty()) return false;
  const Tensor& first = feeds[plan.split_feeds[0]];
  if (first.rank() < 1) return false;
  const int64_t batch = first.dim(0);
  for (int f : plan.split_feeds) {
    // The split was planned from the static feed shapes: a feed that does not fit them (callers
    // that skip the signature's checks) runs whole.
    const Tensor& t = feeds[f];
    if (!IsPodType(t.dtype()) || t.rank() < 1 || t.dim(0) != batch || t.raw_data() == nullptr ||
        (static_cast<size_t>(f) < spec_.feed_shapes.size() &&
         !spec_.feed_shapes[f].IsCompatibleWith(t.shape()))) {
      return false;
    }
  }
  const int64_t rows = plan.split_rows;
  if (batch < plan.split_min_batch) return false;
  const int64_t slices = (batch + rows - 1) / rows;
  const size_t outputs = plan.split_outputs.size();
  std::vector<Tensor> sliced(static_cast<size_t>(slices) * outputs);
  std::atomic<bool> failed{false};
  // Each slice runs its steps on one thread: the pool's parallelism goes to the slices.
  static ThreadPool* const inline_pool = new ThreadPool(0);
  pool_->ParallelFor(slices, 1, [&](int64_t begin, int64_t end) {
    std::vector<Tensor> slice_feeds(feeds.begin(), feeds.end());
    absl::InlinedVector<Tensor, 16> slice_values(plan.num_values);
    for (int64_t s = begin; s < end; ++s) {
      if (failed.load(std::memory_order_relaxed)) return;
      const int64_t row = s * rows, count = std::min(rows, batch - row);
      for (int f : plan.split_feeds) slice_feeds[f] = RowSlice(feeds[f], row, count);
      for (Tensor& v : slice_values) v = Tensor();
      for (int i = 0; i < plan.split_steps; ++i) {
        if (!RunStep(i, slice_feeds, slice_values.data(), options, *inline_pool).ok()) {
          failed.store(true, std::memory_order_relaxed);
          return;
        }
        for (int v : plan.release_after[i]) slice_values[v] = Tensor();
      }
      for (size_t j = 0; j < outputs; ++j) {
        sliced[s * outputs + j] = std::move(slice_values[plan.split_outputs[j]]);
      }
    }
  });
  if (failed.load()) return false;
  // Concatenate each output's slices along dim 0; a slice that does not fit (it cannot, for the
  // ops classified row-wise) falls back to the whole-batch run.
  for (size_t j = 0; j < outputs; ++j) {
    const Tensor& head = sliced[j];
    if (!head.valid() || !IsPodType(head.dtype()) || head.rank() < 1) return false;
    const int64_t scale = plan.split_output_scales[j];
    Shape shape = head.shape();
    shape.set_dim(0, batch * scale);
    for (int64_t s = 0; s < slices; ++s) {
      const Tensor& t = sliced[s * outputs + j];
      const int64_t count = std::min(rows, batch - s * rows) * scale;
      if (t.dtype() != head.dtype() || t.rank() != head.rank() || t.dim(0) != count ||
          !std::equal(t.shape().dims().begin() + 1, t.shape().dims().end(),
                      head.shape().dims().begin() + 1)) {
        return false;
      }
    }
    Tensor whole(head.dtype(), shape);
    char* out = static_cast<char*>(whole.raw_data());
    for (int64_t s = 0; s < slices; ++s) {
      const Tensor& t = sliced[s * outputs + j];
      if (t.byte_size() > 0) std::memcpy(out, t.raw_data(), t.byte_size());
      out += t.byte_size();
    }
    values[plan.split_outputs[j]] = std::move(whole);
  }
  return true;
}

absl::Status Function::Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches,
                           const RunOptions& options) const {
  const Plan& plan = *plan_;
  if (feeds.size() != spec_.feeds.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", spec_.feeds.size(), " feeds, got ",
                                                   feeds.size()));
  }
  absl::InlinedVector<Tensor, 16> values(plan.num_values);
  if (plan.parallel) {
    RETURN_IF_ERROR(RunInParallel(feeds, values.data(), options));
  } else {
    const int num_steps = static_cast<int>(plan.steps.size());
    const int first = RunSplit(feeds, values.data(), options) ? plan.split_steps : 0;
    for (int i = first; i < num_steps; ++i) {
      RETURN_IF_ERROR(RunStep(i, feeds, values.data(), options, *pool_));
      for (int v : plan.release_after[i]) values[v] = Tensor();
    }
  }
  fetches->resize(plan.fetches.size());
  for (size_t i = 0; i < plan.fetches.size(); ++i) {
    const Source& src = plan.fetches[i];
    const Tensor* t = src.kind == Source::kConstant ? &plan.constants[src.index]
                      : src.kind == Source::kFeed   ? &feeds[src.index]
                                                    : &values[src.index];
    if (!t->valid()) {
      return absl::InternalError(absl::StrCat("fetch \"", spec_.fetches[i], "\" was not computed"));
    }
    (*fetches)[i] = *t;
  }
  return absl::OkStatus();
}

}  // namespace savant::engine
