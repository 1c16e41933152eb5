#include "server/predict_path.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/tensor_proto.h"
#include "loader/saved_model.h"
#include "server/status_mapping.h"

namespace savant::server {
namespace {

using engine::DataType;
using engine::Shape;
using engine::Tensor;
namespace tfs = tensorflow::serving;

constexpr char kClassifyInputs[] = "inputs";
constexpr char kClassifyOutputClasses[] = "classes";
constexpr char kClassifyOutputScores[] = "scores";
constexpr char kRegressInputs[] = "inputs";
constexpr char kRegressOutputs[] = "outputs";

std::string SignatureKey(const std::string& name) { return name.empty() ? loader::kDefaultSignature : name; }

// Puts the model and version (and the signature, unless the message already starts with it) in
// front of a message from the loader or engine, so it reads from the outside in:
//   model "m" version 1 signature "serving_default": input "x": expected DT_FLOAT, got DT_INT32
absl::Status WithContext(const absl::Status& status, const LoadedVersion& version, const std::string& key) {
  if (status.ok()) return status;
  std::string where = absl::StrCat("model \"", version.name, "\" version ", version.version);
  if (absl::StartsWith(status.message(), "signature \"")) {
    return absl::Status(status.code(), absl::StrCat(where, " ", status.message()));
  }
  if (absl::StartsWith(status.message(), "Serving signature key")) {
    return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
  }
  return absl::Status(status.code(), absl::StrCat(where, " signature \"", key, "\": ", status.message()));
}

std::string Aliases(const std::vector<loader::TensorBinding>& bindings) {
  std::vector<std::string> names;
  for (const auto& b : bindings) names.push_back(b.alias);
  return absl::StrJoin(names, ",");
}

const loader::TensorBinding* FindBinding(const std::vector<loader::TensorBinding>& bindings,
                                         absl::string_view alias) {
  for (const auto& b : bindings) {
    if (b.alias == alias) return &b;
  }
  return nullptr;
}

void SetModelSpec(const LoadedVersion& version, const std::string& key, tfs::ModelSpec* spec) {
  spec->Clear();
  spec->set_name(version.name);
  spec->mutable_version()->set_value(version.version);
  spec->set_signature_name(key);
}

const Tensor* FindOutput(const loader::NamedTensors& outputs, absl::string_view alias) {
  for (const auto& [name, t] : outputs) {
    if (name == alias) return &t;
  }
  return nullptr;
}

// The signature checks of TensorFlow Serving's PreProcessClassification. Returns the output
// aliases to fetch.
absl::StatusOr<std::vector<std::string>> ClassificationOutputs(const loader::Signature& sig,
                                                               const PredictPathOptions& options) {
  if (options.enable_signature_method_name_check && sig.method_name != kClassifyMethodName) {
    return absl::InvalidArgumentError(absl::StrCat("Expected classification signature method_name to be ",
                                                   kClassifyMethodName, ". Was: ", sig.method_name));
  }
  if (sig.inputs.size() != 1) return absl::InvalidArgumentError("Expected one input Tensor.");
  if (sig.outputs.size() != 1 && sig.outputs.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected one or two output Tensors, found ", sig.outputs.size()));
  }
  if (FindBinding(sig.inputs, kClassifyInputs) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("No classification inputs found in SignatureDef: expected \"",
                                                   kClassifyInputs, "\", has {", Aliases(sig.inputs), "}"));
  }
  std::vector<std::string> outputs;
  if (FindBinding(sig.outputs, kClassifyOutputClasses) != nullptr) outputs.push_back(kClassifyOutputClasses);
  if (FindBinding(sig.outputs, kClassifyOutputScores) != nullptr) outputs.push_back(kClassifyOutputScores);
  if (outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected classification signature outputs to contain at least one of \"", kClassifyOutputClasses,
        "\" or \"", kClassifyOutputScores, "\". Signature outputs were: {", Aliases(sig.outputs), "}"));
  }
  return outputs;
}

absl::Status RegressionChecks(const loader::Signature& sig, const PredictPathOptions& options) {
  if (options.enable_signature_method_name_check && sig.method_name != kRegressMethodName) {
    return absl::InvalidArgumentError(absl::StrCat("Expected regression signature method_name to be ",
                                                   kRegressMethodName, ". Was: ", sig.method_name));
  }
  if (sig.inputs.size() != 1) return absl::InvalidArgumentError("Expected one input Tensor.");
  if (sig.outputs.size() != 1) return absl::InvalidArgumentError("Expected one output Tensor.");
  if (FindBinding(sig.inputs, kRegressInputs) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("No regression inputs found in SignatureDef: expected \"",
                                                   kRegressInputs, "\", has {", Aliases(sig.inputs), "}"));
  }
  if (FindBinding(sig.outputs, kRegressOutputs) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("No regression outputs found in SignatureDef: expected \"",
                                                   kRegressOutputs, "\", has {", Aliases(sig.outputs), "}"));
  }
  return absl::OkStatus();
}

absl::Status ClassificationResultFromOutputs(const loader::NamedTensors& outputs, int64_t num_examples,
                                             tfs::ClassificationResult* result) {
  const Tensor* classes = FindOutput(outputs, kClassifyOutputClasses);
  const Tensor* scores = FindOutput(outputs, kClassifyOutputScores);
  auto check = [&](const Tensor* t, const char* what, DataType dtype) -> absl::Status {
    if (t == nullptr) return absl::OkStatus();
    if (t->rank() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("Expected Tensor shape: [batch_size num_classes] but got ",
                                                     t->shape().DebugString()));
    }
    if (t->dtype() != dtype) {
      return absl::InvalidArgumentError(absl::StrCat("Expected ", what, " Tensor of ", engine::DataTypeName(dtype),
                                                     ". Got: ", engine::DataTypeName(t->dtype())));
    }
    if (t->dim(0) != num_examples) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expected ", what, " output batch size of ", num_examples, ". Got: ", t->dim(0)));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check(classes, "classes", DataType::kString));
  RETURN_IF_ERROR(check(scores, "scores", DataType::kFloat));
  if (classes != nullptr && scores != nullptr && classes->dim(1) != scores->dim(1)) {
    return absl::InvalidArgumentError(absl::StrCat("Tensors class and score should match in dim_size(1). Got ",
                                                   classes->dim(1), " vs. ", scores->dim(1)));
  }
  const int64_t num_classes = classes != nullptr ? classes->dim(1) : scores != nullptr ? scores->dim(1) : 0;
  for (int64_t i = 0; i < num_examples; ++i) {
    tfs::Classifications* classifications = result->add_classifications();
    for (int64_t c = 0; c < num_classes; ++c) {
      tfs::Class* cl = classifications->add_classes();
      if (classes != nullptr) cl->set_label(classes->flat<std::string>()[i * num_classes + c]);
      if (scores != nullptr) cl->set_score(scores->flat<float>()[i * num_classes + c]);
    }
  }
  return absl::OkStatus();
}

absl::Status RegressionResultFromOutputs(const loader::NamedTensors& outputs, int64_t num_examples,
                                         tfs::RegressionResult* result) {
  const Tensor* out = FindOutput(outputs, kRegressOutputs);
  if (out == nullptr) {
    return absl::InternalError(absl::StrCat("regression output \"", kRegressOutputs, "\" was not computed"));
  }
  if (!(out->rank() == 1 || (out->rank() == 2 && out->dim(1) == 1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got ", out->shape().DebugString()));
  }
  if (out->dim(0) != num_examples) {
    return absl::InvalidArgumentError(absl::StrCat("Input batch size did not match output batch size: ",
                                                   num_examples, " vs. ", out->dim(0)));
  }
  if (out->dtype() != DataType::kFloat) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected output Tensor of DT_FLOAT.  Got: ", engine::DataTypeName(out->dtype())));
  }
  for (float v : out->flat<float>()) result->add_regressions()->set_value(v);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelSelector> SelectorFromModelSpec(const tfs::ModelSpec& spec) {
  if (spec.name().empty()) return absl::InvalidArgumentError("ModelSpec has no name specified.");
  ModelSelector selector;
  selector.name = spec.name();
  switch (spec.version_choice_case()) {
    case tfs::ModelSpec::kVersion:
      selector.version = spec.version().value();
      break;
    case tfs::ModelSpec::kVersionLabel:
      selector.label = spec.version_label();
      break;
    case tfs::ModelSpec::VERSION_CHOICE_NOT_SET:
      break;
  }
  return selector;
}

absl::StatusOr<Tensor> InputToExamplesTensor(const tfs::Input& input) {
  switch (input.kind_case()) {
    case tfs::Input::kExampleList: {
      const auto& examples = input.example_list().examples();
      if (examples.empty()) break;
      Tensor t(DataType::kString, Shape{examples.size()});
      auto out = t.flat<std::string>();
      for (int i = 0; i < examples.size(); ++i) examples[i].SerializeToString(&out[i]);
      return t;
    }
    case tfs::Input::kExampleListWithContext: {
      const auto& list = input.example_list_with_context();
      if (list.examples().empty()) break;
      // Serialized messages concatenate into their merge, so one serialization of the context
      // serves every example.
      const std::string context = list.has_context() ? list.context().SerializeAsString() : std::string();
      Tensor t(DataType::kString, Shape{list.examples().size()});
      auto out = t.flat<std::string>();
      for (int i = 0; i < list.examples().size(); ++i) {
        out[i] = context;
        list.examples(i).AppendToString(&out[i]);
      }
      return t;
    }
    case tfs::Input::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("Input is empty.");
}

absl::StatusOr<loader::NamedTensors> RunSignature(const LoadedVersion& version, const std::string& signature_key,
                                                  const loader::NamedTensors& inputs,
                                                  const std::vector<std::string>& output_filter) {
  const std::string key = SignatureKey(signature_key);
  auto sig = version.model->FindSignature(key);
  if (!sig.ok()) return WithContext(sig.status(), version, key);
  std::set<std::string> seen;
  for (const auto& alias : output_filter) {
    if (FindBinding((*sig)->outputs, alias) == nullptr) {
      return WithContext(absl::InvalidArgumentError(absl::StrCat("output tensor alias not found in signature: ", alias,
                                                                 " Outputs expected to be in the set {",
                                                                 Aliases((*sig)->outputs), "}.")),
                         version, key);
    }
    if (!seen.insert(alias).second) {
      return WithContext(absl::InvalidArgumentError(absl::StrCat("duplicate output tensor alias: ", alias)), version,
                         key);
    }
  }
  auto outputs = version.model->Run(key, inputs, output_filter);
  if (!outputs.ok()) return WithContext(outputs.status(), version, key);
  return outputs;
}

absl::Status RunPredict(const LoadedVersion& version, const tfs::PredictRequest& request, tfs::PredictResponse* response,
                        const PredictPathOptions& options) {
  const std::string key = SignatureKey(request.model_spec().signature_name());
  auto sig = version.model->FindSignature(key);
  if (!sig.ok()) return WithContext(sig.status(), version, key);
  const std::string& method = (*sig)->method_name;
  if (options.enable_signature_method_name_check && method != kPredictMethodName && method != kClassifyMethodName &&
      method != kRegressMethodName) {
    return WithContext(absl::InternalError(absl::StrCat("Expected prediction signature method_name to be one of {",
                                                        kPredictMethodName, ", ", kClassifyMethodName, ", ",
                                                        kRegressMethodName, "}. Was: ", method)),
                       version, key);
  }
  loader::NamedTensors inputs;
  inputs.reserve(request.inputs().size());
  // Sorted, so errors about several inputs are reported in a stable order.
  std::map<std::string, const tensorflow::TensorProto*> sorted;
  for (const auto& [alias, proto] : request.inputs()) sorted.emplace(alias, &proto);
  for (const auto& [alias, proto] : sorted) {
    if (FindBinding((*sig)->inputs, alias) == nullptr) {
      return WithContext(absl::InvalidArgumentError(absl::StrCat("input tensor alias not found in signature: ", alias,
                                                                 ". Inputs expected to be in the set {",
                                                                 Aliases((*sig)->inputs), "}.")),
                         version, key);
    }
    auto tensor = engine::TensorFromProto(*proto);
    if (!tensor.ok()) return WithContext(Annotate(tensor.status(), absl::StrCat("input \"", alias, "\"")), version, key);
    inputs.emplace_back(alias, *std::move(tensor));
  }
  std::vector<std::string> filter(request.output_filter().begin(), request.output_filter().end());
  ASSIGN_OR_RETURN(loader::NamedTensors outputs, RunSignature(version, key, inputs, filter));
  SetModelSpec(version, key, response->mutable_model_spec());
  auto& out = *response->mutable_outputs();
  for (const auto& [alias, tensor] : outputs) {
    engine::TensorToProto(tensor, &out[alias], options.serialize_as_tensor_content);
  }
  return absl::OkStatus();
}

absl::Status RunClassify(const LoadedVersion& version, const tfs::ClassificationRequest& request,
                         tfs::ClassificationResponse* response, const PredictPathOptions& options) {
  const std::string key = SignatureKey(request.model_spec().signature_name());
  auto sig = version.model->FindSignature(key);
  if (!sig.ok()) {
    return WithContext(absl::InvalidArgumentError(absl::StrCat("No signature was found with the name: ", key)), version,
                       key);
  }
  auto fetch = ClassificationOutputs(**sig, options);
  if (!fetch.ok()) return WithContext(fetch.status(), version, key);
  ASSIGN_OR_RETURN(Tensor examples, InputToExamplesTensor(request.input()));
  const int64_t num_examples = examples.dim(0);
  ASSIGN_OR_RETURN(loader::NamedTensors outputs,
                   RunSignature(version, key, {{kClassifyInputs, std::move(examples)}}, *fetch));
  SetModelSpec(version, key, response->mutable_model_spec());
  return WithContext(ClassificationResultFromOutputs(outputs, num_examples, response->mutable_result()), version, key);
}

absl::Status RunRegress(const LoadedVersion& version, const tfs::RegressionRequest& request,
                        tfs::RegressionResponse* response, const PredictPathOptions& options) {
  const std::string key = SignatureKey(request.model_spec().signature_name());
  auto sig = version.model->FindSignature(key);
  if (!sig.ok()) {
    return WithContext(absl::InvalidArgumentError(absl::StrCat("No signature was found with the name: ", key)), version,
                       key);
  }
  RETURN_IF_ERROR(WithContext(RegressionChecks(**sig, options), version, key));
  ASSIGN_OR_RETURN(Tensor examples, InputToExamplesTensor(request.input()));
  const int64_t num_examples = examples.dim(0);
  ASSIGN_OR_RETURN(loader::NamedTensors outputs,
                   RunSignature(version, key, {{kRegressInputs, std::move(examples)}}, {kRegressOutputs}));
  SetModelSpec(version, key, response->mutable_model_spec());
  return WithContext(RegressionResultFromOutputs(outputs, num_examples, response->mutable_result()), version, key);
}

absl::Status RunMultiInference(const LoadedVersion& version, const tfs::MultiInferenceRequest& request,
                               tfs::MultiInferenceResponse* response, const PredictPathOptions& options) {
  // The checks of TensorFlow Serving's TensorFlowMultiInferenceRunner, in its order.
  std::set<std::string> keys;
  std::string input_tensor;
  for (const auto& task : request.tasks()) {
    if (task.model_spec().name().empty()) return absl::InvalidArgumentError("Found ModelSpec with an empty model name.");
    if (task.model_spec().name() != request.tasks(0).model_spec().name()) {
      return absl::InvalidArgumentError("All ModelSpecs in a MultiInferenceRequest must access the same model name.");
    }
    const std::string key = SignatureKey(task.model_spec().signature_name());
    if (!keys.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrCat("Duplicate evaluation of signature: ", key));
    }
    auto sig = version.model->FindSignature(key);
    if (!sig.ok()) {
      return WithContext(absl::InvalidArgumentError(absl::StrCat("Requested signature not found in model graph: ", key)),
                         version, key);
    }
    if (task.method_name() == kClassifyMethodName) {
      auto outputs = ClassificationOutputs(**sig, options);
      if (!outputs.ok()) return WithContext(outputs.status(), version, key);
    } else if (task.method_name() == kRegressMethodName) {
      RETURN_IF_ERROR(WithContext(RegressionChecks(**sig, options), version, key));
    } else {
      return absl::UnimplementedError(absl::StrCat("Unsupported signature method_name: ", task.method_name()));
    }
    const std::string& tensor_name = (*sig)->inputs.at(0).tensor_name;
    if (input_tensor.empty()) input_tensor = tensor_name;
    if (tensor_name != input_tensor) {
      return absl::InvalidArgumentError("Input tensor must be the same for all Signatures.");
    }
  }
  ASSIGN_OR_RETURN(Tensor examples, InputToExamplesTensor(request.input()));
  const int64_t num_examples = examples.dim(0);
  // One run per signature over the same examples; each signature is its own compiled function.
  for (const auto& task : request.tasks()) {
    const std::string key = SignatureKey(task.model_spec().signature_name());
    tfs::InferenceResult* result = response->add_results();
    SetModelSpec(version, key, result->mutable_model_spec());
    if (task.method_name() == kClassifyMethodName) {
      ASSIGN_OR_RETURN(std::vector<std::string> fetch, ClassificationOutputs(*version.model->FindSignature(key).value(), options));
      ASSIGN_OR_RETURN(loader::NamedTensors outputs, RunSignature(version, key, {{kClassifyInputs, examples}}, fetch));
      RETURN_IF_ERROR(WithContext(
          ClassificationResultFromOutputs(outputs, num_examples, result->mutable_classification_result()), version, key));
    } else {
      ASSIGN_OR_RETURN(loader::NamedTensors outputs,
                       RunSignature(version, key, {{kRegressInputs, examples}}, {kRegressOutputs}));
      RETURN_IF_ERROR(WithContext(RegressionResultFromOutputs(outputs, num_examples, result->mutable_regression_result()),
                                  version, key));
    }
  }
  return absl::OkStatus();
}

absl::Status PredictPath::Predict(const tfs::PredictRequest& request, tfs::PredictResponse* response) const {
  ASSIGN_OR_RETURN(ModelSelector selector, SelectorFromModelSpec(request.model_spec()));
  ASSIGN_OR_RETURN(VersionHandle version, manager_->Find(selector));
  return RunPredict(*version, request, response, options_);
}

absl::Status PredictPath::Classify(const tfs::ClassificationRequest& request,
                                   tfs::ClassificationResponse* response) const {
  ASSIGN_OR_RETURN(ModelSelector selector, SelectorFromModelSpec(request.model_spec()));
  ASSIGN_OR_RETURN(VersionHandle version, manager_->Find(selector));
  return RunClassify(*version, request, response, options_);
}

absl::Status PredictPath::Regress(const tfs::RegressionRequest& request, tfs::RegressionResponse* response) const {
  ASSIGN_OR_RETURN(ModelSelector selector, SelectorFromModelSpec(request.model_spec()));
  ASSIGN_OR_RETURN(VersionHandle version, manager_->Find(selector));
  return RunRegress(*version, request, response, options_);
}

absl::Status PredictPath::MultiInference(const tfs::MultiInferenceRequest& request,
                                         tfs::MultiInferenceResponse* response) const {
  const tfs::ModelSpec& spec =
      request.tasks().empty() ? tfs::ModelSpec::default_instance() : request.tasks(0).model_spec();
  ASSIGN_OR_RETURN(ModelSelector selector, SelectorFromModelSpec(spec));
  ASSIGN_OR_RETURN(VersionHandle version, manager_->Find(selector));
  return RunMultiInference(*version, request, response, options_);
}

absl::Status PredictPath::GetModelMetadata(const tfs::GetModelMetadataRequest& request,
                                           tfs::GetModelMetadataResponse* response) const {
  if (!request.has_model_spec()) return absl::InvalidArgumentError("Missing ModelSpec");
  if (request.metadata_field().empty()) {
    return absl::InvalidArgumentError("GetModelMetadataRequest must specify at least one metadata_field");
  }
  for (const auto& field : request.metadata_field()) {
    if (field != kSignatureDefMetadataField) {
      return absl::InvalidArgumentError(absl::StrCat("Metadata field ", field, " is not supported"));
    }
  }
  ASSIGN_OR_RETURN(ModelSelector selector, SelectorFromModelSpec(request.model_spec()));
  ASSIGN_OR_RETURN(VersionHandle version, manager_->Find(selector));
  tfs::SignatureDefMap signatures;
  // Every SignatureDef of the meta graph as written, the init-op pseudo-signature included, as
  // TensorFlow Serving returns them.
  *signatures.mutable_signature_def() = version->model->meta_graph().signature_def();
  response->mutable_model_spec()->set_name(version->name);
  response->mutable_model_spec()->mutable_version()->set_value(version->version);
  (*response->mutable_metadata())[kSignatureDefMetadataField].PackFrom(signatures);
  return absl::OkStatus();
}

absl::Status PredictPath::GetModelStatus(const tfs::GetModelStatusRequest& request,
                                         tfs::GetModelStatusResponse* response) const {
  if (!request.has_model_spec()) return absl::InvalidArgumentError("Missing ModelSpec");
  const auto& spec = request.model_spec();
  std::optional<int64_t> version;
  if (spec.has_version()) version = spec.version().value();
  ASSIGN_OR_RETURN(std::vector<VersionStatus> statuses, manager_->GetModelStatus(spec.name(), version));
  for (const VersionStatus& s : statuses) {
    tfs::ModelVersionStatus* out = response->add_model_version_status();
    out->set_version(s.version);
    switch (s.state) {
      case VersionState::kStart:
        out->set_state(tfs::ModelVersionStatus::START);
        break;
      case VersionState::kLoading:
        out->set_state(tfs::ModelVersionStatus::LOADING);
        break;
      case VersionState::kAvailable:
        out->set_state(tfs::ModelVersionStatus::AVAILABLE);
        break;
      case VersionState::kUnloading:
        out->set_state(tfs::ModelVersionStatus::UNLOADING);
        break;
      case VersionState::kEnd:
        out->set_state(tfs::ModelVersionStatus::END);
        break;
    }
    *out->mutable_status() = ToStatusProto(s.status);
  }
  return absl::OkStatus();
}

}  // namespace savant::server
