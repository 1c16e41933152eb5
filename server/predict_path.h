// The shared request path: every front end (gRPC now, REST in issue #7) decodes its request, then
// comes here to find the model version (by number, label or latest), pick the signature, check and
// convert tensors, run the model's function and build the answer with TensorFlow Serving's
// semantics and error codes. Front ends stay thin adapters.
//
// Two layers:
//   * PredictPath: looks the version up in the ModelManager, then runs. Use it from front ends.
//   * Run*(const LoadedVersion&, ...): the same work on a version already in hand. Warmup uses
//     these on a version that is not published yet.
//
// REST (issue #7) can call PredictPath::Find + PredictPath::Run with NamedTensors decoded from
// JSON, or build the TensorFlow Serving request protos and call Predict/Classify/... directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "loader/model.h"
#include "server/model_manager.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/apis/get_model_status.pb.h"
#include "tensorflow_serving/apis/inference.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/model.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"

namespace savant::server {

inline constexpr char kPredictMethodName[] = "tensorflow/serving/predict";
inline constexpr char kClassifyMethodName[] = "tensorflow/serving/classify";
inline constexpr char kRegressMethodName[] = "tensorflow/serving/regress";
inline constexpr char kSignatureDefMetadataField[] = "signature_def";

struct PredictPathOptions {
  // --enable_signature_method_name_check: require predict/classify/regress method names as
  // TensorFlow Serving 1.x did (off by default, as in TensorFlow Serving 2.x).
  bool enable_signature_method_name_check = false;
  // --enable_serialization_as_tensor_content: Predict outputs in tensor_content rather than the
  // typed value fields (float_val, ...), which are TensorFlow Serving's default.
  bool serialize_as_tensor_content = false;
};

// The selector a ModelSpec denotes. INVALID_ARGUMENT "ModelSpec has no name specified." for an
// empty name.
absl::StatusOr<ModelSelector> SelectorFromModelSpec(const tensorflow::serving::ModelSpec& spec);

// The DT_STRING batch [N] of serialized tf.Examples that Classify and Regress feed to the
// signature's "inputs" tensor. With a context, each element is the context's serialization followed
// by the example's, which parses as the example merged over the context (TensorFlow Serving's
// encoding). INVALID_ARGUMENT "Input is empty." when there are no examples.
absl::StatusOr<engine::Tensor> InputToExamplesTensor(const tensorflow::serving::Input& input);

// Runs signature `signature_key` ("" means serving_default) of `version`. Errors carry the
// model, version and signature in front of the loader's message:
//   FAILED_PRECONDITION  unknown signature (TensorFlow Serving's "Serving signature key ... not found")
//   INVALID_ARGUMENT     missing, extra or mistyped inputs; unknown output names in `output_filter`
// plus whatever the engine reports while running.
absl::StatusOr<loader::NamedTensors> RunSignature(const LoadedVersion& version, const std::string& signature_key,
                                                  const loader::NamedTensors& inputs,
                                                  const std::vector<std::string>& output_filter);

// TensorFlow Serving's Predict/Classify/Regress/MultiInference on one version. The response's
// model_spec names the model, the version and the signature that ran.
absl::Status RunPredict(const LoadedVersion& version, const tensorflow::serving::PredictRequest& request,
                        tensorflow::serving::PredictResponse* response, const PredictPathOptions& options);
absl::Status RunClassify(const LoadedVersion& version, const tensorflow::serving::ClassificationRequest& request,
                         tensorflow::serving::ClassificationResponse* response, const PredictPathOptions& options);
absl::Status RunRegress(const LoadedVersion& version, const tensorflow::serving::RegressionRequest& request,
                        tensorflow::serving::RegressionResponse* response, const PredictPathOptions& options);
absl::Status RunMultiInference(const LoadedVersion& version,
                               const tensorflow::serving::MultiInferenceRequest& request,
                               tensorflow::serving::MultiInferenceResponse* response,
                               const PredictPathOptions& options);

// Thread-safe; holds no state of its own besides the options.
class PredictPath {
 public:
  PredictPath(const ModelManager* manager, PredictPathOptions options) : manager_(manager), options_(options) {}

  // ModelManager::Find: NOT_FOUND "Servable not found for request: ..." or INVALID_ARGUMENT for
  // an unknown label.
  absl::StatusOr<VersionHandle> Find(const ModelSelector& selector) const { return manager_->Find(selector); }

  // Find, then Run*. Errors: those of Find and of the Run* functions.
  absl::Status Predict(const tensorflow::serving::PredictRequest& request,
                       tensorflow::serving::PredictResponse* response) const;
  absl::Status Classify(const tensorflow::serving::ClassificationRequest& request,
                        tensorflow::serving::ClassificationResponse* response) const;
  absl::Status Regress(const tensorflow::serving::RegressionRequest& request,
                       tensorflow::serving::RegressionResponse* response) const;
  absl::Status MultiInference(const tensorflow::serving::MultiInferenceRequest& request,
                              tensorflow::serving::MultiInferenceResponse* response) const;

  // metadata_field must be exactly "signature_def": the version's SignatureDefMap packed in a
  // google.protobuf.Any. INVALID_ARGUMENT "Missing ModelSpec", "GetModelMetadataRequest must
  // specify at least one metadata_field", "Metadata field x is not supported".
  absl::Status GetModelMetadata(const tensorflow::serving::GetModelMetadataRequest& request,
                                tensorflow::serving::GetModelMetadataResponse* response) const;

  // Every known version of the model (newest first) or the one asked for, with its state and, for
  // a failed load, the error. INVALID_ARGUMENT "Missing ModelSpec"; NOT_FOUND "Could not find any
  // versions of model m" / "Could not find version 7 of model m".
  absl::Status GetModelStatus(const tensorflow::serving::GetModelStatusRequest& request,
                              tensorflow::serving::GetModelStatusResponse* response) const;

  const ModelManager& manager() const { return *manager_; }
  const PredictPathOptions& options() const { return options_; }

 private:
  const ModelManager* manager_;
  PredictPathOptions options_;
};

}  // namespace savant::server
