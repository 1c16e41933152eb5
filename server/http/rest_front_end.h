// The REST front end: TensorFlow Serving's REST API, KServe v2 REST and the Prometheus page
// (server/http/rest_api.h) served by the Beast HTTP server (server/http/http_server.h) on
// --rest_api_port with --rest_api_num_threads threads. Server::SetRestFrontEndFactory takes
// MakeRestFrontEnd; server/serve_main.cc wires it.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "server/server.h"

namespace savant::server {

// Reads the REST flags from server.options(). Binding happens in Start().
absl::StatusOr<std::unique_ptr<FrontEnd>> MakeRestFrontEnd(Server& server);

}  // namespace savant::server
