// Writes SavedModels in TensorFlow 2's layout without TensorFlow: resource variables (VarHandleOp)
// restored by the graph's own saver function (RestoreV2 -> AssignVariableOp), one function per
// signature called through StatefulPartitionedCall with the variables captured, the tensor bundle
// with its object graph, and a SavedObjectGraph. Tests, benchmarks and the bundled example use it
// to make models. Thread-compatible.
//
//   SavedModelWriter w;
//   w.AddVariable("a", Tensor::Scalar(0.5f));
//   w.AddSignature({.key = "serving_default",
//                   .inputs = {{"x", DataType::kFloat, PartialShape{-1, 1}}},
//                   .outputs = {{"y", "add:z:0", DataType::kFloat, PartialShape{-1, 1}}},
//                   .body = {NodeBuilder("a_read", "ReadVariableOp").Input("a").Attr("dtype", kFloat),
//                            NodeBuilder("mul", "Mul").Input("x").Input("a_read:value:0")...}});
//   RETURN_IF_ERROR(w.Write("/tmp/m/1"));
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/tensor.h"
#include "tensorflow/core/framework/node_def.pb.h"

namespace savant::loader {

// Builds NodeDefs tersely: NodeBuilder("mul", "Mul").Input("x").Input("c:output:0").Type("T", f32).
class NodeBuilder {
 public:
  NodeBuilder(const std::string& name, const std::string& op);
  NodeBuilder& Input(const std::string& input);
  NodeBuilder& Control(const std::string& node);
  NodeBuilder& Type(const std::string& attr, engine::DataType dtype);
  NodeBuilder& Int(const std::string& attr, int64_t v);
  NodeBuilder& Float(const std::string& attr, float v);
  NodeBuilder& Bool(const std::string& attr, bool v);
  NodeBuilder& String(const std::string& attr, const std::string& v);
  NodeBuilder& Ints(const std::string& attr, const std::vector<int64_t>& v);
  NodeBuilder& Types(const std::string& attr, const std::vector<engine::DataType>& v);
  NodeBuilder& Shape(const std::string& attr, const engine::PartialShape& shape);
  // A Const node's value and dtype attrs.
  NodeBuilder& Value(const engine::Tensor& t);
  operator tensorflow::NodeDef() const { return def_; }  // NOLINT: builder converts implicitly
  const tensorflow::NodeDef& def() const { return def_; }

 private:
  tensorflow::NodeDef def_;
};

struct WriterInput {
  std::string alias;
  engine::DataType dtype = engine::DataType::kFloat;
  engine::PartialShape shape;
};

struct WriterOutput {
  std::string alias;
  std::string tensor;  // inside the body: "node:out_arg:index", or an input alias
  engine::DataType dtype = engine::DataType::kFloat;
  engine::PartialShape shape;
};

struct WriterSignature {
  std::string key;
  std::string method_name = "tensorflow/serving/predict";
  std::vector<WriterInput> inputs;
  std::vector<WriterOutput> outputs;
  // Function body. Inputs name signature inputs by alias, variables by name (resource handles to
  // read with ReadVariableOp), and other body nodes as "node:out_arg:index".
  std::vector<tensorflow::NodeDef> body;
};

class SavedModelWriter {
 public:
  // Adds a resource variable saved with `value`. Names are unique and used as checkpoint object
  // paths ("<name>/.ATTRIBUTES/VARIABLE_VALUE").
  void AddVariable(const std::string& name, const engine::Tensor& value);
  void AddSignature(WriterSignature signature);

  // Writes `dir`/saved_model.pb and `dir`/variables/variables.{index,data-00000-of-00001}.
  // Creates `dir`. INVALID_ARGUMENT for duplicate names or outputs naming nothing; the I/O error
  // otherwise.
  absl::Status Write(const std::filesystem::path& dir) const;

 private:
  std::vector<std::pair<std::string, engine::Tensor>> variables_;
  std::vector<WriterSignature> signatures_;
};

}  // namespace savant::loader
