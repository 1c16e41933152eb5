// A loaded SavedModel: the signature-keyed table of compiled engine functions, the variables
// restored from the checkpoint, and the metadata the server reports. Built once by Model::Load and
// immutable afterwards except for variable values (which stateful signatures, like the counter
// model's incr_counter, update under the engine's per-variable locks). Thread-safe.
//
//   ASSIGN_OR_RETURN(auto model, Model::Load("/models/half_plus_two/123"));
//   ASSIGN_OR_RETURN(auto outputs, model->Run("serving_default", {{"x", x}}));
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/function.h"
#include "engine/graph.h"
#include "engine/resource_manager.h"
#include "engine/tensor.h"
#include "loader/saved_model.h"

namespace savant::loader {

struct ModelOptions {
  std::set<std::string> tags = {kServeTag};
  // Run large batches through the signatures' leading row-wise layers in cache-sized slices
  // (engine::FunctionSpec::batch_split); off only to measure the difference.
  bool batch_split = true;
};

// A signature input or output: its alias (the signature's key), the graph tensor it names, and the
// dtype and shape the signature declares.
struct TensorBinding {
  std::string alias;
  std::string tensor_name;
  engine::DataType dtype = engine::DataType::kInvalid;
  engine::PartialShape shape;
  // For inputs: the dtype of the placeholder the graph really feeds. Requests are checked against
  // it, because some published signatures declare the wrong dtype (TF Serving's half_plus_three
  // says DT_FLOAT for its serialized tf.Example input) and TensorFlow only checks the graph.
  engine::DataType feed_dtype = engine::DataType::kInvalid;
};

struct Signature {
  std::string key;
  std::string method_name;
  std::vector<TensorBinding> inputs;   // sorted by alias
  std::vector<TensorBinding> outputs;  // sorted by alias
  std::unique_ptr<engine::Function> function;
};

using NamedTensors = std::vector<std::pair<std::string, engine::Tensor>>;

class Model {
 public:
  // Reads, restores and compiles the SavedModel in `dir`. Every signature is compiled now, so an
  // unsupported op or a broken graph fails here (UNIMPLEMENTED / INVALID_ARGUMENT naming the
  // signature, node and op), never on a request. Corrupt files give DATA_LOSS naming the file.
  static absl::StatusOr<std::unique_ptr<Model>> Load(const std::filesystem::path& dir,
                                                     const ModelOptions& options = {});

  const SavedModelFiles& files() const { return *files_; }
  const tensorflow::MetaGraphDef& meta_graph() const { return files_->meta_graph(); }
  // Signatures sorted by key (the init-op pseudo-signature is not among them).
  const std::map<std::string, Signature>& signatures() const { return signatures_; }
  // FAILED_PRECONDITION listing the available keys when `key` is unknown (TF Serving's code).
  absl::StatusOr<const Signature*> FindSignature(const std::string& key) const;
  engine::ResourceManager& resources() const { return *resources_; }

  // Runs signature `key`. `inputs` must name every input alias exactly once with the declared
  // dtype and a compatible shape (INVALID_ARGUMENT naming the alias otherwise). Returns the outputs
  // named in `output_filter` (all when empty), sorted by alias.
  absl::StatusOr<NamedTensors> Run(const std::string& key, const NamedTensors& inputs,
                                   const std::vector<std::string>& output_filter = {}) const;

  // Checks `inputs` against `signature` without running it.
  static absl::Status ValidateInputs(const Signature& signature, const NamedTensors& inputs);

 private:
  Model() = default;
  std::unique_ptr<SavedModelFiles> files_;
  std::shared_ptr<const engine::Graph> graph_;
  std::shared_ptr<engine::ResourceManager> resources_;
  std::map<std::string, Signature> signatures_;
};

// Converts a signature TensorInfo's shape proto.
engine::PartialShape PartialShapeFromProto(const tensorflow::TensorShapeProto& proto);

}  // namespace savant::loader
