// A small HTTP/1.1 server on Boost.Asio/Beast for the REST front end: keep-alive connections, a
// fixed pool of threads running one io_context, and the limits a public port needs (body size,
// header size, a per-read/write timeout). It knows nothing of models or JSON: every complete
// request is handed to one handler function, which runs on the pool thread that read it and
// returns the response. server/http/rest_front_end.cc plugs the REST API in as that handler.
//
// Limits: a body over max_body_bytes is answered 413 and the connection closed; headers over
// max_header_bytes 431 and closed; malformed HTTP 400 and closed; a client that stalls longer than
// `timeout` mid-request (or sits idle that long between requests) is disconnected. None of this
// disturbs other connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace savant::server {

// One parsed request. Views are valid for the duration of the handler call only.
struct HttpRequest {
  absl::string_view method;  // "GET", "POST", ...
  absl::string_view target;  // path and query, as sent
  absl::string_view body;
  // The value of header `name` (case-insensitive); "" when absent.
  std::function<absl::string_view(absl::string_view name)> header;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;  // 0 picks a free port
  int num_threads = 1;
  int64_t max_body_bytes = 64 << 20;
  int32_t max_header_bytes = 64 << 10;
  absl::Duration timeout = absl::Seconds(30);
};

// Thread-safe. Start() once, Shutdown() once (the destructor calls it).
//
//   HttpServer server(options, [](const HttpRequest& req, HttpResponse& res) { res.body = "{}"; });
//   RETURN_IF_ERROR(server.Start());
//   ... server.port() ...
//   server.Shutdown(absl::Now() + absl::Seconds(5));
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads. UNAVAILABLE naming the address when binding fails.
  absl::Status Start();
  // The bound port after Start().
  int port() const;
  // Stops accepting, closes idle connections, lets requests being handled finish and answer (with
  // "Connection: close") until `deadline`, then closes everything and joins the threads.
  void Shutdown(absl::Time deadline);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace savant::server
