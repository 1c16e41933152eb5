// The engine's graph IR: nodes imported from a TensorFlow GraphDef, with function calls
// (PartitionedCall, StatefulPartitionedCall, direct calls of library functions) inlined, and attrs
// completed with their op's defaults. Immutable after import; shared by every compiled Function.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"
#include "tensorflow/core/framework/attr_value.pb.h"
#include "tensorflow/core/framework/function.pb.h"
#include "tensorflow/core/framework/graph.pb.h"
#include "tensorflow/core/framework/op_def.pb.h"

namespace savant::engine {

using AttrMap = google::protobuf::Map<std::string, tensorflow::AttrValue>;

// One output of a node: (node index, output port).
struct Endpoint {
  int node = -1;
  int port = 0;
  bool operator==(const Endpoint& o) const { return node == o.node && port == o.port; }
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.node, e.port);
  }
};

struct Node {
  std::string name;
  std::string op;
  std::string device;
  std::vector<Endpoint> inputs;     // data inputs, in order
  std::vector<int> control_inputs;  // nodes that must run first
  AttrMap attrs;
};

// Op definitions (from the SavedModel's stripped_op_list) and the function library. Used to
// resolve `node:output_arg:index` names inside function bodies and to fill default attrs.
class FunctionLibrary {
 public:
  FunctionLibrary() = default;
  FunctionLibrary(const tensorflow::FunctionDefLibrary& functions, const tensorflow::OpList& ops);

  const tensorflow::FunctionDef* FindFunction(absl::string_view name) const;
  const tensorflow::OpDef* FindOp(absl::string_view name) const;
  // The OpDef of `op`, or the signature of the function named `op`.
  const tensorflow::OpDef* FindSignature(absl::string_view op) const;

 private:
  absl::flat_hash_map<std::string, tensorflow::FunctionDef> functions_;
  absl::flat_hash_map<std::string, tensorflow::OpDef> ops_;
};

// Reads attribute `name` of `node`; INVALID_ARGUMENT naming the node when missing or mistyped.
absl::StatusOr<int64_t> GetIntAttr(const Node& node, absl::string_view name);
absl::StatusOr<float> GetFloatAttr(const Node& node, absl::string_view name);
absl::StatusOr<bool> GetBoolAttr(const Node& node, absl::string_view name);
absl::StatusOr<std::string> GetStringAttr(const Node& node, absl::string_view name);
absl::StatusOr<DataType> GetTypeAttr(const Node& node, absl::string_view name);
absl::StatusOr<std::vector<int64_t>> GetIntListAttr(const Node& node, absl::string_view name);
absl::StatusOr<std::vector<DataType>> GetTypeListAttr(const Node& node, absl::string_view name);
// The attribute or `fallback` when absent.
int64_t GetIntAttrOr(const Node& node, absl::string_view name, int64_t fallback);
bool GetBoolAttrOr(const Node& node, absl::string_view name, bool fallback);
float GetFloatAttrOr(const Node& node, absl::string_view name, float fallback);
std::string GetStringAttrOr(const Node& node, absl::string_view name, std::string fallback);
const tensorflow::AttrValue* FindAttr(const Node& node, absl::string_view name);

// Number of outputs of `node` according to its OpDef (list args sized by their attrs); -1 when
// the op is unknown to the library.
int NumOutputsFromOpDef(const tensorflow::OpDef& op_def, const AttrMap& attrs);

class Graph {
 public:
  // Imports `graph_def`, inlining every call of a library function (recursively) and completing
  // attrs from op defaults. INVALID_ARGUMENT for dangling inputs, duplicate names or malformed
  // input strings, naming the node.
  static absl::StatusOr<std::shared_ptr<const Graph>> Import(
      const tensorflow::GraphDef& graph_def, std::shared_ptr<const FunctionLibrary> library);

  const std::vector<Node>& nodes() const { return nodes_; }
  const Node& node(int i) const { return nodes_[i]; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  // Index of the node named `name`, or -1.
  int FindNode(absl::string_view name) const;
  // Parses "name", "name:3" into an endpoint; NOT_FOUND naming the tensor when absent.
  absl::StatusOr<Endpoint> FindEndpoint(absl::string_view tensor_name) const;
  const FunctionLibrary& library() const { return *library_; }

  // Appends a node (used by the importer and tests); returns its index.
  int AddNode(Node node);

 private:
  friend class GraphImporter;
  std::vector<Node> nodes_;
  absl::flat_hash_map<std::string, int> by_name_;
  // Outputs of inlined top-level function calls, by the call node's name.
  absl::flat_hash_map<std::string, std::vector<Endpoint>> call_outputs_;
  std::shared_ptr<const FunctionLibrary> library_;
};

}  // namespace savant::engine
