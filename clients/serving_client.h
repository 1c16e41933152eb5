// One client interface over the four ways to reach a Savant (or TensorFlow Serving / KServe) server:
// gRPC or REST, TensorFlow Serving API or KServe v2. savant-cli and savant-loadgen use it; it
// depends on proto/ only. Results come back as protos (TensorProto, ClassificationResult, ...)
// whichever protocol carried them, so the printing code is shared and gRPC and REST answers can be
// compared value for value.
//
//   auto client = ServingClient::Create({.host = "127.0.0.1", .port = 8500});
//   auto result = (*client)->Predict({.name = "half_plus_two"}, {{"x", tensor}});
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/tensor_codec.h"
#include "tensorflow/core/framework/types.pb.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace savant::clients {

enum class Protocol { kGrpc, kRest };
enum class Api { kTfServing, kKServe };

struct Target {
  std::string host = "127.0.0.1";
  int port = 8500;
  Protocol protocol = Protocol::kGrpc;
  Api api = Api::kTfServing;
  absl::Duration timeout = absl::Seconds(30);
};

// Which model, version and signature a request is for. `version` and `label` are exclusive.
struct ModelRef {
  std::string name;
  std::optional<int64_t> version;
  std::string label;
  std::string signature;  // empty: the server's default (serving_default)
};

struct TensorInfo {
  std::string name;
  tensorflow::DataType dtype = tensorflow::DT_INVALID;
  std::vector<int64_t> shape;  // -1 for unknown dims
  bool unknown_rank = false;
};

struct SignatureInfo {
  std::string key;
  std::string method;  // e.g. tensorflow/serving/predict; empty for KServe
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::vector<SignatureInfo> signatures;  // sorted by key
  // The answer in the API's own JSON: TensorFlow Serving's {"model_spec":..,"metadata":
  // {"signature_def":..}} (the same for gRPC and REST), or KServe's model metadata object.
  std::string json;
};

struct VersionStatus {
  int64_t version = 0;
  std::string state;  // AVAILABLE, LOADING, ...; KServe: READY / NOT_READY
  std::string error;  // "" or "CODE: message"
};

struct ModelStatus {
  std::vector<VersionStatus> versions;
  bool available = false;  // some version is AVAILABLE (KServe: the model is ready)
  std::string json;
};

struct PredictResult {
  std::string model;
  int64_t version = 0;  // 0 when the answer does not say
  NamedTensors outputs;  // sorted by name
};

// A request built once and sent many times (savant-loadgen). Each instance owns its own connection;
// thread-compatible (one per thread).
class PreparedCall {
 public:
  virtual ~PreparedCall() = default;
  // Opens the connection now, so its setup is not timed as part of the first request. UNAVAILABLE
  // when the server cannot be reached within the timeout.
  virtual absl::Status Connect() = 0;
  // OK, or the status the server (or the connection) answered with.
  virtual absl::Status Send() = 0;
};

// Thread-compatible; create one per thread (gRPC clients share nothing between instances).
class ServingClient {
 public:
  // INVALID_ARGUMENT for an unusable target (port out of range).
  static absl::StatusOr<std::unique_ptr<ServingClient>> Create(const Target& target);
  virtual ~ServingClient() = default;

  // Errors are the server's status (NOT_FOUND for an unknown model, ...) or UNAVAILABLE /
  // DEADLINE_EXCEEDED for connection problems. UNIMPLEMENTED when the API has no such call (KServe
  // classify/regress/reload, any REST reload).
  virtual absl::StatusOr<ModelMetadata> Metadata(const ModelRef& model) = 0;
  virtual absl::StatusOr<ModelStatus> Status(const ModelRef& model) = 0;
  virtual absl::StatusOr<PredictResult> Predict(const ModelRef& model, const NamedTensors& inputs) = 0;
  virtual absl::StatusOr<tensorflow::serving::ClassificationResult> Classify(const ModelRef& model,
                                                                             const tensorflow::serving::Input& input) = 0;
  virtual absl::StatusOr<tensorflow::serving::RegressionResult> Regress(const ModelRef& model,
                                                                        const tensorflow::serving::Input& input) = 0;
  virtual absl::Status Reload(const tensorflow::serving::ModelServerConfig& config) = 0;
  // A predict request prepared for repeated sending, on a connection of its own.
  virtual absl::StatusOr<std::unique_ptr<PreparedCall>> PreparePredict(const ModelRef& model,
                                                                       const NamedTensors& inputs) = 0;
};

// The signature `key` (empty: serving_default, or the only one) of `metadata`; NOT_FOUND listing
// the keys there are.
absl::StatusOr<SignatureInfo> FindSignature(const ModelMetadata& metadata, const std::string& key);

// Turns parsed `--inputs` into tensors typed by `signature`. INVALID_ARGUMENT naming the alias for
// unknown aliases or values that do not fit the input's dtype.
absl::StatusOr<NamedTensors> BuildInputs(const std::vector<InputValue>& values, const SignatureInfo& signature);

// Inputs for every signature input, from its dtype and shape: unknown dims become `batch` (the
// first) or 1, values cycle through 0.1, 0.2, ... (numbers), false/true, "a".
absl::StatusOr<NamedTensors> GenerateInputs(const SignatureInfo& signature, int64_t batch);

// The status a REST error answer stands for: the HTTP status mapped back to a gRPC code (404
// NOT_FOUND, 400 INVALID_ARGUMENT, 503 UNAVAILABLE, ...) and the {"error": message} text.
absl::Status StatusFromHttp(int http_status, const std::string& body);

// One flag of savant-cli or savant-loadgen: argv[*i] is "--name=value", or "--name" with the value
// in the next argument (then *i advances past it). Returns "" or the message for a missing value.
std::string NextFlag(int argc, char** argv, int* i, std::string* name, std::string* value);

}  // namespace savant::clients
