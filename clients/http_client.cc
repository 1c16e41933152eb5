#include "clients/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace savant::clients {

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

absl::Status HttpConnection::Connect() {
  if (fd_ >= 0) return absl::OkStatus();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = absl::StrCat(port_);
  if (int rc = getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve \"", host_, "\": ", gai_strerror(rc)));
  }
  int err = 0;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{};
    tv.tv_sec = absl::ToInt64Seconds(timeout_);
    tv.tv_usec = absl::ToInt64Microseconds(timeout_ - absl::Seconds(tv.tv_sec));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    err = errno;
    ::close(fd);
  }
  freeaddrinfo(res);
  if (fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", host_, ":", port_, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpConnection::Send(const std::string& method, const std::string& target,
                                                  const std::string& body) {
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", host_, ":", port_,
                                     "\r\nUser-Agent: savant-clients\r\nAccept: application/json\r\n");
  if (method == "POST" || !body.empty()) {
    absl::StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
  }
  request.append("\r\n");
  request.append(body);
  const bool reused = fd_ >= 0;
  auto response = SendOnce(request);
  // A kept-alive connection the server closed in the meantime: retry once on a fresh one.
  if (!response.ok() && reused && response.status().code() == absl::StatusCode::kUnavailable) {
    Close();
    response = SendOnce(request);
  }
  if (!response.ok()) Close();
  return response;
}

absl::StatusOr<HttpResponse> HttpConnection::SendOnce(const std::string& request) {
  if (fd_ < 0) {
    absl::Status s = Connect();
    if (!s.ok()) return s;
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return absl::DeadlineExceededError("sending timed out");
      return absl::UnavailableError(absl::StrCat("connection to ", host_, ":", port_, " closed while sending"));
    }
    sent += n;
  }
  // Reads until `pred` holds or the connection ends.
  auto fill = [&]() -> absl::Status {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, n);
      return absl::OkStatus();
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::DeadlineExceededError(absl::StrCat("no answer from ", host_, ":", port_, " within ",
                                                      absl::FormatDuration(timeout_)));
    }
    return absl::UnavailableError(absl::StrCat("connection to ", host_, ":", port_, " closed before an answer"));
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    absl::Status s = fill();
    if (!s.ok()) return s;
  }
  HttpResponse response;
  const std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  if (sp == std::string::npos || !absl::SimpleAtoi(status_line.substr(sp + 1, 3), &response.status)) {
    return absl::InternalError(absl::StrCat("bad HTTP status line \"", status_line, "\""));
  }
  int64_t content_length = -1;
  bool chunked = false, close = false;
  while (line_end != std::string::npos) {
    size_t next = head.find("\r\n", line_end + 2);
    std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
    line_end = next;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (name == "content-length") {
      absl::SimpleAtoi(value, &content_length);
    } else if (name == "transfer-encoding") {
      chunked = absl::StrContains(absl::AsciiStrToLower(value), "chunked");
    } else if (name == "content-type") {
      response.content_type = value;
    } else if (name == "connection") {
      close = absl::StrContains(absl::AsciiStrToLower(value), "close");
    }
  }
  if (chunked) {
    while (true) {
      size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        absl::Status s = fill();
        if (!s.ok()) return s;
      }
      size_t size = std::strtoul(buffer_.substr(0, eol).c_str(), nullptr, 16);
      while (buffer_.size() < eol + 2 + size + 2) {
        absl::Status s = fill();
        if (!s.ok()) return s;
      }
      response.body.append(buffer_, eol + 2, size);
      buffer_.erase(0, eol + 2 + size + 2);
      if (size == 0) break;
    }
  } else if (content_length >= 0) {
    while (static_cast<int64_t>(buffer_.size()) < content_length) {
      absl::Status s = fill();
      if (!s.ok()) return s;
    }
    response.body = buffer_.substr(0, content_length);
    buffer_.erase(0, content_length);
  } else {
    // No length: the body runs to the end of the connection.
    while (true) {
      absl::Status s = fill();
      if (!s.ok()) break;
    }
    response.body = std::move(buffer_);
    close = true;
  }
  if (close) Close();
  return response;
}

}  // namespace savant::clients
