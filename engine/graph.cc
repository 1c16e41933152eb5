#include "engine/graph.h"

#include <pthread.h>

#include <functional>
#include <new>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"

namespace savant::engine {
namespace {

// A function call node: PartitionedCall/StatefulPartitionedCall name their function in attr "f";
// any other node whose op is a library function calls it directly.
const tensorflow::FunctionDef* CalledFunction(const tensorflow::NodeDef& def,
                                              const FunctionLibrary& lib) {
  if (def.op() == "PartitionedCall" || def.op() == "StatefulPartitionedCall") {
    auto it = def.attr().find("f");
    if (it == def.attr().end() || !it->second.has_func()) return nullptr;
    return lib.FindFunction(it->second.func().name());
  }
  return lib.FindFunction(def.op());
}

int ArgCount(const tensorflow::OpDef::ArgDef& arg, const AttrMap& attrs,
             const tensorflow::OpDef& op_def) {
  auto lookup = [&](const std::string& name) -> const tensorflow::AttrValue* {
    auto it = attrs.find(name);
    if (it != attrs.end()) return &it->second;
    for (const auto& a : op_def.attr()) {
      if (a.name() == name && a.has_default_value()) return &a.default_value();
    }
    return nullptr;
  };
  if (!arg.number_attr().empty()) {
    const auto* v = lookup(arg.number_attr());
    return v ? static_cast<int>(v->i()) : -1;
  }
  if (!arg.type_list_attr().empty()) {
    const auto* v = lookup(arg.type_list_attr());
    return v ? v->list().type_size() : -1;
  }
  return 1;
}


}  // namespace

FunctionLibrary::FunctionLibrary(const tensorflow::FunctionDefLibrary& functions,
                                 const tensorflow::OpList& ops) {
  for (const auto& f : functions.function()) functions_[f.signature().name()] = f;
  for (const auto& op : ops.op()) ops_[op.name()] = op;
}

const tensorflow::FunctionDef* FunctionLibrary::FindFunction(absl::string_view name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

const tensorflow::OpDef* FunctionLibrary::FindOp(absl::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

const tensorflow::OpDef* FunctionLibrary::FindSignature(absl::string_view op) const {
  if (const auto* f = FindFunction(op)) return &f->signature();
  return FindOp(op);
}

int NumOutputsFromOpDef(const tensorflow::OpDef& op_def, const AttrMap& attrs) {
  int n = 0;
  for (const auto& arg : op_def.output_arg()) {
    int c = ArgCount(arg, attrs, op_def);
    if (c < 0) return -1;
    n += c;
  }
  return n;
}

const tensorflow::AttrValue* FindAttr(const Node& node, absl::string_view name) {
  auto it = node.attrs.find(std::string(name));
  return it == node.attrs.end() ? nullptr : &it->second;
}

namespace {

absl::Status MissingAttr(const Node& node, absl::string_view name, absl::string_view kind) {
  return absl::InvalidArgumentError(
      absl::StrCat("attr \"", std::string(name), "\" (", std::string(kind), ") is missing or has another type"));
}

}  // namespace

absl::StatusOr<int64_t> GetIntAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || a->value_case() != tensorflow::AttrValue::kI) return MissingAttr(node, name, "int");
  return a->i();
}

absl::StatusOr<float> GetFloatAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || a->value_case() != tensorflow::AttrValue::kF) return MissingAttr(node, name, "float");
  return a->f();
}

absl::StatusOr<bool> GetBoolAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || a->value_case() != tensorflow::AttrValue::kB) return MissingAttr(node, name, "bool");
  return a->b();
}

absl::StatusOr<std::string> GetStringAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || a->value_case() != tensorflow::AttrValue::kS) return MissingAttr(node, name, "string");
  return a->s();
}

absl::StatusOr<DataType> GetTypeAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || a->value_case() != tensorflow::AttrValue::kType) return MissingAttr(node, name, "type");
  int t = a->type();
  // Reference types (DT_FLOAT_REF = 101, ...) carry the base type plus 100.
  if (t > 100) t -= 100;
  return static_cast<DataType>(t);
}

absl::StatusOr<std::vector<int64_t>> GetIntListAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || (a->value_case() != tensorflow::AttrValue::kList)) {
    return MissingAttr(node, name, "list(int)");
  }
  return std::vector<int64_t>(a->list().i().begin(), a->list().i().end());
}

absl::StatusOr<std::vector<DataType>> GetTypeListAttr(const Node& node, absl::string_view name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr || (a->value_case() != tensorflow::AttrValue::kList)) {
    return MissingAttr(node, name, "list(type)");
  }
  std::vector<DataType> out;
  for (int t : a->list().type()) out.push_back(static_cast<DataType>(t > 100 ? t - 100 : t));
  return out;
}

int64_t GetIntAttrOr(const Node& node, absl::string_view name, int64_t fallback) {
  auto v = GetIntAttr(node, name);
  return v.ok() ? *v : fallback;
}
bool GetBoolAttrOr(const Node& node, absl::string_view name, bool fallback) {
  auto v = GetBoolAttr(node, name);
  return v.ok() ? *v : fallback;
}
float GetFloatAttrOr(const Node& node, absl::string_view name, float fallback) {
  auto v = GetFloatAttr(node, name);
  return v.ok() ? *v : fallback;
}
std::string GetStringAttrOr(const Node& node, absl::string_view name, std::string fallback) {
  auto v = GetStringAttr(node, name);
  return v.ok() ? *v : fallback;
}

int Graph::AddNode(Node node) {
  int index = static_cast<int>(nodes_.size());
  by_name_[node.name] = index;
  nodes_.push_back(std::move(node));
  return index;
}

int Graph::FindNode(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

absl::StatusOr<Endpoint> Graph::FindEndpoint(absl::string_view tensor_name) const {
  absl::string_view name = tensor_name;
  int port = 0;
  if (auto colon = name.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(std::string(name.substr(colon + 1)), &port) || port < 0) {
      return absl::InvalidArgumentError(absl::StrCat("malformed tensor name \"", std::string(tensor_name), "\""));
    }
    name = name.substr(0, colon);
  }
  if (auto it = call_outputs_.find(name); it != call_outputs_.end()) {
    if (port >= static_cast<int>(it->second.size())) {
      return absl::NotFoundError(absl::StrCat("tensor \"", std::string(tensor_name), "\": the call has ",
                                              it->second.size(), " outputs"));
    }
    return it->second[port];
  }
  int node = FindNode(name);
  if (node < 0) {
    return absl::NotFoundError(absl::StrCat("tensor \"", std::string(tensor_name), "\" is not in the graph"));
  }
  return Endpoint{node, port};
}

// Imports GraphDef nodes and inlines function bodies. A scope is the node list of the top-level
// graph or of one inlined call; input names are resolved lazily so nodes may appear in any order
// and calls are expanded the first time one of their outputs is needed.
class GraphImporter {
 public:
  GraphImporter(Graph& graph, const FunctionLibrary& lib) : graph_(graph), lib_(lib) {}

  struct Scope {
    std::string prefix;  // "" for the top level, "call/" for an inlined body
    bool is_function = false;
    const google::protobuf::RepeatedPtrField<tensorflow::NodeDef>* defs = nullptr;
    absl::flat_hash_map<std::string, int> def_index;           // local name -> index in defs
    absl::flat_hash_map<std::string, Endpoint> args;           // function arg name -> endpoint
    std::vector<int> node_of_def;                              // graph node index, -1 if call/unset
    std::vector<std::vector<Endpoint>> call_outputs;           // for call defs
    std::vector<int> call_control;                             // control node for call defs
    std::vector<int> state;                                    // 0 new, 1 in progress, 2 done
    std::vector<int> extra_control;                            // added to source nodes
    int depth = 0;
  };

  absl::Status ImportScope(Scope& scope) {
    const auto& defs = *scope.defs;
    scope.node_of_def.assign(defs.size(), -1);
    scope.call_outputs.resize(defs.size());
    scope.call_control.assign(defs.size(), -1);
    scope.state.assign(defs.size(), 0);
    for (int i = 0; i < defs.size(); ++i) {
      if (!scope.def_index.emplace(defs[i].name(), i).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate node name \"", scope.prefix, defs[i].name(), "\""));
      }
    }
    for (int i = 0; i < defs.size(); ++i) RETURN_IF_ERROR(Materialize(scope, i));
    return absl::OkStatus();
  }

  // Resolves the data input string `input` inside `scope`.
  absl::StatusOr<Endpoint> ResolveData(Scope& scope, absl::string_view input) {
    std::vector<absl::string_view> parts = absl::StrSplit(input, ':');
    if (parts.empty() || parts[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("malformed input \"", input, "\""));
    }
    if (scope.is_function && parts.size() == 1) {
      auto it = scope.args.find(parts[0]);
      if (it != scope.args.end()) return it->second;
    }
    auto it = scope.def_index.find(parts[0]);
    if (it == scope.def_index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input \"", input, "\" names no node", scope.is_function ? " or argument" : ""));
    }
    int def = it->second;
    RETURN_IF_ERROR(Materialize(scope, def));
    const auto& nd = (*scope.defs)[def];
    int port = 0;
    if (scope.is_function && parts.size() == 3) {
      int index = 0;
      if (!absl::SimpleAtoi(parts[2], &index)) {
        return absl::InvalidArgumentError(absl::StrCat("malformed input \"", input, "\""));
      }
      ASSIGN_OR_RETURN(port, FlatPort(scope, def, parts[1], index));
    } else if (parts.size() == 2) {
      if (!absl::SimpleAtoi(parts[1], &port) || port < 0) {
        return absl::InvalidArgumentError(absl::StrCat("malformed input \"", input, "\""));
      }
    } else if (parts.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("malformed input \"", input, "\""));
    }
    if (scope.node_of_def[def] >= 0) return Endpoint{scope.node_of_def[def], port};
    const auto& outs = scope.call_outputs[def];
    if (port >= static_cast<int>(outs.size())) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", input, "\": function call \"",
                                                     nd.name(), "\" has ", outs.size(), " outputs"));
    }
    return outs[port];
  }

  absl::StatusOr<int> ResolveControl(Scope& scope, absl::string_view name) {
    auto it = scope.def_index.find(name);
    if (it == scope.def_index.end()) {
      return absl::InvalidArgumentError(absl::StrCat("control input \"^", name, "\" names no node"));
    }
    RETURN_IF_ERROR(Materialize(scope, it->second));
    if (scope.node_of_def[it->second] >= 0) return scope.node_of_def[it->second];
    return scope.call_control[it->second];
  }

 private:
  // Flat output index of `out_arg`[index] of def `def` in a function body.
  absl::StatusOr<int> FlatPort(Scope& scope, int def, absl::string_view out_arg, int index) {
    const auto& nd = (*scope.defs)[def];
    const tensorflow::OpDef* op_def = lib_.FindSignature(nd.op());
    if (op_def == nullptr) return index;  // unknown op: single output list assumed
    AttrMap attrs(nd.attr().begin(), nd.attr().end());
    int base = 0;
    for (const auto& arg : op_def->output_arg()) {
      if (arg.name() == out_arg) return base + index;
      int c = ArgCount(arg, attrs, *op_def);
      if (c < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("node \"", nd.name(), "\": cannot size output list \"", arg.name(), "\""));
      }
      base += c;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("node \"", nd.name(), "\" (", nd.op(), ") has no output \"", out_arg, "\""));
  }

  // Guards against hostile graphs: input chains are resolved recursively, and inlining can
  // multiply nodes (a function calling another twice, 20 levels deep, is a million nodes).
  static constexpr int kMaxResolveDepth = 1000;
  static constexpr int kMaxNodes = 2'000'000;

  absl::Status Materialize(Scope& scope, int def) {
    if (scope.state[def] == 2) return absl::OkStatus();
    if (graph_.num_nodes() > kMaxNodes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("graph grows past ", kMaxNodes, " nodes while inlining function calls"));
    }
    if (++depth_ > kMaxResolveDepth) {
      --depth_;
      return absl::UnimplementedError(absl::StrCat(
          "input chains deeper than ", kMaxResolveDepth,
          " nodes out of topological order are not supported"));
    }
    absl::Status st = MaterializeImpl(scope, def);
    --depth_;
    return st;
  }

  absl::Status MaterializeImpl(Scope& scope, int def) {
    const auto& nd = (*scope.defs)[def];
    std::string full_name = scope.prefix + nd.name();
    if (scope.state[def] == 1) {
      // A data cycle: TF1 while loops (NextIteration) and recursive calls are not supported yet.
      return absl::UnimplementedError(
          absl::StrCat("node \"", full_name, "\": graph cycles (TF1 while loops) are not supported"));
    }
    scope.state[def] = 1;
    const tensorflow::FunctionDef* fdef = CalledFunction(nd, lib_);
    if (fdef != nullptr) {
      RETURN_IF_ERROR(Inline(scope, def, *fdef));
      scope.state[def] = 2;
      return absl::OkStatus();
    }
    Node node;
    node.name = full_name;
    node.op = nd.op();
    node.device = nd.device();
    node.attrs = AttrMap(nd.attr().begin(), nd.attr().end());
    if (const tensorflow::OpDef* op_def = lib_.FindOp(nd.op())) {
      for (const auto& a : op_def->attr()) {
        if (a.has_default_value() && !node.attrs.contains(a.name())) {
          node.attrs[a.name()] = a.default_value();
        }
      }
    }
    for (const std::string& input : nd.input()) {
      if (!input.empty() && input[0] == '^') {
        ASSIGN_OR_RETURN(int c, ResolveControl(scope, absl::string_view(input).substr(1)));
        if (c >= 0) node.control_inputs.push_back(c);
      } else {
        auto ep = ResolveData(scope, input);
        if (!ep.ok()) return Annotate(ep.status(), absl::StrCat("node \"", full_name, "\""));
        node.inputs.push_back(*ep);
      }
    }
    if (node.inputs.empty() && node.control_inputs.empty()) {
      node.control_inputs = scope.extra_control;
    }
    scope.node_of_def[def] = graph_.AddNode(std::move(node));
    scope.state[def] = 2;
    return absl::OkStatus();
  }

  // An upper bound on the nodes one inlined call of `fdef` adds: its body with every call in it
  // expanded, the Identity per output that control_ret may add, and the completion NoOp. Saturates
  // just past kMaxNodes. Memoized, so a library that doubles per level costs one pass, and an
  // exponential expansion is refused before a single node is built.
  int64_t InlinedSize(const tensorflow::FunctionDef& fdef) {
    if (auto it = inlined_size_.find(&fdef); it != inlined_size_.end()) return it->second;
    inlined_size_[&fdef] = 1;  // a recursive call: the depth limit reports it when inlined
    int64_t size = fdef.signature().output_arg_size() + 1;
    for (const auto& nd : fdef.node_def()) {
      const tensorflow::FunctionDef* callee = CalledFunction(nd, lib_);
      size += callee != nullptr ? InlinedSize(*callee) : 1;
      if (size > kMaxNodes) {
        size = kMaxNodes + 1;
        break;
      }
    }
    inlined_size_[&fdef] = size;
    return size;
  }

  absl::Status Inline(Scope& scope, int def, const tensorflow::FunctionDef& fdef) {
    const auto& nd = (*scope.defs)[def];
    std::string call_name = scope.prefix + nd.name();
    if (scope.depth > 64) {
      return absl::UnimplementedError(
          absl::StrCat("function call \"", call_name, "\": calls nested deeper than 64 (recursion?)"));
    }
    if (const int64_t size = InlinedSize(fdef); graph_.num_nodes() + size > kMaxNodes) {
      const std::string expansion = size > kMaxNodes
                                        ? absl::StrCat("expands to more than ", kMaxNodes, " nodes")
                                        : absl::StrCat("adds up to ", size, " nodes to ",
                                                       graph_.num_nodes());
      return absl::ResourceExhaustedError(
          absl::StrCat("function call \"", call_name, "\" of \"", fdef.signature().name(),
                       "\": inlining it ", expansion, ", past the limit of ", kMaxNodes));
    }
    const auto& sig = fdef.signature();
    Scope body;
    body.prefix = call_name + "/";
    body.is_function = true;
    body.defs = &fdef.node_def();
    body.depth = scope.depth + 1;
    std::vector<Endpoint> args;
    for (const std::string& input : nd.input()) {
      if (!input.empty() && input[0] == '^') {
        ASSIGN_OR_RETURN(int c, ResolveControl(scope, absl::string_view(input).substr(1)));
        if (c >= 0) body.extra_control.push_back(c);
      } else {
        auto ep = ResolveData(scope, input);
        if (!ep.ok()) return Annotate(ep.status(), absl::StrCat("function call \"", call_name, "\""));
        args.push_back(*ep);
      }
    }
    for (int c : scope.extra_control) body.extra_control.push_back(c);
    if (static_cast<int>(args.size()) != sig.input_arg_size()) {
      return absl::InvalidArgumentError(absl::StrCat("function call \"", call_name, "\" of \"",
                                                     sig.name(), "\": expected ", sig.input_arg_size(),
                                                     " inputs, got ", args.size()));
    }
    for (int i = 0; i < sig.input_arg_size(); ++i) body.args[sig.input_arg(i).name()] = args[i];
    RETURN_IF_ERROR_CTX(ImportScope(body), absl::StrCat("function \"", sig.name(), "\""));

    // Side effects named in control_ret must run whenever any output is used: route each output
    // through an Identity that depends on them.
    std::vector<int> control_nodes;
    for (const auto& [ret_name, node_name] : fdef.control_ret()) {
      ASSIGN_OR_RETURN(int c, ResolveControl(body, node_name));
      if (c >= 0) control_nodes.push_back(c);
    }
    std::vector<Endpoint> outputs;
    for (int i = 0; i < sig.output_arg_size(); ++i) {
      auto it = fdef.ret().find(sig.output_arg(i).name());
      if (it == fdef.ret().end()) {
        return absl::InvalidArgumentError(absl::StrCat("function \"", sig.name(), "\": output \"",
                                                       sig.output_arg(i).name(), "\" has no ret"));
      }
      ASSIGN_OR_RETURN(Endpoint ep, ResolveData(body, it->second));
      if (!control_nodes.empty()) {
        Node id;
        id.name = absl::StrCat(call_name, "/_ret", i);
        id.op = "Identity";
        id.inputs = {ep};
        id.control_inputs = control_nodes;
        ep = Endpoint{graph_.AddNode(std::move(id)), 0};
      }
      outputs.push_back(ep);
    }
    Node done;
    done.name = call_name;  // control consumers of the call depend on this NoOp
    done.op = "NoOp";
    done.control_inputs = control_nodes;
    for (const auto& ep : outputs) done.control_inputs.push_back(ep.node);
    scope.call_control[def] = graph_.AddNode(std::move(done));
    scope.call_outputs[def] = std::move(outputs);
    return absl::OkStatus();
  }

  Graph& graph_;
  const FunctionLibrary& lib_;
  int depth_ = 0;
  absl::flat_hash_map<const tensorflow::FunctionDef*, int64_t> inlined_size_;
};

namespace {

// Runs `fn` on a thread with a `bytes` stack and waits for it. The importer resolves input chains
// recursively (up to kMaxResolveDepth levels); a dedicated stack makes that depth safe whatever
// thread calls Import and whatever the build does to frame sizes (ASan triples them). Falls back to
// the caller's stack if no thread can be created.
absl::Status RunOnLargeStack(size_t bytes, const std::function<absl::Status()>& fn) {
  struct Call {
    const std::function<absl::Status()>* fn;
    absl::Status status;
  } call{&fn, absl::OkStatus()};
  auto body = [](void* arg) -> void* {
    auto* c = static_cast<Call*>(arg);
    try {
      c->status = (*c->fn)();
    } catch (const std::bad_alloc&) {
      c->status = absl::ResourceExhaustedError("out of memory while importing the graph");
    }
    return nullptr;
  };
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return fn();
  pthread_attr_setstacksize(&attr, bytes);
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, body, &call);
  pthread_attr_destroy(&attr);
  if (rc != 0) return fn();
  pthread_join(thread, nullptr);
  return call.status;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Graph>> Graph::Import(
    const tensorflow::GraphDef& graph_def, std::shared_ptr<const FunctionLibrary> library) {
  auto graph = std::make_shared<Graph>();
  if (library == nullptr) library = std::make_shared<FunctionLibrary>();
  graph->library_ = library;
  GraphImporter importer(*graph, *library);
  GraphImporter::Scope top;
  top.defs = &graph_def.node();
  RETURN_IF_ERROR(RunOnLargeStack(size_t{64} << 20, [&] { return importer.ImportScope(top); }));
  // Tensor names of top-level calls ("StatefulPartitionedCall:0") resolve to the inlined outputs;
  // the call's own name is its completion NoOp, for targets and control inputs.
  for (int i = 0; i < graph_def.node_size(); ++i) {
    if (top.node_of_def[i] >= 0) continue;
    graph->call_outputs_[graph_def.node(i).name()] = top.call_outputs[i];
  }
  return std::shared_ptr<const Graph>(std::move(graph));
}

}  // namespace savant::engine
