#include "server/http/rest_front_end.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "server/http/http_server.h"
#include "server/http/rest_api.h"

namespace savant::server {
namespace {

class RestFrontEnd : public FrontEnd {
 public:
  RestFrontEnd(const ServerOptions& options, RestApi api)
      : api_(std::move(api)), http_(HttpOptions(options), [this](const HttpRequest& req, HttpResponse& res) {
          api_.Handle(req, res);
        }) {}

  const char* name() const override { return "rest"; }

  absl::Status Start() override {
    absl::Status status = http_.Start();
    if (status.ok()) SAVANT_LOG(INFO) << "api=rest state=listening port=" << http_.port();
    return status;
  }

  int port() const override { return http_.port(); }

  void Shutdown(absl::Time deadline) override { http_.Shutdown(deadline); }

 private:
  static HttpServerOptions HttpOptions(const ServerOptions& options) {
    HttpServerOptions http;
    http.port = options.rest_api_port;
    http.num_threads = options.rest_api_num_threads;
    http.max_body_bytes = options.rest_max_body_bytes;
    http.max_header_bytes = options.rest_max_header_bytes;
    http.timeout = absl::Milliseconds(options.rest_api_timeout_in_ms > 0 ? options.rest_api_timeout_in_ms : 30000);
    return http;
  }

  RestApi api_;
  HttpServer http_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FrontEnd>> MakeRestFrontEnd(Server& server) {
  const ServerOptions& options = server.options();
  RestApiOptions api;
  api.max_tensor_elements = options.rest_max_tensor_elements;
  if (options.prometheus_enabled) api.prometheus_path = options.prometheus_path;
  api.enable_cors = options.rest_api_enable_cors_support;
  api.ready = [&server] { return server.ready(); };
  return std::unique_ptr<FrontEnd>(new RestFrontEnd(options, RestApi(&server.predict_path(), std::move(api))));
}

}  // namespace savant::server
