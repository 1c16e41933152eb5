#include "tests/integration/rest_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace savant::testing {

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

absl::Status HttpClient::Connect() {
  if (fd_ >= 0) return absl::OkStatus();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return absl::InternalError("socket failed");
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{30, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    Close();
    return absl::UnavailableError(absl::StrCat("connect to port ", port_, ": ", std::strerror(err)));
  }
  ++connections_opened_;
  return absl::OkStatus();
}

absl::StatusOr<HttpResult> HttpClient::Send(const std::string& method, const std::string& target,
                                            const std::string& body, const std::string& extra_headers) {
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n", extra_headers);
  if (method == "POST" || !body.empty()) {
    absl::StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
  }
  absl::StrAppend(&request, "\r\n", body);
  // A keep-alive connection the server closed meanwhile fails on first use: retry once, fresh.
  const bool reused = fd_ >= 0;
  auto result = SendRaw(request);
  if (!result.ok() && reused) {
    Close();
    result = SendRaw(request);
  }
  return result;
}

absl::StatusOr<HttpResult> HttpClient::SendRaw(const std::string& bytes) {
  if (auto s = Connect(); !s.ok()) return s;
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      // The server may answer (413) and close before reading everything; read what it said.
      break;
    }
    sent += static_cast<size_t>(n);
  }
  auto result = ReadResponse();
  if (!result.ok()) Close();
  return result;
}

absl::StatusOr<HttpResult> HttpClient::ReadResponse() {
  auto fill = [&]() -> bool {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return absl::UnavailableError("connection closed before a response");
  }
  HttpResult result;
  const std::string head = buffer_.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || !absl::SimpleAtoi(status_line.substr(9, 3), &result.status)) {
    return absl::InternalError(absl::StrCat("bad status line: ", status_line));
  }
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(pos, end - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      result.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    pos = end + 2;
  }
  size_t length = 0;
  if (auto it = result.headers.find("content-length"); it != result.headers.end()) {
    absl::SimpleAtoi(it->second, &length);
  }
  const size_t body_start = header_end + 4;
  while (buffer_.size() < body_start + length) {
    if (!fill()) return absl::UnavailableError("connection closed in the body");
  }
  result.body = buffer_.substr(body_start, length);
  buffer_.erase(0, body_start + length);
  if (auto it = result.headers.find("connection"); it != result.headers.end() && absl::AsciiStrToLower(it->second) == "close") {
    Close();
  }
  return result;
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(text.c_str(), text.size());
  return doc;
}

bool JsonValuesEqual(const rapidjson::Value& a, const rapidjson::Value& b, std::string* diff, double rel_tolerance) {
  if (a.IsNumber() && b.IsNumber()) {
    const double x = a.GetDouble(), y = b.GetDouble();
    if (std::isnan(x) && std::isnan(y)) return true;
    if (x == y || std::fabs(x - y) <= rel_tolerance * std::max(std::fabs(x), std::fabs(y))) return true;
    *diff = absl::StrCat(": ", x, " != ", y);
    return false;
  }
  if (a.GetType() != b.GetType()) {
    *diff = ": JSON types differ";
    return false;
  }
  if (a.IsString()) {
    if (std::string(a.GetString(), a.GetStringLength()) == std::string(b.GetString(), b.GetStringLength())) return true;
    *diff = absl::StrCat(": \"", a.GetString(), "\" != \"", b.GetString(), "\"");
    return false;
  }
  if (a.IsArray()) {
    if (a.Size() != b.Size()) {
      *diff = absl::StrCat(": list sizes ", a.Size(), " != ", b.Size());
      return false;
    }
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!JsonValuesEqual(a[i], b[i], diff, rel_tolerance)) {
        *diff = absl::StrCat("[", i, "]", *diff);
        return false;
      }
    }
    return true;
  }
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) {
      *diff = absl::StrCat(": object sizes ", a.MemberCount(), " != ", b.MemberCount());
      return false;
    }
    for (const auto& m : a.GetObject()) {
      auto it = b.FindMember(m.name);
      if (it == b.MemberEnd()) {
        *diff = absl::StrCat(".", m.name.GetString(), ": missing");
        return false;
      }
      if (!JsonValuesEqual(m.value, it->value, diff, rel_tolerance)) {
        *diff = absl::StrCat(".", m.name.GetString(), *diff);
        return false;
      }
    }
    return true;
  }
  return true;  // null, true, false: the types matched
}

}  // namespace savant::testing
