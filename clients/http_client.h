// A small blocking HTTP/1.1 client for the REST side of savant-cli and savant-loadgen: one
// keep-alive TCP connection, plain HTTP (the server's REST port), Content-Length or chunked
// answers. No TLS and no redirects: it talks to a model server, not to the web.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace savant::clients {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One connection to host:port, opened on first use and reopened once when a kept-alive
// connection turns out to be closed. Thread-compatible (one per thread).
class HttpConnection {
 public:
  HttpConnection(std::string host, int port, absl::Duration timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends one request and reads the answer. UNAVAILABLE when the server cannot be reached or
  // closes the connection, DEADLINE_EXCEEDED when it does not answer within the timeout. Any HTTP
  // status is a successful call; the caller interprets it.
  absl::StatusOr<HttpResponse> Send(const std::string& method, const std::string& target, const std::string& body);
  // Opens the connection if it is not open. UNAVAILABLE when the server cannot be reached.
  absl::Status Connect();

 private:
  absl::StatusOr<HttpResponse> SendOnce(const std::string& request);
  void Close();

  std::string host_;
  int port_;
  absl::Duration timeout_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace savant::clients
