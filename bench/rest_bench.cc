// REST predict throughput of the real server next to the same server's gRPC Predict and next to a
// static-response ceiling, measured in one run with the same kind of client:
//
//   * rest:   POST /v1/models/half_plus_two:predict {"instances": [[1.0], [2.0], [5.0]]} on the
//             server's REST port (savant::server::Server in process, REST front end wired as the
//             binary does);
//   * grpc:   PredictionService/Predict with the same three values on the same server;
//   * static: the same HTTP stack (server/http/http_server.h) answering every request with a fixed
//             body: what HTTP parsing and the sockets cost without JSON, lookup or the model.
//
// Each connection is one client thread with its own keep-alive TCP connection (gRPC: its own
// channel), sending the next request as soon as the previous answer arrived. Client and server
// share the machine, so compare ratios, not absolute numbers. Issue #7's goal: rest >= grpc / 1.5.
//
//   rest_bench [--seconds=2] [--connections=1,8,64]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"
#include "grpcpp/grpcpp.h"
#include "rapidjson/document.h"
#include "server/http/http_server.h"
#include "server/http/json_tensor.h"
#include "server/http/rest_front_end.h"
#include "server/server.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tests/util/fixtures.h"

namespace savant {
namespace {

namespace tfs = tensorflow::serving;

constexpr char kBody[] = R"({"instances": [[1.0], [2.0], [5.0]]})";
constexpr char kAnswer[] = R"({"predictions":[[2.5],[3.0],[4.5]]})";

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A keep-alive HTTP/1.1 client on one socket; returns false on any failure or non-200 answer.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    request_ = absl::StrCat("POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: localhost\r\n",
                            "Content-Type: application/json\r\nContent-Length: ", strlen(kBody), "\r\n\r\n", kBody);
  }
  ~Client() { ::close(fd_); }

  bool Call() {
    if (!ok_ || ::send(fd_, request_.data(), request_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request_.size())) {
      return false;
    }
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    const bool status_ok = buffer_.compare(9, 3, "200") == 0;
    size_t length = 0;
    const size_t cl = buffer_.find("Content-Length: ");
    if (cl == std::string::npos || cl > header_end) return false;
    absl::SimpleAtoi(buffer_.substr(cl + 16, buffer_.find("\r\n", cl) - cl - 16), &length);
    while (buffer_.size() < header_end + 4 + length) {
      if (!Fill()) return false;
    }
    const bool body_ok = buffer_.compare(header_end + 4, length, kAnswer) == 0;
    buffer_.erase(0, header_end + 4 + length);
    return status_ok && body_ok;
  }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool ok_ = false;
  std::string request_;
  std::string buffer_;
};

struct Result {
  double rps = 0;
  int64_t errors = 0;
};

// Runs `connections` threads for `seconds`; each makes its own connection with `make` and calls it
// until time is up.
Result Drive(int connections, double seconds, const std::function<std::function<bool()>()>& make) {
  std::atomic<int64_t> done{0}, errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      auto call = make();
      int64_t n = 0, e = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (call()) {
          ++n;
        } else {
          ++e;
        }
      }
      done += n;
      errors += e;
    });
  }
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  return {static_cast<double>(done.load()) / absl::ToDoubleSeconds(absl::Now() - start), errors.load()};
}

std::function<std::function<bool()>()> RestClient(int port) {
  return [port] {
    auto client = std::make_shared<Client>(port);
    return std::function<bool()>([client] { return client->Call(); });
  };
}

std::function<std::function<bool()>()> GrpcClient(int port) {
  return [port] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per client thread
    auto stub = std::shared_ptr<tfs::PredictionService::Stub>(tfs::PredictionService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args)));
    auto request = std::make_shared<tfs::PredictRequest>();
    request->mutable_model_spec()->set_name("half_plus_two");
    auto& x = (*request->mutable_inputs())["x"];
    x.set_dtype(tensorflow::DT_FLOAT);
    x.mutable_tensor_shape()->add_dim()->set_size(3);
    x.mutable_tensor_shape()->add_dim()->set_size(1);
    for (float v : {1.0f, 2.0f, 5.0f}) x.add_float_val(v);
    return std::function<bool()>([stub, request] {
      grpc::ClientContext context;
      tfs::PredictResponse response;
      grpc::Status s = stub->Predict(&context, *request, &response);
      return s.ok() && response.outputs().at("y").float_val_size() == 3 && response.outputs().at("y").float_val(2) == 4.5f;
    });
  };
}

// Parsing a 1M-float row-format body into a tensor (the SAX path the REST API uses) next to
// RapidJSON building a DOM of the same body (the step a DOM-based server does before it even starts
// converting): MB/s of JSON text.
void JsonParseBench() {
  std::string body = "{\"instances\": [";
  for (int i = 0; i < 1000000; ++i) absl::StrAppend(&body, i ? "," : "", "[", 0.001 * i - 17.5, "]");
  body.append("]}");
  std::vector<loader::TensorBinding> inputs(1);
  inputs[0].alias = "x";
  inputs[0].dtype = engine::DataType::kFloat;
  auto time = [&](const std::function<bool()>& f) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
      const absl::Time start = absl::Now();
      if (!f()) return -1.0;
      best = std::min(best, absl::ToDoubleSeconds(absl::Now() - start));
    }
    return static_cast<double>(body.size()) / 1e6 / best;
  };
  const double sax = time([&] { return server::ParseJsonPredictRequest(body, inputs, 1 << 30).ok(); });
  const double dom = time([&] {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseNanAndInfFlag>(body.data(), body.size());
    return !doc.HasParseError();
  });
  std::printf("JSON %.1f MB, 1M floats: parse into tensor %.0f MB/s; RapidJSON DOM alone %.0f MB/s (ratio %.2f)\n",
              static_cast<double>(body.size()) / 1e6, sax, dom, sax / dom);
}

int Main(int argc, char** argv) {
  double seconds = 2;
  std::vector<int> connections = {1, 8, 64};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg, &seconds)) return 2;
    } else if (absl::ConsumePrefix(&arg, "--connections=")) {
      connections.clear();
      for (absl::string_view c : absl::StrSplit(arg, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(c, &n) || n <= 0) return 2;
        connections.push_back(n);
      }
    } else {
      std::fprintf(stderr, "usage: rest_bench [--seconds=2] [--connections=1,8,64]\n");
      return 2;
    }
  }
  SetMinLogLevel(LogLevel::kWarning);
  auto model = testing::FixturePath("tfserving/saved_model_half_plus_two_cpu");
  std::string base_path = model.ok() ? model->string() : (testing::TestDataDir() / "half_plus_two").string();

  server::ServerOptions options;
  options.model_name = "half_plus_two";
  options.model_base_path = base_path;
  options.grpc_port = FreePort();
  options.rest_api_port = FreePort();
  server::Server server(options);
  server.SetRestFrontEndFactory(server::MakeRestFrontEnd);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "cannot start the server: %s\n", s.ToString().c_str());
    return 1;
  }
  server::HttpServerOptions static_options;
  static_options.address = "127.0.0.1";
  static_options.num_threads = options.rest_api_num_threads;
  server::HttpServer ceiling(static_options, [](const server::HttpRequest&, server::HttpResponse& res) {
    res.body = kAnswer;
  });
  if (absl::Status s = ceiling.Start(); !s.ok()) {
    std::fprintf(stderr, "cannot start the static server: %s\n", s.ToString().c_str());
    return 1;
  }

  std::printf("half_plus_two predict, %s, %.1f s per cell, %u cores, REST threads %d\n", base_path.c_str(), seconds,
              std::thread::hardware_concurrency(), options.rest_api_num_threads);
  std::printf("%11s %12s %12s %12s %10s %12s\n", "connections", "rest req/s", "grpc req/s", "static req/s",
              "rest/grpc", "rest/static");
  bool goal = true;
  for (int c : connections) {
    Drive(c, 0.3, RestClient(server.rest_port()));  // warm up
    const Result rest = Drive(c, seconds, RestClient(server.rest_port()));
    const Result grpc = Drive(c, seconds, GrpcClient(server.grpc_port()));
    const Result ceiling_result = Drive(c, seconds, RestClient(ceiling.port()));
    std::printf("%11d %12.0f %12.0f %12.0f %10.2f %12.2f\n", c, rest.rps, grpc.rps, ceiling_result.rps,
                rest.rps / grpc.rps, rest.rps / ceiling_result.rps);
    if (rest.errors + grpc.errors + ceiling_result.errors > 0) {
      std::printf("%11s errors: rest %lld grpc %lld static %lld\n", "", static_cast<long long>(rest.errors),
                  static_cast<long long>(grpc.errors), static_cast<long long>(ceiling_result.errors));
    }
    goal &= rest.rps * 1.5 >= grpc.rps;
  }
  std::printf("goal (rest within 1.5x of grpc at every connection count): %s\n", goal ? "met" : "NOT met");
  JsonParseBench();
  ceiling.Shutdown(absl::Now() + absl::Seconds(2));
  server.Shutdown();
  return 0;
}

}  // namespace
}  // namespace savant

int main(int argc, char** argv) { return savant::Main(argc, argv); }
