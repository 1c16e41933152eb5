// Helpers for the REST integration tests: a minimal blocking HTTP/1.1 client that keeps its
// connection alive between requests (so tests exercise keep-alive the way curl and Python do), a
// free loopback port for --rest_api_port, and JSON comparison by value.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "rapidjson/document.h"

namespace savant::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One TCP connection to 127.0.0.1:port, reopened when the server closes it. Not thread-safe.
class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<HttpResult> Get(const std::string& target) { return Send("GET", target, ""); }
  absl::StatusOr<HttpResult> Post(const std::string& target, const std::string& body) {
    return Send("POST", target, body);
  }
  // Sends one request; `extra_headers` are "Name: value\r\n" lines.
  absl::StatusOr<HttpResult> Send(const std::string& method, const std::string& target, const std::string& body,
                                  const std::string& extra_headers = "");
  // Writes raw bytes and reads one answer (or returns UNAVAILABLE when the server closes).
  absl::StatusOr<HttpResult> SendRaw(const std::string& bytes);
  // Number of TCP connections opened so far.
  int connections_opened() const { return connections_opened_; }

 private:
  absl::Status Connect();
  absl::StatusOr<HttpResult> ReadResponse();
  void Close();

  int port_;
  int fd_ = -1;
  int connections_opened_ = 0;
  std::string buffer_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

// Parses JSON (NaN and Infinity allowed, as TensorFlow Serving writes them); a parse error fails
// the calling test through the returned document's HasParseError().
rapidjson::Document ParseJson(const std::string& text);

// True when `a` and `b` are the same JSON value: objects compare by keys regardless of order,
// numbers by value (1 == 1.0), floats within `rel_tolerance` (relative). `diff` gets a path to
// the first difference.
bool JsonValuesEqual(const rapidjson::Value& a, const rapidjson::Value& b, std::string* diff, double rel_tolerance = 0);

}  // namespace savant::testing
