// The gRPC front end: TensorFlow Serving's PredictionService and ModelService, KServe v2's
// GRPCInferenceService, the standard health service (--enable_grpc_healthcheck_service) and server
// reflection, on --port (and --grpc_socket_path), over TLS with --ssl_config_file. Requests are
// decoded here and handed to the shared PredictPath; nothing model-specific lives in this layer.
//
// Asynchronous: one completion queue per polling thread and one polling thread per core; calls run
// on the polling thread that dequeued them, except config reloads, which may take seconds and run
// on a separate executor thread.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "server/predict_path.h"
#include "server/server.h"
#include "server/server_config.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace savant::server {

struct GrpcFrontEndDeps {
  const PredictPath* predict_path = nullptr;
  // HandleReloadConfigRequest.
  std::function<absl::Status(const tensorflow::serving::ModelServerConfig&)> reload_config;
  // KServe ServerReady.
  std::function<bool()> ready;
};

std::unique_ptr<FrontEnd> MakeGrpcFrontEnd(const ServerOptions& options, GrpcFrontEndDeps deps);

}  // namespace savant::server
