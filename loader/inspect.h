// What `savant inspect` reports about a SavedModel directory or a checkpoint prefix: the meta
// graphs and their signatures (printed like `saved_model_cli show --all`), the variables of the
// checkpoint with their object paths, the op types of the graph and its function library marked
// supported or not by the engine's op registry, the TensorFlow version that wrote the model, the
// assets, the fingerprint and the saved_model_config. The logic lives here, in the loader, so tests
// call it without a process; server/inspect_main.cc only parses flags and prints.
//
//   ASSIGN_OR_RETURN(InspectReport report, Inspect("/models/half_plus_two/123"));
//   std::cout << FormatInspectText(report);
//
// Nothing here compiles or runs a graph; --dot imports one (engine::Graph::Import) to draw it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kernel.h"
#include "engine/tensor.h"
#include "tensorflow/core/protobuf/fingerprint.pb.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"

namespace savant::loader {

struct InspectOptions {
  // The meta graph to show, by its exact tag set. Empty: the {"serve"} meta graph when there is
  // one, otherwise every meta graph (a tf.Transform export has only {"transform"}).
  std::set<std::string> tags;
  // Shows every meta graph (`--all`); the one `tags` selects, or the default one, comes first.
  bool all_meta_graphs = false;
};

// One op type of a meta graph: how many nodes of the graph and of its function library use it, and
// whether the engine has a kernel for it.
struct OpUsage {
  std::string op;
  int64_t count = 0;
  bool supported = false;
};

// One tensor of a checkpoint, as tf.train.list_variables lists it, plus its size.
struct InspectedVariable {
  std::string name;
  engine::DataType dtype = engine::DataType::kInvalid;
  engine::Shape shape;
  // Element bytes for fixed-size dtypes; the stored bytes for strings.
  int64_t bytes = 0;
  // Path of the object that owns it in a TF2 checkpoint's object graph ("model/dense/kernel"; an
  // attribute other than VARIABLE_VALUE is appended as "/.ATTRIBUTES/<name>"). Empty otherwise.
  std::string object_path;
};

// A file under assets/ or assets.extra/.
struct InspectedFile {
  std::string path;  // relative to the SavedModel directory, '/'-separated
  int64_t bytes = 0;
};

// Everything `savant inspect` prints. Immutable once Inspect returns it.
struct InspectReport {
  // True when the path was a checkpoint prefix rather than a SavedModel directory; then only
  // `path`, the variables and `has_object_graph` are set.
  bool is_checkpoint = false;
  std::filesystem::path path;
  std::filesystem::path graph_file;  // saved_model.pb or saved_model.pbtxt
  tensorflow::SavedModel saved_model;
  // Indices into saved_model.meta_graphs() of the meta graphs shown; the first is the primary one.
  std::vector<int> shown_meta_graphs;
  // Op usage of each shown meta graph, parallel to shown_meta_graphs.
  std::vector<std::vector<OpUsage>> ops;

  std::string variables_prefix;  // empty when the SavedModel has no variables
  bool has_object_graph = false;
  std::vector<InspectedVariable> variables;
  int64_t variable_bytes = 0;

  std::vector<InspectedFile> asset_files;  // sorted by path
  std::optional<InspectedFile> saved_model_config;
  std::optional<tensorflow::FingerprintDef> fingerprint;

  const tensorflow::MetaGraphDef& meta_graph(int shown) const {
    return saved_model.meta_graphs(shown_meta_graphs[shown]);
  }
};

// Reads the SavedModel directory or checkpoint prefix `path` ("<prefix>.index" is accepted too).
// Errors name the file and the problem:
//   NOT_FOUND   `path` is neither a directory nor a checkpoint prefix; neither saved_model.pb nor
//               saved_model.pbtxt exists; no meta graph has `options.tags` (the message lists the
//               tag sets there are); a variables data shard is missing
//   DATA_LOSS   saved_model.pb(txt), fingerprint.pb or the checkpoint does not parse
// and the other errors of BundleReader::Open and Checkpoint::Open.
absl::StatusOr<InspectReport> Inspect(const std::filesystem::path& path,
                                      const InspectOptions& options = {});

// The op types used by `meta_graph`'s graph and by every function of its library, sorted by op.
// Calls of library functions (a node whose op names a function) are not ops and are left out;
// PartitionedCall and StatefulPartitionedCall are supported because the importer inlines them.
std::vector<OpUsage> CountOps(const tensorflow::MetaGraphDef& meta_graph,
                              const engine::OpRegistry& registry);

// The report as text: the signatures exactly as `saved_model_cli show --all` prints them, then the
// sections saved_model_cli does not have (variables, ops, version, assets, fingerprint).
std::string FormatInspectText(const InspectReport& report);

// The report as one JSON object with stable keys. For a SavedModel:
//   "path", "saved_model_file", "all_tag_sets" [[tag, ...], ...],
//   the primary meta graph's "tags", "signatures" {key: {"method_name", "inputs" {alias: tensor},
//     "outputs" {...}}}, "ops" [{"op", "count", "supported"}], "tensorflow_version",
//     "tensorflow_git_version",
//   "meta_graphs" (only when more than one is shown: each with the keys above plus
//     "asset_file_defs"),
//   "variables_prefix", "has_object_graph", "variables" [{"name", "dtype", "shape", "bytes",
//     "object_path" (TF2 only)}], "total_variable_bytes",
//   "assets" {"asset_file_defs" [{"filename", "tensor_info"}], "files" [{"path", "bytes"}]},
//   "saved_model_config" (null or {"path", "bytes"}), "fingerprint" (null or its fields).
// A tensor is {"dtype", "shape", "name"}: shape is a list with -1 for unknown dimensions, or null
// for an unknown rank. A sparse tensor has "coo_sparse" {"indices", "values", "dense_shape"}
// instead of "name"; a composite tensor has "composite" {"type_spec", "components" [tensor...]}.
// For a checkpoint: "checkpoint", "has_object_graph", "variables", "total_variable_bytes".
std::string FormatInspectJson(const InspectReport& report);

// Graphviz DOT of signature `signature_key` of `meta_graph`: its graph with every function call
// inlined, pruned to the nodes its outputs need (walking back through data and control inputs and
// stopping at the signature's input tensors). Each node is labelled "name\nop"; data edges are
// solid, control edges dashed; inputs and outputs are highlighted and linked to their aliases.
// Errors: NOT_FOUND naming the signature (listing those there are) or a tensor it names;
// the errors of engine::Graph::Import.
absl::StatusOr<std::string> SignatureDot(const tensorflow::MetaGraphDef& meta_graph,
                                         const std::string& signature_key);

// SignatureDot on the first shown meta graph that has `signature_key`.
absl::StatusOr<std::string> SignatureDot(const InspectReport& report,
                                         const std::string& signature_key);

}  // namespace savant::loader
