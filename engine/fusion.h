// Load-time operator fusion for inference, and the contract of the fused nodes it creates.
//
// FuseForInference rewrites chains that Keras and TensorFlow emit into TensorFlow's own fused ops,
// whose kernels (ops/matmul_ops.cc, ops/nn_ops.cc) apply the bias, batch norm and activation to
// each output tile while it is still in registers or cache:
//
//   MatMul -> BiasAdd [-> act]                        => _FusedMatMul
//   Conv2D -> BiasAdd [-> act]                        => _FusedConv2D
//   Conv2D -> FusedBatchNorm{,V2,V3} [-> act]         => _FusedConv2D (fused_ops FusedBatchNorm)
//   DepthwiseConv2dNative -> BiasAdd|FusedBatchNorm.. => _FusedDepthwiseConv2dNative
//   Einsum -> Add|AddV2|BiasAdd of a weight           => _FusedEinsum (fused_ops [BiasAdd])
//   (_Fused)DepthwiseConv2dNative -> (_Fused)Conv2D    => _SavantDepthwisePointwise
//   (_Fused)Conv2D -> MaxPool                           => _SavantConv2DMaxPool
//   LayerNorm as moments + batch_normalization (10 ops) => _SavantLayerNorm
//
// _SavantDepthwisePointwise is Savant's own op for MobileNet's depthwise-separable block: the
// depthwise node's inputs and attrs, then the Conv2D's filter and args with its attrs under "pw/".
// When the Conv2D is 1x1 (known at load) its kernel multiplies each band of depthwise output
// rows while the band is in cache (ops/nn_ops.cc). _SavantConv2DMaxPool likewise pools each band
// of convolution rows while in cache: the convolution's inputs and attrs, the MaxPool's attrs
// under "pool/".
//
// _SavantLayerNorm (inputs x, gamma, beta; attr epsilon) is Mean(x,[-1]) -> SquaredDifference ->
// Mean -> AddV2(eps) -> Rsqrt -> Mul(gamma), then x*s + (beta - mean*s), with weights for gamma and
// beta and no intermediate read elsewhere; its kernel does the same float operations per row, so
// results are bit-identical to the unfused ops.
//
// _FusedEinsum is Savant's own op (TensorFlow has none): Einsum's attrs plus fused_ops/num_args,
// inputs (a, b, bias). Keras EinsumDense adds its bias this way; the kernel adds the bias in the
// product's epilogue when it lies along the output's trailing dims, and broadcasts it otherwise.
// act is one of Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh. Graphs that grappler already fused
// (TF's own _Fused* nodes) run on the same kernels. The fused node takes the name of the last
// node of the chain, so consumers and signatures keep referring to it; the absorbed nodes stay in
// the graph unreferenced and the compiler prunes them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/graph.h"
#include "engine/simd/simd.h"

namespace savant::engine {

// What a _FusedMatMul / _FusedConv2D / _FusedDepthwiseConv2dNative node computes after its
// product, parsed from attrs fused_ops, num_args, epsilon and leakyrelu_alpha.
struct FusedOps {
  // The first fused op: none, BiasAdd (args: bias) or FusedBatchNorm (args: scale, offset, mean,
  // variance; y = (x - mean) * rsqrt(variance + epsilon) * scale + offset).
  enum class Kind { kNone, kBiasAdd, kBatchNorm };
  Kind kind = Kind::kNone;
  // A residual "Add" after BiasAdd: its operand is the arg after the bias.
  bool add = false;
  simd::Activation activation = simd::Activation::kNone;
  float epsilon = 1e-4f;
  float leakyrelu_alpha = 0.2f;
  // Number of args inputs the node must have (after its two operands).
  int num_args() const { return (kind == Kind::kBatchNorm ? 4 : kind == Kind::kBiasAdd ? 1 : 0) + add; }
};

// Parses the fused attrs of `node`. UNIMPLEMENTED naming the list for a combination we do not
// support (supported: [], [BiasAdd], [BiasAdd, act], [BiasAdd, Add], [BiasAdd, Add, act],
// [FusedBatchNorm], [FusedBatchNorm, act]); INVALID_ARGUMENT when num_args disagrees.
absl::StatusOr<FusedOps> ParseFusedOps(const Node& node);

// The activation that TensorFlow's fused_ops string (or the op name of an activation node)
// denotes: Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, GeluApproximate, GeluExact.
std::optional<simd::Activation> ActivationFromName(absl::string_view name);

// The two nodes of a _Savant pair node (_SavantDepthwisePointwise: prefix "pw/";
// _SavantConv2DMaxPool: "pool/"), named `name`/first_name and `name`/second_name with ops
// first_op and second_op: the attrs under `prefix` (stripped) go to the second, the others to the
// first. Inputs are left to the caller (the second node's first input is the first's output).
std::pair<Node, Node> SplitPair(const Node& fused, absl::string_view prefix,
                                absl::string_view first_op, absl::string_view first_name,
                                absl::string_view second_op, absl::string_view second_name);

// Returns `graph` with the chains above fused. Nodes named in `keep` (signature feeds and fetches;
// "name" or "name:port" tensor names, including names of inlined function calls) are never
// absorbed, and neither is any intermediate node with more than one consumer, a control-edge
// consumer, or a non-float type. Returns the input graph itself when nothing matched.
absl::StatusOr<std::shared_ptr<const Graph>> FuseForInference(
    std::shared_ptr<const Graph> graph, const absl::flat_hash_set<std::string>& keep);

// Every tensor name that the signatures in `signature_defs` (a map of tensorflow::SignatureDef, as
// in MetaGraphDef::signature_def()) feed or fetch: the `keep` set for FuseForInference. A template
// so that the engine does not depend on the SavedModel protos.
template <typename SignatureDefMap>
absl::flat_hash_set<std::string> SignatureTensorNames(const SignatureDefMap& signature_defs) {
  absl::flat_hash_set<std::string> names;
  for (const auto& [key, signature] : signature_defs) {
    for (const auto& [alias, info] : signature.inputs()) names.insert(info.name());
    for (const auto& [alias, info] : signature.outputs()) names.insert(info.name());
  }
  return names;
}

}  // namespace savant::engine
