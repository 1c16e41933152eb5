// Object-based (TF2) checkpoints on top of the tensor bundle: a TF2 SavedModel's
// `variables/variables` and the output of tf.train.Checkpoint().write(prefix) store, next to the
// tensors, a DT_STRING scalar under "_CHECKPOINTABLE_OBJECT_GRAPH" holding a serialized
// tensorflow.TrackableObjectGraph. Node 0 is the root object; children are named edges; each
// node's attributes name the checkpoint keys of its saved tensors, for example the object path
// "model/dense_1/kernel" has its value under "model/dense_1/kernel/.ATTRIBUTES/VARIABLE_VALUE".
// Name-based (TF1) checkpoints have no object graph: only their variable list is available.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "loader/tensor_bundle.h"
#include "tensorflow/core/protobuf/trackable_object_graph.pb.h"

namespace savant::loader {

// The key of the serialized object graph.
inline constexpr std::string_view kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";
// The attribute name of a variable's value.
inline constexpr std::string_view kVariableValueAttribute = "VARIABLE_VALUE";

// One variable as tf.train.list_variables reports it.
struct CheckpointVariable {
  std::string name;
  engine::DataType dtype = engine::DataType::kInvalid;
  engine::Shape shape;
};

// One saved attribute of one object of the object graph.
struct CheckpointAttribute {
  // Child names from the root joined by "/" ("" for the root itself). The first path found in a
  // breadth-first walk, which is also the path TensorFlow builds keys from. Slot variables that
  // are no object's child get "<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>".
  std::string object_path;
  // "VARIABLE_VALUE" for variables; other names for other saveables (tables, iterators, ...).
  std::string attribute;
  std::string checkpoint_key;
  int node_id = 0;
};

// Every tensor of the checkpoint with its dtype and shape, sorted by name, like
// tf.train.list_variables: partitioned tensors are listed whole and their stored slices are left
// out. The object graph entry, when present, is listed as well (TensorFlow lists it too).
std::vector<CheckpointVariable> ListVariables(const BundleReader& reader);

// The parsed object graph; std::nullopt for a checkpoint without one. DATA_LOSS when the entry is
// not a DT_STRING scalar or does not parse; the errors of BundleReader::Lookup otherwise.
absl::StatusOr<std::optional<tensorflow::TrackableObjectGraph>> ReadObjectGraph(
    const BundleReader& reader);

// Every attribute of every object reachable from the root (or as a slot variable), ordered by
// object path then attribute. DATA_LOSS when an edge names a node that does not exist;
// NOT_FOUND when the checkpoint has no object graph.
absl::StatusOr<std::vector<CheckpointAttribute>> ListObjectAttributes(const BundleReader& reader);
absl::StatusOr<std::vector<CheckpointAttribute>> ListObjectAttributes(
    const tensorflow::TrackableObjectGraph& graph);

// Object path -> checkpoint key. A VARIABLE_VALUE attribute is keyed by the object's path
// ("model/dense_1/kernel"); any other attribute by "<path>/.ATTRIBUTES/<attribute>". Errors as
// ListObjectAttributes.
absl::StatusOr<std::map<std::string, std::string>> ObjectPathToKey(const BundleReader& reader);

// A checkpoint opened with its object graph parsed. Thread-safe: immutable after Open.
//
//   ASSIGN_OR_RETURN(auto ckpt, Checkpoint::Open(dir + "/variables/variables"));
//   ASSIGN_OR_RETURN(engine::Tensor kernel, ckpt->LookupObject("model/dense_1/kernel"));
class Checkpoint {
 public:
  // Opens the bundle (errors of BundleReader::Open) and parses its object graph, if any (errors
  // of ListObjectAttributes).
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& prefix);
  static absl::StatusOr<std::unique_ptr<Checkpoint>> FromReader(
      std::unique_ptr<BundleReader> reader);

  const BundleReader& reader() const { return *reader_; }
  std::vector<CheckpointVariable> variables() const { return ListVariables(*reader_); }
  bool has_object_graph() const { return graph_.has_value(); }
  // Requires has_object_graph().
  const tensorflow::TrackableObjectGraph& object_graph() const { return *graph_; }
  // Empty for checkpoints without an object graph.
  const std::vector<CheckpointAttribute>& attributes() const { return attributes_; }
  const std::map<std::string, std::string>& object_path_to_key() const { return path_to_key_; }

  // The value of the object at `object_path` (see ObjectPathToKey). NOT_FOUND, naming the path,
  // when no object has that path; the errors of BundleReader::Lookup otherwise.
  absl::StatusOr<engine::Tensor> LookupObject(std::string_view object_path) const;

 private:
  Checkpoint() = default;

  std::unique_ptr<BundleReader> reader_;
  std::optional<tensorflow::TrackableObjectGraph> graph_;
  std::vector<CheckpointAttribute> attributes_;
  std::map<std::string, std::string> path_to_key_;
};

}  // namespace savant::loader
