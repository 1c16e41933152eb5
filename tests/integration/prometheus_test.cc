// A real Prometheus server scrapes the real `savant` binary. Savant serves its metrics on the REST
// port at the path from --monitoring_config_file (TensorFlow Serving's own monitoring_config.txt
// fixture); the test starts /usr/bin/prometheus (Debian package `prometheus`) on loopback with a
// 1s scrape interval, sends a known number of Predict requests, and reads Prometheus's HTTP API
// (/api/v1/targets, /api/v1/query): the target is up and the request counters grew by exactly the
// number of requests sent. Skipped when Prometheus or the fixtures are missing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/fixtures.h"

namespace savant::testing {
namespace {

namespace fs = std::filesystem;
namespace tfs = tensorflow::serving;
using ::testing::ElementsAre;
using ::testing::FloatEq;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One HTTP/1.0 exchange with 127.0.0.1:`port` (HTTP/1.0 so that the answer is never chunked and
// ends when the connection closes).
absl::StatusOr<HttpResponse> Http(int port, const std::string& method, const std::string& target,
                                  const std::string& body = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
  }
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.0\r\nHost: 127.0.0.1:", port,
                                     "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                                     "\r\n\r\n", body);
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError("send failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[8192];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) raw.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  const size_t header_end = raw.find("\r\n\r\n");
  HttpResponse response;
  if (header_end == std::string::npos || std::sscanf(raw.c_str(), "HTTP/%*s %d", &response.status) != 1) {
    return absl::UnavailableError(absl::StrCat("malformed HTTP answer from port ", port, ": ", raw.substr(0, 200)));
  }
  response.body = raw.substr(header_end + 4);
  return response;
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// /usr/bin/prometheus as a child process; SIGTERM and reaped on destruction.
class PrometheusProcess {
 public:
  PrometheusProcess(const fs::path& dir, int listen_port, int target_port, const std::string& metrics_path)
      : port_(listen_port), log_(dir / "prometheus.log") {
    const fs::path config = dir / "prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                          << "scrape_configs:\n  - job_name: savant\n    metrics_path: " << metrics_path
                          << "\n    static_configs:\n      - targets: ['127.0.0.1:" << target_port << "']\n";
    std::vector<std::string> argv = {kPrometheus,
                                     "--config.file=" + config.string(),
                                     "--storage.tsdb.path=" + (dir / "tsdb").string(),
                                     absl::StrCat("--web.listen-address=127.0.0.1:", listen_port),
                                     "--log.level=warn"};
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    ::close(log_fd);
  }

  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  int port() const { return port_; }

  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The "data" member of an API answer; errors carry Prometheus's own "error" text.
  absl::StatusOr<rapidjson::Document> Api(const std::string& target) const {
    auto response = Http(port_, "GET", target);
    if (!response.ok()) return response.status();
    rapidjson::Document doc;
    doc.Parse(response->body.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("status")) {
      return absl::UnavailableError(absl::StrCat("HTTP ", response->status, ": ", response->body.substr(0, 300)));
    }
    if (std::string(doc["status"].GetString()) != "success") {
      return absl::UnavailableError(absl::StrCat("prometheus: ", response->body.substr(0, 300)));
    }
    return doc;
  }

  // The value of an instant vector query with at most one series; 0 when it has none yet (a
  // counter that was never incremented does not exist).
  absl::StatusOr<double> Query(const std::string& promql) const {
    std::string escaped;
    for (unsigned char c : promql) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-') {
        escaped += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof(hex), "%%%02X", c);
        escaped += hex;
      }
    }
    auto doc = Api("/api/v1/query?query=" + escaped);
    if (!doc.ok()) return doc.status();
    const auto& result = (*doc)["data"]["result"];
    if (result.Size() == 0) return 0.0;
    if (result.Size() > 1)
      return absl::FailedPreconditionError(
          absl::StrCat(promql, " matched ", result.Size(), " series"));
    double value = 0;
    if (!absl::SimpleAtod(result[0]["value"][1].GetString(), &value))
      return absl::InternalError("bad sample value");
    return value;
  }

 private:
  int port_;
  fs::path log_;
  pid_t pid_ = -1;
};

// Polls `promql` until it equals `want` (Prometheus scrapes every second) and remembers it;
// ExpectStillReached() later checks that none of the remembered values moved on: "exactly", not
// "at least".
class Expectations {
 public:
  explicit Expectations(const PrometheusProcess& prometheus) : prometheus_(prometheus) {}

  void Reaches(const std::string& promql, double want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    absl::StatusOr<double> value = 0.0;
    while (absl::Now() < deadline) {
      value = prometheus_.Query(promql);
      if (value.ok() && *value == want) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    ASSERT_TRUE(value.ok()) << promql << ": " << value.status();
    ASSERT_EQ(*value, want) << promql;
    std::erase_if(reached_, [&](const auto& entry) { return entry.first == promql; });
    reached_.emplace_back(promql, want);
  }

  // After three more scrapes.
  void ExpectStillReached() const {
    absl::SleepFor(absl::Seconds(3));
    for (const auto& [promql, want] : reached_) {
      auto value = prometheus_.Query(promql);
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(*value, want) << promql << " changed after it reached the expected value";
    }
  }

 private:
  const PrometheusProcess& prometheus_;
  std::vector<std::pair<std::string, double>> reached_;
};

TEST(PrometheusTest, ScrapesRequestCountersThatGrowByExactlyTheRequestsSent) {
  if (!fs::exists(kPrometheus))
    GTEST_SKIP() << kPrometheus << " is missing (Debian package `prometheus`)";
  SAVANT_FIXTURE_OR_SKIP(model, "tfserving/saved_model_half_plus_two_cpu");
  SAVANT_FIXTURE_OR_SKIP(monitoring, "tfserving/monitoring_config.txt");
  const fs::path dir = MakeTempDir("prometheus_test");
  CopyTree(model, dir / "models" / "half_plus_two");

  auto server =
      ServerProcess::Start({"--model_name=half_plus_two",
                            "--model_base_path=" + (dir / "models" / "half_plus_two").string(),
                            "--monitoring_config_file=" + monitoring.string(),
                            // --rest_api_port=0 disables REST, as in TensorFlow Serving.
                            absl::StrCat("--rest_api_port=", FreeLoopbackPort())},
                           dir);
  ASSERT_TRUE(server.ok()) << server.status();
  const int rest_port = (*server)->rest_port();
  ASSERT_NE(rest_port, 0) << "savant serves no REST port, so there is nothing to scrape:\n"
                          << (*server)->log();
  const std::string metrics_path = "/monitoring/prometheus/metrics";  // the fixture's path
  auto page = Http(rest_port, "GET", metrics_path);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->status, 200) << page->body.substr(0, 300);

  PrometheusProcess prometheus(dir, FreeLoopbackPort(), rest_port, metrics_path);
  // The target is up once Prometheus has scraped it successfully.
  std::string health;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && health != "up") {
    auto targets = prometheus.Api("/api/v1/targets");
    if (targets.ok()) {
      // Empty until service discovery has synced, then the one static target.
      const auto& active = (*targets)["data"]["activeTargets"];
      ASSERT_LE(active.Size(), 1u);
      if (active.Size() == 1) {
        health = active[0]["health"].GetString();
        EXPECT_EQ(std::string(active[0]["scrapeUrl"].GetString()),
                  absl::StrCat("http://127.0.0.1:", rest_port, metrics_path));
      }
    }
    if (health != "up") absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_EQ(health, "up") << "prometheus log:\n"
                          << prometheus.log() << "\nsavant log:\n"
                          << (*server)->log();
  ASSERT_TRUE(prometheus.Query("up{job=\"savant\"}").ok());
  EXPECT_EQ(*prometheus.Query("up{job=\"savant\"}"), 1);

  const std::string grpc_ok =
      R"(savant_requests_total{model="half_plus_two",version="123",signature="serving_default",api="predict",protocol="grpc",code="OK"})";
  const std::string grpc_not_found =
      R"(savant_requests_total{model="half_plus_two",api="predict",protocol="grpc",code="NOT_FOUND"})";
  const std::string tf_ok =
      R"({__name__=":tensorflow:serving:request_count",model_name="half_plus_two",status="OK"})";
  const std::string tf_not_found =
      R"({__name__=":tensorflow:serving:request_count",model_name="half_plus_two",status="NOT_FOUND"})";

  // A first batch, seen by Prometheus before the second is sent, so the test measures growth
  // between two scraped values rather than from a missing series.
  auto stub = tfs::PredictionService::NewStub((*server)->channel());
  auto predict = [&](std::optional<int64_t> version) {
    tfs::PredictRequest request;
    request.mutable_model_spec()->set_name("half_plus_two");
    if (version) request.mutable_model_spec()->mutable_version()->set_value(*version);
    (*request.mutable_inputs())["x"] = FloatColumn({1, 2, 5});
    tfs::PredictResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub->Predict(&context, request, &response);
    if (status.ok()) {
      // half_plus_two: y = 0.5x + 2.
      EXPECT_THAT(Floats(response.outputs().at("y")),
                  ElementsAre(FloatEq(2.5f), FloatEq(3), FloatEq(4.5f)));
    }
    return status.error_code();
  };
  Expectations expect(prometheus);
  constexpr int kFirst = 3;
  for (int i = 0; i < kFirst; ++i) ASSERT_EQ(predict(std::nullopt), grpc::StatusCode::OK);
  expect.Reaches(grpc_ok, kFirst);
  const double tf_before = *prometheus.Query(tf_ok);

  constexpr int kOk = 50;
  constexpr int kMissing = 7;  // version 7 does not exist: NOT_FOUND
  for (int i = 0; i < kOk; ++i) ASSERT_EQ(predict(std::nullopt), grpc::StatusCode::OK);
  for (int i = 0; i < kMissing; ++i) ASSERT_EQ(predict(7), grpc::StatusCode::NOT_FOUND);
  expect.Reaches(grpc_ok, kFirst + kOk);
  expect.Reaches(grpc_not_found, kMissing);
  expect.Reaches(tf_ok, tf_before + kOk);
  expect.Reaches(tf_not_found, kMissing);
  // The latency histogram saw every successful gRPC Predict.
  expect.Reaches(
      R"(sum(savant_request_duration_seconds_count{model="half_plus_two",api="predict",protocol="grpc",code="OK"}))",
      kFirst + kOk);

  // REST Predict is counted under protocol "rest".
  constexpr int kRest = 20;
  for (int i = 0; i < kRest; ++i) {
    auto response = Http(rest_port, "POST", "/v1/models/half_plus_two:predict",
                         R"({"instances": [[1.0], [2.0], [5.0]]})");
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->status, 200) << response->body;
    rapidjson::Document body;
    body.Parse(response->body.c_str());
    ASSERT_TRUE(!body.HasParseError() && body.IsObject() && body.HasMember("predictions"))
        << response->body;
    const auto& predictions = body["predictions"];
    ASSERT_EQ(predictions.Size(), 3u) << response->body;
    EXPECT_EQ(predictions[0][0].GetDouble(), 2.5);
    EXPECT_EQ(predictions[1][0].GetDouble(), 3.0);
    EXPECT_EQ(predictions[2][0].GetDouble(), 4.5);
  }
  expect.Reaches(
      R"(sum(savant_requests_total{model="half_plus_two",api="predict",protocol="rest",code="OK"}))",
      kRest);
  expect.Reaches(tf_ok, tf_before + kOk + kRest);

  expect.ExpectStillReached();

  // Model state and process metrics arrive through the same scrape.
  EXPECT_EQ(
      *prometheus.Query(
          R"(savant_model_version_state{model="half_plus_two",version="123",state="AVAILABLE"})"),
      1);
  auto resident = prometheus.Query(R"(process_resident_memory_bytes{job="savant"})");
  ASSERT_TRUE(resident.ok());
  EXPECT_GT(*resident, 1 << 20);
  auto started = prometheus.Query(R"(process_start_time_seconds{job="savant"})");
  ASSERT_TRUE(started.ok());
  EXPECT_NEAR(*started, absl::ToUnixSeconds(absl::Now()), 600);
}

}  // namespace
}  // namespace savant::testing
