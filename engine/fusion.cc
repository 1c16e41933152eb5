#include "engine/fusion.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/tensor_proto.h"

namespace savant::engine {
namespace {

using simd::Activation;

std::vector<std::string> StringListAttr(const Node& node, absl::string_view name) {
  std::vector<std::string> out;
  const tensorflow::AttrValue* attr = FindAttr(node, name);
  if (attr == nullptr || attr->value_case() != tensorflow::AttrValue::kList) return out;
  for (const auto& s : attr->list().s()) out.push_back(s);
  return out;
}

bool IsFloat(const Node& node, absl::string_view attr = "T") {
  auto t = GetTypeAttr(node, attr);
  return t.ok() && *t == DataType::kFloat;
}

// Consumers of every node output, counted over the whole graph (not only what some signature
// needs: a node another function reads must survive too).
struct Uses {
  std::vector<std::vector<int>> data;  // per node: consumer node per use, any port
  std::vector<std::vector<int>> ports; // per node: port per use
  std::vector<int> control;            // per node: number of control-edge consumers
};

// Nodes marked in `dead` (absorbed into a fused node) are not counted as consumers.
Uses CountUses(const Graph& g, const std::vector<bool>& dead = {}) {
  Uses u;
  u.data.resize(g.num_nodes());
  u.ports.resize(g.num_nodes());
  u.control.assign(g.num_nodes(), 0);
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (!dead.empty() && dead[i]) continue;
    for (const Endpoint& in : g.node(i).inputs) {
      u.data[in.node].push_back(i);
      u.ports[in.node].push_back(in.port);
    }
    for (int c : g.node(i).control_inputs) u.control[c]++;
  }
  return u;
}

// The only consumer of `node`, reading output 0; -1 unless that is its single use.
int SoleConsumer(const Uses& u, int node) {
  if (u.data[node].size() != 1 || u.control[node] != 0 || u.ports[node][0] != 0) return -1;
  return u.data[node][0];
}

void SetList(Node& node, const std::string& name, const std::vector<std::string>& values) {
  tensorflow::AttrValue v;
  v.mutable_list();
  for (const auto& s : values) v.mutable_list()->add_s(s);
  node.attrs[name] = v;
}

// Whether `ep` is a value fixed at load time: a Const or a variable read, possibly through
// Identity nodes (TF2 SavedModels read weights with ReadVariableOp).
bool IsWeight(const Graph& g, Endpoint ep) {
  for (int depth = 0; depth < 8; ++depth) {
    const Node& n = g.node(ep.node);
    if (n.op == "Const" || n.op == "ReadVariableOp") return true;
    if ((n.op != "Identity" && n.op != "Snapshot") || n.inputs.size() != 1) return false;
    ep = n.inputs[0];
  }
  return false;
}

// Einsum -> Add/AddV2/BiasAdd of a weight => _FusedEinsum (Keras EinsumDense's bias). Returns the
// fused node, or nullopt when `head` does not start such a chain.
std::optional<Node> FuseEinsumBias(const Graph& g, const Uses& uses,
                                   const std::vector<bool>& kept, int head, int* tail) {
  const Node& h = g.node(head);
  if (h.op != "Einsum" || !IsFloat(h) || kept[head] || h.inputs.size() != 2) return std::nullopt;
  const int next = SoleConsumer(uses, head);
  if (next < 0) return std::nullopt;
  const Node& nx = g.node(next);
  if (!(nx.op == "AddV2" || nx.op == "Add" || nx.op == "BiasAdd") || !IsFloat(nx) ||
      nx.inputs.size() != 2) {
    return std::nullopt;
  }
  if (nx.op == "BiasAdd" && GetStringAttrOr(nx, "data_format", "NHWC") != "NHWC") return std::nullopt;
  // AddV2 commutes; BiasAdd's bias is its second input.
  int bias_port;
  if (nx.inputs[0] == Endpoint{head, 0}) {
    bias_port = 1;
  } else if (nx.op != "BiasAdd" && nx.inputs[1] == Endpoint{head, 0}) {
    bias_port = 0;
  } else {
    return std::nullopt;
  }
  if (!IsWeight(g, nx.inputs[bias_port])) return std::nullopt;
  Node fused;
  fused.name = nx.name;
  fused.op = "_FusedEinsum";
  fused.device = h.device;
  fused.inputs = {h.inputs[0], h.inputs[1], nx.inputs[bias_port]};
  for (int n : {head, next}) {
    for (int c : g.node(n).control_inputs) fused.control_inputs.push_back(c);
  }
  fused.attrs = h.attrs;
  SetList(fused, "fused_ops", {"BiasAdd"});
  fused.attrs["num_args"].set_i(1);
  *tail = next;
  return fused;
}

// The float value of a Const scalar (through Identity), or nullopt.
std::optional<float> ConstScalar(const Graph& g, Endpoint ep) {
  const Node& n = g.node(ep.node);
  if (n.op != "Const" || ep.port != 0) return std::nullopt;
  const tensorflow::AttrValue* v = FindAttr(n, "value");
  if (v == nullptr || !v->has_tensor()) return std::nullopt;
  auto t = TensorFromProto(v->tensor());
  if (!t.ok() || t->dtype() != DataType::kFloat || t->num_elements() != 1) return std::nullopt;
  return t->data<float>()[0];
}

// Whether `ep` is a Const int32/int64 axis list [-1] (the last axis).
bool IsLastAxisConst(const Graph& g, Endpoint ep) {
  const Node& n = g.node(ep.node);
  if (n.op != "Const" || ep.port != 0) return false;
  const tensorflow::AttrValue* v = FindAttr(n, "value");
  if (v == nullptr || !v->has_tensor()) return false;
  auto t = TensorFromProto(v->tensor());
  if (!t.ok() || t->num_elements() != 1 || t->rank() > 1) return false;
  if (t->dtype() == DataType::kInt32) return t->data<int32_t>()[0] == -1;
  if (t->dtype() == DataType::kInt64) return t->data<int64_t>()[0] == -1;
  return false;
}

// LayerNormalization as tf.nn.moments + tf.nn.batch_normalization emit it, ending at `tail`:
//   mean = Mean(x, [-1], keep_dims)          sq = SquaredDifference(x, mean)
//   var = Mean(sq, [-1], keep_dims)          s = Mul(Rsqrt(AddV2(var, eps)), gamma)
//   out = AddV2(Mul(x, s), Sub(beta, Mul(mean, s)))
// => _SavantLayerNorm(x, gamma, beta, eps), which computes the same float operations row by row
// (engine/ops/nn_ops.cc). Every intermediate must be read only inside the pattern. Returns the
// fused node and the absorbed nodes, or nullopt.
std::optional<Node> FuseLayerNorm(const Graph& g, const Uses& uses, const std::vector<bool>& kept,
                                  int tail, std::vector<int>* absorbed) {
  auto node = [&](int i) -> const Node& { return g.node(i); };
  auto is = [&](int i, absl::string_view op) {
    return node(i).op == op && IsFloat(node(i)) && !kept[i] && uses.control[i] == 0;
  };
  // Consumers of output 0 of `i` are exactly `want` (as a multiset of nodes).
  auto used_by = [&](int i, std::vector<int> want) {
    if (uses.data[i].size() != want.size()) return false;
    for (size_t u = 0; u < uses.data[i].size(); ++u) {
      if (uses.ports[i][u] != 0) return false;
    }
    std::vector<int> have = uses.data[i];
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    return have == want;
  };
  // Binary node `i`'s operands as (a, b) where a is produced by op `a_op` (either order when
  // `commutes`).
  auto split = [&](int i, absl::string_view a_op, bool commutes, Endpoint* a, Endpoint* b) {
    const Node& n = node(i);
    if (n.inputs.size() != 2) return false;
    for (int first : {0, 1}) {
      if (first == 1 && !commutes) break;
      const Endpoint x = n.inputs[first], y = n.inputs[1 - first];
      if (x.port == 0 && node(x.node).op == a_op) {
        *a = x;
        *b = y;
        return true;
      }
    }
    return false;
  };
  // The tail may be fetched or a control input: the fused node keeps its name and index.
  if (node(tail).op != "AddV2" || !IsFloat(node(tail)) || node(tail).inputs.size() != 2) {
    return std::nullopt;
  }
  // out = AddV2(xs, shift): xs is a Mul, shift a Sub.
  Endpoint xs_ep, shift_ep;
  if (!split(tail, "Sub", true, &shift_ep, &xs_ep)) return std::nullopt;
  const int sub = shift_ep.node, xs = xs_ep.node;
  if (xs_ep.port != 0 || !is(xs, "Mul") || !is(sub, "Sub") || !used_by(xs, {tail}) ||
      !used_by(sub, {tail})) {
    return std::nullopt;
  }
  // shift = Sub(beta, ms), ms = Mul(mean, s).
  const Endpoint beta = node(sub).inputs[0];
  const Endpoint ms_ep = node(sub).inputs[1];
  const int ms = ms_ep.node;
  if (ms_ep.port != 0 || !is(ms, "Mul") || !used_by(ms, {sub}) || !IsWeight(g, beta)) return std::nullopt;
  Endpoint mean_ep, s_ep;
  if (!split(ms, "Mean", true, &mean_ep, &s_ep)) return std::nullopt;
  const int mean = mean_ep.node, s = s_ep.node;
  if (s_ep.port != 0 || !is(s, "Mul") || !is(mean, "Mean")) return std::nullopt;
  // xs = Mul(x, s).
  const Node& xsn = node(xs);
  Endpoint x;
  if (xsn.inputs[0] == s_ep) {
    x = xsn.inputs[1];
  } else if (xsn.inputs[1] == s_ep) {
    x = xsn.inputs[0];
  } else {
    return std::nullopt;
  }
  if (!used_by(s, {xs, ms})) return std::nullopt;
  // mean = Mean(x, [-1], keep_dims).
  const Node& meann = node(mean);
  if (meann.inputs.size() != 2 || !(meann.inputs[0] == x) || !IsLastAxisConst(g, meann.inputs[1]) ||
      !GetBoolAttrOr(meann, "keep_dims", false)) {
    return std::nullopt;
  }
  // s = Mul(rs, gamma), rs = Rsqrt(AddV2(var, eps)).
  Endpoint rs_ep, gamma;
  if (!split(s, "Rsqrt", true, &rs_ep, &gamma) || !IsWeight(g, gamma)) return std::nullopt;
  const int rs = rs_ep.node;
  if (!is(rs, "Rsqrt") || !used_by(rs, {s}) || node(rs).inputs.size() != 1) return std::nullopt;
  const Endpoint ae_ep = node(rs).inputs[0];
  const int add_eps = ae_ep.node;
  if (ae_ep.port != 0 || !is(add_eps, "AddV2") || !used_by(add_eps, {rs})) return std::nullopt;
  Endpoint var_ep, eps_ep;
  if (!split(add_eps, "Mean", true, &var_ep, &eps_ep)) return std::nullopt;
  const int var = var_ep.node;
  const std::optional<float> eps = ConstScalar(g, eps_ep);
  if (!eps || !is(var, "Mean") || !used_by(var, {add_eps})) return std::nullopt;
  const Node& varn = node(var);
  if (varn.inputs.size() != 2 || !IsLastAxisConst(g, varn.inputs[1]) ||
      !GetBoolAttrOr(varn, "keep_dims", false)) {
    return std::nullopt;
  }
  // var's input: sq = SquaredDifference(x, mean).
  const Endpoint sq_ep = varn.inputs[0];
  const int sq = sq_ep.node;
  if (sq_ep.port != 0 || !is(sq, "SquaredDifference") || !used_by(sq, {var}) ||
      node(sq).inputs.size() != 2 || !(node(sq).inputs[0] == x) || !(node(sq).inputs[1] == mean_ep)) {
    return std::nullopt;
  }
  if (!used_by(mean, {sq, ms})) return std::nullopt;
  Node fused;
  fused.name = node(tail).name;
  fused.op = "_SavantLayerNorm";
  fused.device = node(tail).device;
  fused.inputs = {x, gamma, beta};
  *absorbed = {mean, sq, var, add_eps, rs, s, xs, ms, sub, tail};
  for (int n : *absorbed) {
    for (int c : node(n).control_inputs) fused.control_inputs.push_back(c);
  }
  fused.attrs["T"].set_type(tensorflow::DT_FLOAT);
  fused.attrs["epsilon"].set_f(*eps);
  return fused;
}

// The Conv2D (or _FusedConv2D) that is the only consumer of depthwise convolution `dw` (plain or
// _Fused), when the pair can become one _SavantDepthwisePointwise node; -1 otherwise. The kernel
// decides at load time whether the Conv2D is 1x1 (its filter is a variable, unknown here) and
// runs the two steps one after the other when it is not.
int DepthwisePointwiseConsumer(const Graph& g, const Uses& uses, const std::vector<bool>& kept,
                               int dw) {
  const Node& d = g.node(dw);
  if ((d.op != "DepthwiseConv2dNative" && d.op != "_FusedDepthwiseConv2dNative") || !IsFloat(d) ||
      kept[dw] || GetStringAttrOr(d, "data_format", "NHWC") != "NHWC" || d.inputs.size() < 2) {
    return -1;
  }
  const int pw = SoleConsumer(uses, dw);
  if (pw < 0) return -1;
  const Node& p = g.node(pw);
  if ((p.op != "Conv2D" && p.op != "_FusedConv2D") || !IsFloat(p) || p.inputs.size() < 2 ||
      !(p.inputs[0] == Endpoint{dw, 0}) || GetStringAttrOr(p, "data_format", "NHWC") != "NHWC" ||
      GetStringAttrOr(p, "filter_format", "HWIO") != "HWIO") {
    return -1;
  }
  for (const Node* n : {&d, &p}) {
    auto fused = ParseFusedOps(*n);
    if (!fused.ok() || fused->add || 2 + fused->num_args() != static_cast<int>(n->inputs.size())) {
      return -1;
    }
  }
  return pw;
}

// One node for a pair (first -> second) of engine/fusion.h's _Savant pairs, named after the
// second so consumers keep referring to it: `op`, the first node's inputs, then the second's
// inputs after its first (which was the first node's output); both nodes' control inputs; the
// first node's attrs and the second's under `prefix`.
Node MergePair(const Node& first, const Node& second, const std::string& op,
               const std::string& prefix) {
  Node fused;
  fused.name = second.name;
  fused.op = op;
  fused.device = second.device;
  fused.inputs = first.inputs;
  if (!second.inputs.empty()) {
    fused.inputs.insert(fused.inputs.end(), second.inputs.begin() + 1, second.inputs.end());
  }
  fused.control_inputs = first.control_inputs;
  fused.control_inputs.insert(fused.control_inputs.end(), second.control_inputs.begin(),
                              second.control_inputs.end());
  fused.attrs = first.attrs;
  for (const auto& [key, value] : second.attrs) fused.attrs[prefix + key] = value;
  return fused;
}

// The _SavantDepthwisePointwise node of a pair (see ops/nn_ops.cc): the depthwise node's inputs
// and attrs, then the Conv2D's filter and args, its attrs under "pw/", and the Conv2D's name.
Node FuseDepthwisePointwise(const Node& dw, const Node& pw) {
  return MergePair(dw, pw, "_SavantDepthwisePointwise", "pw/");
}

// The MaxPool that is the only consumer of convolution `conv` (Conv2D or _FusedConv2D), when the
// pair can become one _SavantConv2DMaxPool node; -1 otherwise.
int MaxPoolConsumer(const Graph& g, const Uses& uses, const std::vector<bool>& kept, int conv) {
  const Node& c = g.node(conv);
  if ((c.op != "Conv2D" && c.op != "_FusedConv2D") || !IsFloat(c) || kept[conv] ||
      GetStringAttrOr(c, "data_format", "NHWC") != "NHWC" || c.inputs.size() < 2) {
    return -1;
  }
  auto fused = ParseFusedOps(c);
  if (!fused.ok() || 2 + fused->num_args() != static_cast<int>(c.inputs.size())) return -1;
  const int pool = SoleConsumer(uses, conv);
  if (pool < 0) return -1;
  const Node& p = g.node(pool);
  if (p.op != "MaxPool" || !IsFloat(p) || p.inputs.size() != 1 || !(p.inputs[0] == Endpoint{conv, 0}) ||
      GetStringAttrOr(p, "data_format", "NHWC") != "NHWC") {
    return -1;
  }
  return pool;
}

// Whether a depthwise -> pointwise or convolution -> MaxPool pair exists without other fusion.
bool HasPair(const Graph& g, const Uses& uses, const std::vector<bool>& kept) {
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (DepthwisePointwiseConsumer(g, uses, kept, i) >= 0 || MaxPoolConsumer(g, uses, kept, i) >= 0) {
      return true;
    }
  }
  return false;
}

// The _SavantConv2DMaxPool node of a pair (see ops/nn_ops.cc): the convolution's inputs and attrs,
// the MaxPool's attrs under "pool/", and the MaxPool's name.
Node FuseConvMaxPool(const Node& conv, const Node& pool) {
  return MergePair(conv, pool, "_SavantConv2DMaxPool", "pool/");
}

}  // namespace

std::optional<Activation> ActivationFromName(absl::string_view name) {
  if (name == "Relu") return Activation::kRelu;
  if (name == "Relu6") return Activation::kRelu6;
  if (name == "Elu") return Activation::kElu;
  if (name == "LeakyRelu") return Activation::kLeakyRelu;
  if (name == "Sigmoid") return Activation::kSigmoid;
  if (name == "Tanh") return Activation::kTanh;
  if (name == "GeluApproximate") return Activation::kGeluApprox;
  if (name == "GeluExact") return Activation::kGeluExact;
  return std::nullopt;
}

absl::StatusOr<FusedOps> ParseFusedOps(const Node& node) {
  FusedOps f;
  f.epsilon = GetFloatAttrOr(node, "epsilon", 1e-4f);
  f.leakyrelu_alpha = GetFloatAttrOr(node, "leakyrelu_alpha", 0.2f);
  const std::vector<std::string> ops = StringListAttr(node, "fused_ops");
  auto unsupported = [&] {
    return absl::UnimplementedError(absl::StrCat(
        "fused_ops [", absl::StrJoin(ops, ","),
        "] is not supported (supported: BiasAdd or FusedBatchNorm, then optionally Add after "
        "BiasAdd, then optionally one of Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, "
        "GeluApproximate, GeluExact)"));
  };
  size_t i = 0;
  if (!ops.empty()) {
    if (ops[0] == "BiasAdd") {
      f.kind = FusedOps::Kind::kBiasAdd;
    } else if (ops[0] == "FusedBatchNorm") {
      f.kind = FusedOps::Kind::kBatchNorm;
    } else {
      return unsupported();
    }
    i = 1;
  }
  if (i < ops.size() && ops[i] == "Add" && f.kind == FusedOps::Kind::kBiasAdd) {
    f.add = true;
    ++i;
  }
  if (i < ops.size()) {
    auto act = ActivationFromName(ops[i]);
    if (!act) return unsupported();
    f.activation = *act;
    ++i;
  }
  if (i != ops.size()) return unsupported();
  const int64_t num_args = GetIntAttrOr(node, "num_args", f.num_args());
  if (num_args != f.num_args()) {
    return absl::InvalidArgumentError(absl::StrCat("fused_ops [", absl::StrJoin(ops, ","),
                                                   "] takes ", f.num_args(),
                                                   " args, but num_args is ", num_args));
  }
  return f;
}

absl::StatusOr<std::shared_ptr<const Graph>> FuseForInference(
    std::shared_ptr<const Graph> graph, const absl::flat_hash_set<std::string>& keep) {
  const Graph& g = *graph;
  std::vector<bool> kept(g.num_nodes(), false);
  for (const std::string& name : keep) {
    absl::string_view n = name;
    if (!n.empty() && n[0] == '^') n.remove_prefix(1);
    if (int i = g.FindNode(n); i >= 0) kept[i] = true;
    if (auto ep = g.FindEndpoint(n); ep.ok()) kept[ep->node] = true;
  }
  const Uses uses = CountUses(g);

  struct Rewrite {
    int tail;
    Node fused;
  };
  std::vector<Rewrite> rewrites;
  std::vector<bool> dead(g.num_nodes(), false);  // absorbed, no longer read by live nodes
  for (int head = 0; head < g.num_nodes(); ++head) {
    const Node& h = g.node(head);
    if (std::vector<int> absorbed; auto ln = FuseLayerNorm(g, uses, kept, head, &absorbed)) {
      rewrites.push_back({head, *std::move(ln)});
      for (int n : absorbed) dead[n] = n != head;
      continue;
    }
    if (int tail; auto einsum = FuseEinsumBias(g, uses, kept, head, &tail)) {
      rewrites.push_back({tail, *std::move(einsum)});
      dead[head] = true;
      continue;
    }
    const bool matmul = h.op == "MatMul";
    const bool conv = h.op == "Conv2D";
    const bool depthwise = h.op == "DepthwiseConv2dNative";
    if (!(matmul || conv || depthwise) || !IsFloat(h) || kept[head] || h.inputs.size() != 2) continue;
    if (!matmul && GetStringAttrOr(h, "data_format", "NHWC") != "NHWC") continue;
    const int next = SoleConsumer(uses, head);
    if (next < 0) continue;
    const Node& nx = g.node(next);
    if (nx.inputs.empty() || !(nx.inputs[0] == Endpoint{head, 0})) continue;

    std::vector<std::string> fused_ops;
    std::vector<Endpoint> args;
    float epsilon = 1e-4f;
    if ((nx.op == "BiasAdd" || nx.op == "BiasAddV1") && nx.inputs.size() == 2 && IsFloat(nx) &&
        (matmul || GetStringAttrOr(nx, "data_format", "NHWC") == "NHWC")) {
      fused_ops.push_back("BiasAdd");
      args.push_back(nx.inputs[1]);
    } else if ((nx.op == "FusedBatchNorm" || nx.op == "FusedBatchNormV2" ||
                nx.op == "FusedBatchNormV3") &&
               !matmul && nx.inputs.size() == 5 && IsFloat(nx) &&
               !GetBoolAttrOr(nx, "is_training", true) &&
               GetStringAttrOr(nx, "data_format", "NHWC") == "NHWC") {
      fused_ops.push_back("FusedBatchNorm");
      args.assign(nx.inputs.begin() + 1, nx.inputs.end());
      epsilon = GetFloatAttrOr(nx, "epsilon", 1e-4f);
    } else {
      continue;
    }
    int tail = next;
    float alpha = 0.2f;
    std::vector<int> absorbed = {head, next};
    if (!kept[next]) {
      const int act = SoleConsumer(uses, next);
      if (act >= 0) {
        const Node& a = g.node(act);
        if (ActivationFromName(a.op) && IsFloat(a) &&
            a.inputs.size() == 1 && a.inputs[0] == Endpoint{next, 0}) {
          fused_ops.push_back(a.op);
          alpha = GetFloatAttrOr(a, "alpha", 0.2f);
          tail = act;
          absorbed.push_back(act);
        }
      }
    }
    // The fused node has one output: a batch norm whose mean/variance/reserve outputs are read
    // cannot be replaced.
    bool extra_outputs_used = false;
    for (int port : uses.ports[next]) extra_outputs_used = extra_outputs_used || port != 0;
    if (extra_outputs_used) continue;

    Node fused;
    fused.name = g.node(tail).name;
    fused.op = matmul ? "_FusedMatMul" : conv ? "_FusedConv2D" : "_FusedDepthwiseConv2dNative";
    fused.device = h.device;
    fused.inputs = {h.inputs[0], h.inputs[1]};
    fused.inputs.insert(fused.inputs.end(), args.begin(), args.end());
    for (int n : absorbed) {
      for (int c : g.node(n).control_inputs) fused.control_inputs.push_back(c);
    }
    fused.attrs = h.attrs;
    SetList(fused, "fused_ops", fused_ops);
    fused.attrs["num_args"].set_i(static_cast<int64_t>(args.size()));
    fused.attrs["epsilon"].set_f(epsilon);
    fused.attrs["leakyrelu_alpha"].set_f(alpha);
    if (conv) {
      tensorflow::AttrValue targs;
      for (size_t i = 0; i < args.size(); ++i) targs.mutable_list()->add_type(tensorflow::DT_FLOAT);
      fused.attrs["TArgs"] = targs;
      fused.attrs["num_host_args"].set_i(0);
    }
    rewrites.push_back({tail, std::move(fused)});
    for (int n : absorbed) dead[n] = n != tail;
  }
  if (rewrites.empty() && !HasPair(g, uses, kept)) return graph;

  // Graph offers no mutable access to its nodes; this copy is ours and not const, so replacing a
  // node in place through const_cast is well-defined. Names (and so by-name lookups, call outputs
  // and every consumer's endpoint) stay valid because the fused node reuses the tail's name and
  // index.
  auto out = std::make_shared<Graph>(g);
  for (Rewrite& r : rewrites) const_cast<Node&>(out->node(r.tail)) = std::move(r.fused);
  // Then depthwise -> pointwise pairs, over the convolutions fused above.
  const Uses fused_uses = CountUses(*out, dead);
  std::vector<Rewrite> pairs;
  for (int dw = 0; dw < out->num_nodes(); ++dw) {
    if (dead[dw]) continue;
    if (auto pw = DepthwisePointwiseConsumer(*out, fused_uses, kept, dw); pw >= 0) {
      pairs.push_back({pw, FuseDepthwisePointwise(out->node(dw), out->node(pw))});
      dead[dw] = true;
    }
  }
  for (Rewrite& r : pairs) const_cast<Node&>(out->node(r.tail)) = std::move(r.fused);
  // Then convolution -> MaxPool.
  const Uses pool_uses = CountUses(*out, dead);
  std::vector<Rewrite> pools;
  for (int conv = 0; conv < out->num_nodes(); ++conv) {
    if (dead[conv]) continue;
    if (auto pool = MaxPoolConsumer(*out, pool_uses, kept, conv); pool >= 0) {
      pools.push_back({pool, FuseConvMaxPool(out->node(conv), out->node(pool))});
    }
  }
  for (Rewrite& r : pools) const_cast<Node&>(out->node(r.tail)) = std::move(r.fused);
  return std::shared_ptr<const Graph>(std::move(out));
}

std::pair<Node, Node> SplitPair(const Node& fused, absl::string_view prefix,
                                absl::string_view first_op, absl::string_view first_name,
                                absl::string_view second_op, absl::string_view second_name) {
  std::pair<Node, Node> nodes;
  auto& [first, second] = nodes;
  first.name = absl::StrCat(fused.name, "/", first_name);
  first.op = std::string(first_op);
  second.name = absl::StrCat(fused.name, "/", second_name);
  second.op = std::string(second_op);
  for (const auto& [key, value] : fused.attrs) {
    if (absl::StartsWith(key, prefix)) {
      second.attrs[key.substr(prefix.size())] = value;
    } else {
      first.attrs[key] = value;
    }
  }
  return nodes;
}

}  // namespace savant::engine
