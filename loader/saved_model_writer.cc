#include "loader/saved_model_writer.h"

#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"
#include "engine/tensor_proto.h"
#include "loader/tensor_bundle.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"
#include "tensorflow/core/protobuf/trackable_object_graph.pb.h"

namespace savant::loader {
namespace fs = std::filesystem;
namespace {

using engine::DataType;
using engine::Tensor;

constexpr char kObjectGraphKey[] = "_CHECKPOINTABLE_OBJECT_GRAPH";
constexpr char kRestoreFunction[] = "__inference__traced_restore";
constexpr char kRestoreCall[] = "StatefulPartitionedCall_restore";
constexpr char kFilenamePlaceholder[] = "saver_filename";

tensorflow::DataType ToProto(DataType d) { return static_cast<tensorflow::DataType>(d); }

void SetShape(const engine::PartialShape& shape, tensorflow::TensorShapeProto* proto) {
  if (shape.unknown_rank()) {
    proto->set_unknown_rank(true);
    return;
  }
  for (int64_t d : shape.dims()) proto->add_dim()->set_size(d);
}

// Function argument names must be identifiers; variable names like "dense/kernel" are not.
std::string ArgName(const std::string& var, size_t index) {
  std::string s = absl::StrCat("var", index, "_");
  for (char c : var) s.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s;
}

std::string CheckpointKey(const std::string& var) { return var + "/.ATTRIBUTES/VARIABLE_VALUE"; }

void AddTypeList(tensorflow::NodeDef* node, const std::string& attr, const std::vector<DataType>& types) {
  auto* list = (*node->mutable_attr())[attr].mutable_list();
  for (DataType t : types) list->add_type(ToProto(t));
}

}  // namespace

NodeBuilder::NodeBuilder(const std::string& name, const std::string& op) {
  def_.set_name(name);
  def_.set_op(op);
}
NodeBuilder& NodeBuilder::Input(const std::string& input) {
  def_.add_input(input);
  return *this;
}
NodeBuilder& NodeBuilder::Control(const std::string& node) {
  def_.add_input("^" + node);
  return *this;
}
NodeBuilder& NodeBuilder::Type(const std::string& attr, DataType dtype) {
  (*def_.mutable_attr())[attr].set_type(ToProto(dtype));
  return *this;
}
NodeBuilder& NodeBuilder::Int(const std::string& attr, int64_t v) {
  (*def_.mutable_attr())[attr].set_i(v);
  return *this;
}
NodeBuilder& NodeBuilder::Float(const std::string& attr, float v) {
  (*def_.mutable_attr())[attr].set_f(v);
  return *this;
}
NodeBuilder& NodeBuilder::Bool(const std::string& attr, bool v) {
  (*def_.mutable_attr())[attr].set_b(v);
  return *this;
}
NodeBuilder& NodeBuilder::String(const std::string& attr, const std::string& v) {
  (*def_.mutable_attr())[attr].set_s(v);
  return *this;
}
NodeBuilder& NodeBuilder::Ints(const std::string& attr, const std::vector<int64_t>& v) {
  auto* list = (*def_.mutable_attr())[attr].mutable_list();
  for (int64_t x : v) list->add_i(x);
  return *this;
}
NodeBuilder& NodeBuilder::Types(const std::string& attr, const std::vector<DataType>& v) {
  AddTypeList(&def_, attr, v);
  return *this;
}
NodeBuilder& NodeBuilder::Shape(const std::string& attr, const engine::PartialShape& shape) {
  SetShape(shape, (*def_.mutable_attr())[attr].mutable_shape());
  return *this;
}
NodeBuilder& NodeBuilder::Value(const Tensor& t) {
  engine::TensorToProto(t, (*def_.mutable_attr())["value"].mutable_tensor());
  return Type("dtype", t.dtype());
}

void SavedModelWriter::AddVariable(const std::string& name, const Tensor& value) {
  variables_.emplace_back(name, value);
}

void SavedModelWriter::AddSignature(WriterSignature signature) {
  signatures_.push_back(std::move(signature));
}

absl::Status SavedModelWriter::Write(const fs::path& dir) const {
  std::set<std::string> names;
  for (const auto& [name, value] : variables_) {
    if (name.empty() || !names.insert(name).second || name == kFilenamePlaceholder) {
      return absl::InvalidArgumentError(absl::StrCat("variable name \"", name, "\" is empty or repeated"));
    }
  }
  std::error_code ec;
  fs::create_directories(dir / "variables", ec);
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));

  tensorflow::SavedModel sm;
  sm.set_saved_model_schema_version(1);
  tensorflow::MetaGraphDef* mg = sm.add_meta_graphs();
  mg->mutable_meta_info_def()->add_tags("serve");
  mg->mutable_meta_info_def()->set_tensorflow_version("savant-writer");
  tensorflow::GraphDef* graph = mg->mutable_graph_def();
  graph->mutable_versions()->set_producer(1);

  // Variables: one VarHandleOp each; every function captures all of them.
  std::vector<DataType> var_types;
  for (const auto& [name, value] : variables_) {
    *graph->add_node() = NodeBuilder(name, "VarHandleOp")
                             .Type("dtype", value.dtype())
                             .Shape("shape", engine::PartialShape(value.shape()))
                             .String("shared_name", name)
                             .String("container", "");
    var_types.push_back(DataType::kResource);
  }
  auto add_var_args = [&](tensorflow::OpDef* sig, std::map<std::string, std::string>* rename) {
    for (size_t i = 0; i < variables_.size(); ++i) {
      auto* arg = sig->add_input_arg();
      arg->set_name(ArgName(variables_[i].first, i));
      arg->set_type(tensorflow::DT_RESOURCE);
      if (rename) (*rename)[variables_[i].first] = arg->name();
    }
  };
  auto add_call = [&](const std::string& call, const std::string& fn,
                      const std::vector<std::string>& inputs, const std::vector<DataType>& in_types,
                      const std::vector<DataType>& out_types) {
    tensorflow::NodeDef* node = graph->add_node();
    node->set_name(call);
    node->set_op("StatefulPartitionedCall");
    for (const auto& in : inputs) node->add_input(in);
    for (const auto& [name, value] : variables_) node->add_input(name);
    std::vector<DataType> tin = in_types;
    tin.insert(tin.end(), var_types.begin(), var_types.end());
    AddTypeList(node, "Tin", tin);
    AddTypeList(node, "Tout", out_types);
    (*node->mutable_attr())["f"].mutable_func()->set_name(fn);
  };

  // The saver: RestoreV2 of every variable's checkpoint key, assigned through its handle.
  *graph->add_node() = NodeBuilder(kFilenamePlaceholder, "Placeholder")
                           .Type("dtype", DataType::kString)
                           .Shape("shape", engine::PartialShape{});
  {
    tensorflow::FunctionDef* f = graph->mutable_library()->add_function();
    tensorflow::OpDef* sig = f->mutable_signature();
    sig->set_name(kRestoreFunction);
    sig->set_is_stateful(true);
    auto* prefix = sig->add_input_arg();
    prefix->set_name("file_prefix");
    prefix->set_type(tensorflow::DT_STRING);
    std::map<std::string, std::string> rename;
    add_var_args(sig, &rename);
    auto* out = sig->add_output_arg();
    out->set_name("identity");
    out->set_type(tensorflow::DT_STRING);
    int64_t n = static_cast<int64_t>(variables_.size());
    Tensor keys(DataType::kString, engine::Shape{n});
    Tensor slices(DataType::kString, engine::Shape{n});
    std::vector<DataType> dtypes;
    for (int64_t i = 0; i < n; ++i) {
      keys.flat<std::string>()[i] = CheckpointKey(variables_[i].first);
      dtypes.push_back(variables_[i].second.dtype());
    }
    *f->add_node_def() = NodeBuilder("tensor_names", "Const").Value(keys);
    *f->add_node_def() = NodeBuilder("shape_and_slices", "Const").Value(slices);
    *f->add_node_def() = NodeBuilder("RestoreV2", "RestoreV2")
                             .Input("file_prefix")
                             .Input("tensor_names:output:0")
                             .Input("shape_and_slices:output:0")
                             .Types("dtypes", dtypes);
    NodeBuilder done("NoOp", "NoOp");
    for (int64_t i = 0; i < n; ++i) {
      std::string id = absl::StrCat("Identity_", i), assign = absl::StrCat("AssignVariableOp_", i);
      *f->add_node_def() = NodeBuilder(id, "Identity")
                               .Input(absl::StrCat("RestoreV2:tensors:", i))
                               .Type("T", dtypes[i]);
      *f->add_node_def() = NodeBuilder(assign, "AssignVariableOp")
                               .Input(rename[variables_[i].first])
                               .Input(id + ":output:0")
                               .Type("dtype", dtypes[i]);
      done.Control(assign);
      (*f->mutable_control_ret())[assign] = assign;
      f->mutable_signature()->add_control_output(assign);
    }
    *f->add_node_def() = done;
    *f->add_node_def() =
        NodeBuilder("Identity", "Identity").Input("file_prefix").Control("NoOp").Type("T", DataType::kString);
    (*f->mutable_ret())["identity"] = "Identity:output:0";
    add_call(kRestoreCall, kRestoreFunction, {kFilenamePlaceholder}, {DataType::kString},
             {DataType::kString});
  }
  auto* saver = mg->mutable_saver_def();
  saver->set_filename_tensor_name(absl::StrCat(kFilenamePlaceholder, ":0"));
  saver->set_restore_op_name(kRestoreCall);
  saver->set_version(tensorflow::SaverDef::V2);

  // Signatures: placeholders "<key>_<alias>" feeding a call of the signature's function.
  std::set<std::string> keys;
  for (size_t k = 0; k < signatures_.size(); ++k) {
    const WriterSignature& s = signatures_[k];
    if (!keys.insert(s.key).second) {
      return absl::InvalidArgumentError(absl::StrCat("signature \"", s.key, "\" is repeated"));
    }
    std::string fn_name = absl::StrCat("__inference_signature_wrapper_", k);
    tensorflow::FunctionDef* f = graph->mutable_library()->add_function();
    tensorflow::OpDef* sig = f->mutable_signature();
    sig->set_name(fn_name);
    sig->set_is_stateful(true);
    std::vector<std::string> call_inputs;
    std::vector<DataType> in_types, out_types;
    tensorflow::SignatureDef& sd = (*mg->mutable_signature_def())[s.key];
    sd.set_method_name(s.method_name);
    for (const auto& in : s.inputs) {
      auto* arg = sig->add_input_arg();
      arg->set_name(in.alias);
      arg->set_type(ToProto(in.dtype));
      std::string ph = absl::StrCat(s.key, "_", in.alias);
      for (char& c : ph) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
      }
      *graph->add_node() = NodeBuilder(ph, "Placeholder").Type("dtype", in.dtype).Shape("shape", in.shape);
      call_inputs.push_back(ph);
      in_types.push_back(in.dtype);
      tensorflow::TensorInfo& info = (*sd.mutable_inputs())[in.alias];
      info.set_name(ph + ":0");
      info.set_dtype(ToProto(in.dtype));
      SetShape(in.shape, info.mutable_tensor_shape());
    }
    std::map<std::string, std::string> rename;
    add_var_args(sig, &rename);
    for (const tensorflow::NodeDef& node : s.body) {
      tensorflow::NodeDef* copy = f->add_node_def();
      *copy = node;
      for (auto& input : *copy->mutable_input()) {
        if (auto it = rename.find(input); it != rename.end()) input = it->second;
      }
    }
    std::string call = absl::StrCat("StatefulPartitionedCall_", k);
    for (size_t i = 0; i < s.outputs.size(); ++i) {
      const WriterOutput& out = s.outputs[i];
      auto* arg = sig->add_output_arg();
      arg->set_name(out.alias);
      arg->set_type(ToProto(out.dtype));
      (*f->mutable_ret())[out.alias] = out.tensor;
      out_types.push_back(out.dtype);
      tensorflow::TensorInfo& info = (*sd.mutable_outputs())[out.alias];
      info.set_name(absl::StrCat(call, ":", i));
      info.set_dtype(ToProto(out.dtype));
      SetShape(out.shape, info.mutable_tensor_shape());
    }
    add_call(call, fn_name, call_inputs, in_types, out_types);
  }

  // Object graph: root -> nested user objects -> variables, the same tree in the checkpoint's
  // TrackableObjectGraph and the SavedObjectGraph.
  tensorflow::TrackableObjectGraph trackable;
  tensorflow::SavedObjectGraph* objects = mg->mutable_object_graph_def();
  auto new_node = [&](bool variable) {
    trackable.add_nodes();
    tensorflow::SavedObject* o = objects->add_nodes();
    if (!variable) o->mutable_user_object()->set_identifier("_generic_user_object");
    return trackable.nodes_size() - 1;
  };
  new_node(false);
  std::map<std::string, int> path_node = {{"", 0}};
  for (const auto& [name, value] : variables_) {
    std::vector<std::string> parts = absl::StrSplit(name, '/');
    std::string path;
    int parent = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string next = path.empty() ? parts[i] : path + "/" + parts[i];
      bool leaf = i + 1 == parts.size();
      auto it = path_node.find(next);
      int id;
      if (it == path_node.end() || leaf) {
        id = new_node(leaf);
        path_node[next] = id;
        auto* child = trackable.mutable_nodes(parent)->add_children();
        child->set_node_id(id);
        child->set_local_name(parts[i]);
        auto* schild = objects->mutable_nodes(parent)->add_children();
        schild->set_node_id(id);
        schild->set_local_name(parts[i]);
      } else {
        id = it->second;
      }
      parent = id;
      path = next;
    }
    auto* attr = trackable.mutable_nodes(parent)->add_attributes();
    attr->set_name("VARIABLE_VALUE");
    attr->set_full_name(name);
    attr->set_checkpoint_key(CheckpointKey(name));
    auto* var = objects->mutable_nodes(parent)->mutable_variable();
    var->set_dtype(ToProto(value.dtype()));
    SetShape(engine::PartialShape(value.shape()), var->mutable_shape());
    var->set_name(name);
  }

  BundleWriter bundle((dir / "variables" / "variables").string());
  for (const auto& [name, value] : variables_) RETURN_IF_ERROR(bundle.Add(CheckpointKey(name), value));
  std::string object_graph;
  trackable.SerializeToString(&object_graph);
  RETURN_IF_ERROR(bundle.Add(kObjectGraphKey, Tensor::StringScalar(object_graph)));
  RETURN_IF_ERROR(bundle.Finish());

  std::string bytes;
  if (!sm.SerializeToString(&bytes)) return absl::InternalError("cannot serialize the SavedModel");
  fs::path pb = dir / "saved_model.pb";
  std::ofstream out(pb, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(pb.string(), ": write failed"));
  return absl::OkStatus();
}

}  // namespace savant::loader
