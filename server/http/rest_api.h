// The REST API's routes, independent of the socket layer: TensorFlow Serving's /v1 API (model
// status, metadata, predict, classify, regress; its api_rest documentation is the contract), the
// KServe v2 REST protocol (/v2 ...), and the Prometheus page. Each request is decoded here, handed
// to the shared PredictPath and encoded back; errors are {"error": "..."} with the HTTP status
// server/status_mapping.h gives their code.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/http/http_server.h"
#include "server/predict_path.h"

namespace savant::server {

struct RestApiOptions {
  // Largest number of elements one JSON input tensor may hold (--rest_max_tensor_elements).
  int64_t max_tensor_elements = 64 << 20;
  // Serve RenderPrometheusText() at this path when not empty.
  std::string prometheus_path;
  // Add TensorFlow Serving's CORS headers (--rest_api_enable_cors_support).
  bool enable_cors = false;
  // KServe /v2/health/ready.
  std::function<bool()> ready;
};

// Thread-safe; holds no per-request state.
class RestApi {
 public:
  RestApi(const PredictPath* path, RestApiOptions options) : path_(path), options_(std::move(options)) {}

  // Answers one request.
  void Handle(const HttpRequest& request, HttpResponse& response) const;

 private:
  struct Route;
  absl::Status HandleV1(const HttpRequest& request, absl::string_view path, HttpResponse& response,
                        Route& route) const;
  absl::Status HandleV2(const HttpRequest& request, absl::string_view path, HttpResponse& response,
                        Route& route) const;

  const PredictPath* path_;
  const RestApiOptions options_;
};

}  // namespace savant::server
