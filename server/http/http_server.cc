#include "server/http/http_server.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "engine/base/logging.h"

namespace savant::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// After an error answer that closes the connection (413, 431, 400), the client may still be
// sending; reading what it sends for this long (then closing) lets it see the answer instead of a
// reset.
constexpr auto kLingerTime = std::chrono::seconds(2);

std::chrono::milliseconds ToChrono(absl::Duration d) {
  return std::chrono::milliseconds(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(HttpServerOptions options, HttpHandler handler) : options_(std::move(options)), handler_(std::move(handler)) {}

  ~Impl() {
    // Pending handlers own sessions, whose destructors touch the registry: destroy the io objects
    // while the registry still exists.
    accept_timer_.reset();
    acceptor_.reset();
    guards_.clear();
    iocs_.clear();
  }

  absl::Status Start();
  int port() const { return port_; }
  void Shutdown(absl::Time deadline);

  class Session;

 private:
  void Accept();
  void Unregister(uint64_t id);

  const HttpServerOptions options_;
  const HttpHandler handler_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;  // guarded by mu_
  uint64_t next_id_ = 0;                                 // guarded by mu_
  bool shut_down_ = false;                               // guarded by mu_

  // One io_context per thread, each run by its own thread: a connection lives on one thread, so
  // a read completing never has to wake another thread (the cost that dominates a shared
  // multi-threaded io_context on few cores). The acceptor lives on the first and deals
  // connections round-robin.
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<net::io_context>> iocs_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  size_t next_ioc_ = 0;  // used by the acceptor's handler only
  std::optional<tcp::acceptor> acceptor_;
  std::optional<net::steady_timer> accept_timer_;
  bool accept_failing_ = false;  // used by the acceptor's handler only
};

// One connection. Every step runs on the connection's io_context, which one thread runs, so the
// session needs no lock; Shutdown() reaches it through a post onto that io_context.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl* server, uint64_t id, tcp::socket socket) : server_(server), id_(id), stream_(std::move(socket)) {}
  ~Session() { server_->Unregister(id_); }

  void Start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Closes the connection now if it is between requests; otherwise the request in progress
  // finishes and the connection closes after its answer.
  void BeginShutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }

 private:
  void ReadHeader() {
    if (server_->stopping_) return Close();
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(server_->options_.max_body_bytes));
    parser_->header_limit(static_cast<uint32_t>(server_->options_.max_header_bytes));
    idle_ = buffer_.size() == 0;
    stream_.expires_after(ToChrono(server_->options_.timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    idle_ = false;
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // curl and others wait for this before sending a body over 1 KiB.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(ToChrono(server_->options_.timeout));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof || ec == net::error::bad_descriptor) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return ErrorAndClose(413, absl::StrCat("request body exceeds the limit of ", server_->options_.max_body_bytes,
                                             " bytes (--rest_max_body_bytes)"));
    }
    if (ec == http::error::header_limit) {
      return ErrorAndClose(431, absl::StrCat("request headers exceed the limit of ",
                                             server_->options_.max_header_bytes, " bytes"));
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return ErrorAndClose(400, absl::StrCat("malformed HTTP request: ", ec.message()));
    }
    Close();
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    HttpRequest request;
    request.method = absl::string_view(req.method_string().data(), req.method_string().size());
    request.target = absl::string_view(req.target().data(), req.target().size());
    request.body = req.body();
    request.header = [&req](absl::string_view name) {
      auto it = req.find(beast::string_view(name.data(), name.size()));
      if (it == req.end()) return absl::string_view();
      return absl::string_view(it->value().data(), it->value().size());
    };
    HttpResponse response;
    server_->handler_(request, response);
    const bool keep_alive = req.keep_alive() && !server_->stopping_;
    Respond(std::move(response), keep_alive, req.version());
  }

  void Respond(HttpResponse response, bool keep_alive, unsigned version) {
    res_.emplace(static_cast<http::status>(response.status), version);
    res_->set(http::field::server, "savant");
    res_->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res_->set(name, value);
    res_->body() = std::move(response.body);
    res_->keep_alive(keep_alive);
    res_->prepare_payload();
    stream_.expires_after(ToChrono(server_->options_.timeout));
    http::async_write(stream_, *res_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    const bool close = ec || !res_->keep_alive();
    res_.reset();
    if (close) {
      if (!ec && linger_) return Linger();
      return Close();
    }
    ReadHeader();
  }

  void ErrorAndClose(int status, const std::string& message) {
    HttpResponse response;
    response.status = status;
    response.body = absl::StrCat("{\"error\": \"", message, "\"}");
    linger_ = true;
    Respond(std::move(response), false, 11);
  }

  // Half-closes, then discards what the client still sends until it closes or kLingerTime passes.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    DiscardSome();
  }

  void DiscardSome() {
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->DiscardSome();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  Impl* server_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  bool idle_ = false;
  bool linger_ = false;
  char discard_[4096];
};

absl::Status HttpServer::Impl::Start() {
  const int threads = std::max(1, options_.num_threads);
  for (int i = 0; i < threads; ++i) {
    iocs_.push_back(std::make_unique<net::io_context>(1));
    guards_.push_back(net::make_work_guard(*iocs_.back()));
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.address, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad REST API address \"", options_.address, "\""));
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(options_.port));
  acceptor_.emplace(*iocs_[0]);
  accept_timer_.emplace(*iocs_[0]);
  auto fail = [&](const char* what) {
    return absl::UnavailableError(absl::StrCat("cannot ", what, " the REST API port ", options_.address, ":",
                                               options_.port, ": ", ec.message()));
  };
  if (acceptor_->open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) return fail("configure");
  if (acceptor_->bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  port_ = acceptor_->local_endpoint().port();
  Accept();
  for (auto& ioc : iocs_) {
    threads_.emplace_back([ioc = ioc.get()] { ioc->run(); });
  }
  return absl::OkStatus();
}

void HttpServer::Impl::Accept() {
  net::io_context& ioc = *iocs_[next_ioc_++ % iocs_.size()];
  acceptor_->async_accept(ioc, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec && !stopping_) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::shared_ptr<Session> session;
      {
        std::lock_guard lock(mu_);
        const uint64_t id = next_id_++;
        session = std::make_shared<Session>(this, id, std::move(socket));
        sessions_[id] = session;
      }
      session->Start();
    }
    if (stopping_) return;
    if (ec) {
      // Out of file descriptors or memory: retrying at once would spin; pause, keep serving the
      // connections already open.
      if (!accept_failing_) SAVANT_LOG(WARNING) << "api=rest state=accept_failed error=\"" << ec.message() << "\"";
      accept_failing_ = true;
      accept_timer_->expires_after(std::chrono::milliseconds(100));
      accept_timer_->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping_ && acceptor_->is_open()) Accept();
      });
      return;
    }
    accept_failing_ = false;
    Accept();
  });
}

void HttpServer::Impl::Unregister(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  cv_.notify_all();
}

void HttpServer::Impl::Shutdown(absl::Time deadline) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_ || iocs_.empty()) return;
    shut_down_ = true;
  }
  stopping_ = true;
  if (acceptor_) {
    net::post(acceptor_->get_executor(), [this] {
      beast::error_code ignored;
      accept_timer_->cancel();
      acceptor_->close(ignored);
    });
  }
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->BeginShutdown();
  live.clear();
  {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, absl::ToChronoTime(deadline), [&] { return sessions_.empty(); });
    if (!sessions_.empty()) {
      SAVANT_LOG(WARNING) << "api=rest state=drain_timeout open_connections=" << sessions_.size();
    }
  }
  guards_.clear();
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Shutdown(absl::Now()); }

absl::Status HttpServer::Start() { return impl_->Start(); }

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }

}  // namespace savant::server
