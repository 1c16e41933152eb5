#include "loader/model.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "engine/shape_inference.h"
#include "engine/fusion.h"
#include "loader/tensor_bundle.h"

namespace savant::loader {
namespace {

using engine::DataType;
using engine::Tensor;

// TF's RestoreV2 "shape_and_slice": empty for a whole tensor, else "d0 d1 ... start,len:-:...".
absl::StatusOr<TensorSlice> ParseShapeAndSlice(absl::string_view spec) {
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ' ', absl::SkipEmpty());
  if (parts.empty()) return absl::InvalidArgumentError("empty shape_and_slice");
  TensorSlice slice;
  std::vector<absl::string_view> extents = absl::StrSplit(parts.back(), ':');
  for (absl::string_view e : extents) {
    SliceExtent ext;
    if (e != "-") {
      std::vector<absl::string_view> se = absl::StrSplit(e, ',');
      if (se.size() != 2 || !absl::SimpleAtoi(se[0], &ext.start) ||
          !absl::SimpleAtoi(se[1], &ext.length)) {
        return absl::InvalidArgumentError(absl::StrCat("malformed shape_and_slice \"", spec, "\""));
      }
    }
    slice.extents.push_back(ext);
  }
  if (extents.size() != parts.size() - 1) {
    return absl::InvalidArgumentError(absl::StrCat("malformed shape_and_slice \"", spec, "\""));
  }
  return slice;
}

std::vector<TensorBinding> Bindings(
    const google::protobuf::Map<std::string, tensorflow::TensorInfo>& infos) {
  std::vector<TensorBinding> out;
  for (const auto& [alias, info] : infos) {
    TensorBinding b;
    b.alias = alias;
    b.dtype = static_cast<DataType>(info.dtype());
    b.shape = info.has_tensor_shape() ? PartialShapeFromProto(info.tensor_shape())
                                      : engine::PartialShape::UnknownRank();
    if (info.has_coo_sparse()) {
      // Sparse inputs are three tensors; the dense binding names the values.
      b.tensor_name = info.coo_sparse().values_tensor_name();
    } else {
      b.tensor_name = info.name();
    }
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.alias < b.alias; });
  return out;
}

// The node that initialises tables and assets: TF2's __saved_model_init_op signature, or TF1's
// main_op / legacy_init_op collections. Empty when there is none.
std::string InitOpName(const tensorflow::MetaGraphDef& mg) {
  auto sig = mg.signature_def().find(kInitOpSignatureKey);
  if (sig != mg.signature_def().end()) {
    auto out = sig->second.outputs().find(kInitOpSignatureKey);
    if (out != sig->second.outputs().end()) return out->second.name();
  }
  for (const char* key : {kMainOpKey, kLegacyInitOpKey}) {
    auto col = mg.collection_def().find(key);
    if (col != mg.collection_def().end() && col->second.node_list().value_size() > 0) {
      return col->second.node_list().value(0);
    }
  }
  return "";
}

std::string StripPort(const std::string& name) {
  auto colon = name.rfind(':');
  return colon == std::string::npos ? name : name.substr(0, colon);
}

}  // namespace

engine::PartialShape PartialShapeFromProto(const tensorflow::TensorShapeProto& proto) {
  if (proto.unknown_rank()) return engine::PartialShape::UnknownRank();
  std::vector<int64_t> dims;
  for (const auto& d : proto.dim()) dims.push_back(d.size() < 0 ? -1 : d.size());
  return engine::PartialShape::FromDims(dims);
}

absl::StatusOr<std::unique_ptr<Model>> Model::Load(const std::filesystem::path& dir,
                                                   const ModelOptions& options) {
  auto model = std::unique_ptr<Model>(new Model());
  ASSIGN_OR_RETURN(model->files_, ReadSavedModel(dir, options.tags));
  const auto& mg = model->files_->meta_graph();
  auto library = std::make_shared<engine::FunctionLibrary>(mg.graph_def().library(),
                                                           mg.meta_info_def().stripped_op_list());
  auto graph = engine::Graph::Import(mg.graph_def(), library);
  if (!graph.ok()) return Annotate(graph.status(), model->files_->graph_file.string());
  model->graph_ = *graph;
  ASSIGN_OR_RETURN(model->graph_, engine::FuseForInference(model->graph_, engine::SignatureTensorNames(mg.signature_def())));
  model->resources_ = std::make_shared<engine::ResourceManager>();

  // Restore variables by running the graph's own saver, as TensorFlow's loader does.
  const auto& saver = mg.saver_def();
  if (!model->files_->variables_prefix.empty() && !saver.restore_op_name().empty()) {
    std::string prefix = model->files_->variables_prefix.string();
    ASSIGN_OR_RETURN(std::shared_ptr<BundleReader> reader, BundleReader::Open(prefix));
    engine::FunctionSpec spec;
    spec.feeds = {saver.filename_tensor_name()};
    spec.targets = {saver.restore_op_name()};
    spec.label = "restore";
    ASSIGN_OR_RETURN(auto restore,
                     engine::Function::Compile(model->graph_, model->resources_, std::move(spec)));
    engine::RunOptions run_options;
    run_options.restore = [reader](absl::string_view, absl::string_view name,
                                   absl::string_view shape_and_slice,
                                   DataType dtype) -> absl::StatusOr<Tensor> {
      absl::StatusOr<Tensor> t;
      if (shape_and_slice.empty()) {
        t = reader->Lookup(std::string(name));
      } else {
        ASSIGN_OR_RETURN(TensorSlice slice, ParseShapeAndSlice(shape_and_slice));
        t = reader->LookupSlice(std::string(name), slice);
      }
      if (t.ok() && t->dtype() != dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint tensor \"", name, "\" is ", engine::DataTypeName(t->dtype()),
            " but the graph restores it as ", engine::DataTypeName(dtype)));
      }
      return t;
    };
    std::vector<Tensor> feeds = {Tensor::StringScalar(prefix)};
    std::vector<Tensor> unused;
    RETURN_IF_ERROR(restore->Run(feeds, &unused, run_options));
  }

  // Initialise tables and assets: feed each asset tensor with its file's path.
  std::string init_op = InitOpName(mg);
  if (!init_op.empty()) {
    engine::FunctionSpec spec;
    std::vector<Tensor> feeds;
    for (const auto& asset : mg.asset_file_def()) {
      spec.feeds.push_back(asset.tensor_info().name());
      feeds.push_back(
          Tensor::StringScalar((model->files_->dir / "assets" / asset.filename()).string()));
    }
    spec.targets = {StripPort(init_op)};
    spec.label = "init op";
    ASSIGN_OR_RETURN(auto init,
                     engine::Function::Compile(model->graph_, model->resources_, std::move(spec)));
    std::vector<Tensor> unused;
    RETURN_IF_ERROR(init->Run(feeds, &unused));
  }

  // Which variables may change at serving time: reads of all others fold into constants.
  absl::flat_hash_set<std::string> assigned;
  std::vector<Signature> sigs;
  for (const auto& [key, def] : mg.signature_def()) {
    if (key == kInitOpSignatureKey) continue;
    Signature sig;
    sig.key = key;
    sig.method_name = def.method_name();
    sig.inputs = Bindings(def.inputs());
    sig.outputs = Bindings(def.outputs());
    for (auto& b : sig.inputs) {
      b.feed_dtype = b.dtype;
      auto ep = model->graph_->FindEndpoint(b.tensor_name);
      if (!ep.ok()) continue;  // reported by the compile below
      const engine::Node& node = model->graph_->node(ep->node);
      if (node.op == "Placeholder" || node.op == "PlaceholderWithDefault") {
        auto dtype = engine::GetTypeAttr(node, "dtype");
        if (dtype.ok()) b.feed_dtype = *dtype;
      }
    }
    engine::FunctionSpec spec;
    for (const auto& b : sig.inputs) spec.feeds.push_back(b.tensor_name);
    for (const auto& b : sig.outputs) spec.fetches.push_back(b.tensor_name);
    auto vars = engine::AssignedVariables(*model->graph_, spec);
    if (!vars.ok()) return Annotate(vars.status(), absl::StrCat("signature \"", key, "\""));
    assigned.insert(vars->begin(), vars->end());
    sigs.push_back(std::move(sig));
  }
  for (auto& sig : sigs) {
    engine::FunctionSpec spec;
    for (const auto& b : sig.inputs) spec.feeds.push_back(b.tensor_name);
    for (const auto& b : sig.outputs) spec.fetches.push_back(b.tensor_name);
    spec.fold_variable_reads = true;
    spec.assigned_variables = assigned;
    spec.label = absl::StrCat("signature \"", sig.key, "\"");
    if (!options.batch_split) spec.batch_split = engine::FunctionSpec::BatchSplit::kNever;
    // Static shapes: the declared input shapes (usually with an unknown batch dimension) flow
    // through the graph; the outputs must come out compatible with what the signature declares.
    for (const auto& b : sig.inputs) spec.feed_shapes.push_back(b.shape);
    ASSIGN_OR_RETURN(sig.function,
                     engine::Function::Compile(model->graph_, model->resources_, std::move(spec)));
    for (size_t i = 0; i < sig.outputs.size(); ++i) {
      const engine::PartialShape& computed = sig.function->fetch_shapes()[i];
      if (!engine::ShapesCompatible(computed, sig.outputs[i].shape)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "signature \"", sig.key, "\": output \"", sig.outputs[i].alias, "\" (",
            sig.outputs[i].tensor_name, "): the graph computes ", computed.DebugString(),
            " but the signature declares ", sig.outputs[i].shape.DebugString()));
      }
    }
    model->signatures_.emplace(sig.key, std::move(sig));
  }
  return model;
}

absl::StatusOr<const Signature*> Model::FindSignature(const std::string& key) const {
  auto it = signatures_.find(key);
  if (it == signatures_.end()) {
    std::vector<std::string> keys;
    for (const auto& [k, s] : signatures_) keys.push_back(k);
    return absl::FailedPreconditionError(absl::StrCat("Serving signature key \"", key,
                                                      "\" not found; available: ",
                                                      absl::StrJoin(keys, ", ")));
  }
  return &it->second;
}

absl::Status Model::ValidateInputs(const Signature& signature, const NamedTensors& inputs) {
  std::vector<std::string> missing, extra;
  for (const auto& b : signature.inputs) {
    int count = 0;
    for (const auto& [alias, t] : inputs) count += alias == b.alias;
    if (count == 0) missing.push_back(b.alias);
    if (count > 1) {
      return absl::InvalidArgumentError(absl::StrCat("input \"", b.alias, "\" is given ", count, " times"));
    }
  }
  for (const auto& input : inputs) {
    const std::string& alias = input.first;
    bool known = std::any_of(signature.inputs.begin(), signature.inputs.end(),
                             [&](const TensorBinding& b) { return b.alias == alias; });
    if (!known) extra.push_back(alias);
  }
  if (!missing.empty() || !extra.empty()) {
    std::vector<std::string> expected;
    for (const auto& b : signature.inputs) expected.push_back(b.alias);
    return absl::InvalidArgumentError(absl::StrCat(
        "input size does not match signature: ", inputs.size(), "!=", signature.inputs.size(),
        " len({", absl::StrJoin(extra.empty() && missing.empty() ? expected : expected, ","),
        "}); sent extra: {", absl::StrJoin(extra, ","), "}; missing but required: {",
        absl::StrJoin(missing, ","), "}"));
  }
  for (const auto& [alias, t] : inputs) {
    for (const auto& b : signature.inputs) {
      if (b.alias != alias) continue;
      DataType want = b.feed_dtype != DataType::kInvalid ? b.feed_dtype : b.dtype;
      if (want != DataType::kInvalid && t.dtype() != want) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", alias, "\": expected ",
                                                       engine::DataTypeName(want), ", got ",
                                                       engine::DataTypeName(t.dtype())));
      }
      if (!b.shape.IsCompatibleWith(t.shape())) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", alias, "\": expected shape ",
                                                       b.shape.DebugString(), ", got ",
                                                       t.shape().DebugString()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<NamedTensors> Model::Run(const std::string& key, const NamedTensors& inputs,
                                        const std::vector<std::string>& output_filter) const {
  ASSIGN_OR_RETURN(const Signature* sig, FindSignature(key));
  RETURN_IF_ERROR(ValidateInputs(*sig, inputs));
  std::vector<Tensor> feeds;
  feeds.reserve(sig->inputs.size());
  for (const auto& b : sig->inputs) {
    for (const auto& [alias, t] : inputs) {
      if (alias == b.alias) feeds.push_back(t);
    }
  }
  for (const auto& name : output_filter) {
    bool known = std::any_of(sig->outputs.begin(), sig->outputs.end(),
                             [&](const TensorBinding& b) { return b.alias == name; });
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("output tensor alias not found in signature: ", name));
    }
  }
  std::vector<Tensor> fetched;
  RETURN_IF_ERROR(sig->function->Run(feeds, &fetched));
  NamedTensors out;
  for (size_t i = 0; i < sig->outputs.size(); ++i) {
    const auto& alias = sig->outputs[i].alias;
    if (!output_filter.empty() &&
        std::find(output_filter.begin(), output_filter.end(), alias) == output_filter.end()) {
      continue;
    }
    out.emplace_back(alias, std::move(fetched[i]));
  }
  return out;
}

}  // namespace savant::loader
