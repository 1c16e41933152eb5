#include "server/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace savant::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// One sample line of the text exposition format: name{label="value",...} number.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the page as a Prometheus scraper would; a line that is neither a comment nor a valid
// sample fails the test.
std::vector<Sample> ParseExposition(const std::string& page) {
  static const std::regex kLine(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  std::vector<Sample> samples;
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    Sample sample;
    sample.name = m[1];
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), kLabel), end; it != end; ++it) {
      sample.labels[(*it)[1]] = (*it)[2];
    }
    const std::string value = m[4];
    if (value == "+Inf") {
      sample.value = INFINITY;
    } else if (!absl::SimpleAtod(value, &sample.value)) {
      ADD_FAILURE() << "bad value in: " << line;
    }
    samples.push_back(sample);
  }
  return samples;
}

// The value of the one sample named `name` whose labels include `labels`; nullopt when there is
// none (more than one is a test failure).
std::optional<double> Value(const std::vector<Sample>& samples, const std::string& name,
                            const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (!match) continue;
    EXPECT_FALSE(found.has_value()) << "two samples of " << name << " match";
    found = s.value;
  }
  return found;
}

int CountSamples(const std::vector<Sample>& samples, const std::string& name) {
  int n = 0;
  for (const Sample& s : samples) n += s.name == name;
  return n;
}

TEST(MetricsTest, CountsRequestsByEveryLabel) {
  Metrics metrics;
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "predict", "grpc", absl::StatusCode::kOk,
                        absl::Microseconds(80));
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "predict", "grpc", absl::StatusCode::kOk,
                        absl::Microseconds(80));
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "predict", "rest", absl::StatusCode::kOk,
                        absl::Microseconds(80));
  metrics.RecordRequest("half_plus_two", 7, "serving_default", "predict", "grpc", absl::StatusCode::kNotFound,
                        absl::Microseconds(20));
  const auto samples = ParseExposition(metrics.RenderPrometheusText());

  const std::map<std::string, std::string> ok_grpc = {{"model", "half_plus_two"}, {"version", "123"},
                                                      {"signature", "serving_default"}, {"api", "predict"},
                                                      {"protocol", "grpc"}, {"code", "OK"}};
  EXPECT_EQ(Value(samples, "savant_requests_total", ok_grpc), 2);
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"protocol", "rest"}}), 1);
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"version", "7"}, {"code", "NOT_FOUND"}}), 1);
  EXPECT_EQ(CountSamples(samples, "savant_requests_total"), 3);
  EXPECT_EQ(Value(samples, "savant_request_duration_seconds_count", ok_grpc), 2);
  EXPECT_DOUBLE_EQ(*Value(samples, "savant_request_duration_seconds_sum", ok_grpc), 160e-6);
  // 80us lies above the 50us bucket and within the 100us one (25us doubling).
  auto bucket = ok_grpc;
  bucket["le"] = "5e-05";
  EXPECT_EQ(Value(samples, "savant_request_duration_seconds_bucket", bucket), 0);
  bucket["le"] = "0.0001";
  EXPECT_EQ(Value(samples, "savant_request_duration_seconds_bucket", bucket), 2);
  bucket["le"] = "+Inf";
  EXPECT_EQ(Value(samples, "savant_request_duration_seconds_bucket", bucket), 2);
}

// TensorFlow Serving's request metrics (servables/tensorflow/util.cc and
// model_servers/prediction_service_impl.cc): request_count{model_name,status} counts every
// Predict/Classify/Regress; request_latency{model_name,API,entrypoint} holds successful requests in
// microseconds, buckets 10 * 1.8^i.
TEST(MetricsTest, ExportsTensorFlowServingRequestMetrics) {
  Metrics metrics;
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "predict", "grpc", absl::StatusCode::kOk,
                        absl::Microseconds(80));
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "predict", "grpc", absl::StatusCode::kOk,
                        absl::Microseconds(80));
  metrics.RecordRequest("half_plus_two", 123, "serving_default", "regress", "rest", absl::StatusCode::kOk,
                        absl::Microseconds(5));
  metrics.RecordRequest("half_plus_two", 0, "serving_default", "predict", "grpc",
                        absl::StatusCode::kInvalidArgument, absl::Microseconds(20));
  metrics.RecordRequest("half_plus_two", 123, "", "get_model_metadata", "grpc", absl::StatusCode::kOk,
                        absl::Microseconds(20));
  const std::string page = metrics.RenderPrometheusText();
  const auto samples = ParseExposition(page);

  EXPECT_THAT(page, HasSubstr("# TYPE :tensorflow:serving:request_count counter"));
  EXPECT_THAT(page, HasSubstr("# TYPE :tensorflow:serving:request_latency histogram"));
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_count", {{"model_name", "half_plus_two"}, {"status", "OK"}}),
            3);
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_count",
                  {{"model_name", "half_plus_two"}, {"status", "INVALID_ARGUMENT"}}),
            1);
  const std::map<std::string, std::string> predict = {
      {"model_name", "half_plus_two"}, {"API", "Predict"}, {"entrypoint", "GRPC"}};
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_latency_count", predict), 2);
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_latency_sum", predict), 160);
  // Limits 10, 18, 32.4, 58.32, 104.976, ... : 80us falls in (58.32, 104.976].
  auto bucket = predict;
  bucket["le"] = "58.32";
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_latency_bucket", bucket), 0);
  bucket["le"] = "104.976";
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_latency_bucket", bucket), 2);
  // 33 limits plus +Inf.
  int buckets = 0;
  for (const Sample& s : samples) {
    if (s.name == ":tensorflow:serving:request_latency_bucket" && s.labels.at("API") == "Predict") ++buckets;
  }
  EXPECT_EQ(buckets, 34);
  EXPECT_EQ(Value(samples, ":tensorflow:serving:request_latency_count",
                  {{"API", "Regress"}, {"entrypoint", "REST"}}),
            1);
  // Only Predict and Regress are recorded under TensorFlow Serving's names here.
  EXPECT_EQ(CountSamples(samples, ":tensorflow:serving:request_count"), 2);
}

TEST(MetricsTest, UnknownVersionIsAnEmptyLabel) {
  Metrics metrics;
  metrics.RecordRequest("nope", 0, "serving_default", "predict", "grpc", absl::StatusCode::kNotFound,
                        absl::Microseconds(3));
  const auto samples = ParseExposition(metrics.RenderPrometheusText());
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"model", "nope"}, {"version", ""}}), 1);
}

TEST(MetricsTest, FoldsModelsBeyondTheSeriesCapIntoOne) {
  Metrics metrics;
  for (int i = 0; i < kMaxRequestSeries + 10; ++i) {
    metrics.RecordRequest(absl::StrCat("m", i), 1, "serving_default", "predict", "grpc", absl::StatusCode::kNotFound,
                          absl::Microseconds(1));
  }
  // Seen label sets keep counting under their own name.
  metrics.RecordRequest("m0", 1, "serving_default", "predict", "grpc", absl::StatusCode::kNotFound,
                        absl::Microseconds(1));
  const auto samples = ParseExposition(metrics.RenderPrometheusText());
  EXPECT_EQ(CountSamples(samples, "savant_requests_total"), kMaxRequestSeries + 1);
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"model", kOverflowModel}}), 10);
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"model", "m0"}}), 2);
  EXPECT_EQ(Value(samples, "savant_requests_total", {{"model", absl::StrCat("m", kMaxRequestSeries)}}), std::nullopt);
}

TEST(MetricsTest, ModelLoadsAndWarmups) {
  Metrics metrics;
  metrics.RecordModelLoad("half_plus_two", 123, "/models/half_plus_two/123", absl::OkStatus(),
                          absl::Milliseconds(1500));
  metrics.RecordModelLoad("half_plus_two", 124, "/models/half_plus_two/124",
                          absl::DataLossError("truncated variables"), absl::Milliseconds(3));
  metrics.RecordWarmup("half_plus_two", 123, "/models/half_plus_two/123", absl::OkStatus(), absl::Milliseconds(2));
  const auto samples = ParseExposition(metrics.RenderPrometheusText());

  EXPECT_EQ(Value(samples, ":tensorflow:cc:saved_model:load_latency", {{"model_path", "/models/half_plus_two/123"}}),
            1500000);
  EXPECT_EQ(Value(samples, ":tensorflow:cc:saved_model:load_latency", {{"model_path", "/models/half_plus_two/124"}}),
            std::nullopt);
  EXPECT_EQ(Value(samples, ":tensorflow:cc:saved_model:load_attempt_count",
                  {{"model_path", "/models/half_plus_two/123"}, {"status", "success"}}),
            1);
  EXPECT_EQ(Value(samples, ":tensorflow:cc:saved_model:load_attempt_count",
                  {{"model_path", "/models/half_plus_two/124"}, {"status", "fail"}}),
            1);
  EXPECT_EQ(Value(samples, "savant_model_loads_total", {{"model", "half_plus_two"}, {"code", "OK"}}), 1);
  EXPECT_EQ(Value(samples, "savant_model_loads_total", {{"model", "half_plus_two"}, {"code", "DATA_LOSS"}}), 1);
  EXPECT_EQ(Value(samples, "savant_model_load_duration_seconds_sum", {{"model", "half_plus_two"}}), 1.5);
  EXPECT_EQ(Value(samples, ":tensorflow:serving:model_warmup_latency_sum",
                  {{"model_path", "/models/half_plus_two/123"}, {"status", "OK"}}),
            2000);
  EXPECT_EQ(Value(samples, "savant_model_warmup_duration_seconds_count", {{"model", "half_plus_two"}}), 1);
}

TEST(MetricsTest, VersionStateKeepsOnlyTheCurrentState) {
  Metrics metrics;
  metrics.SetVersionState("half_plus_two", 123, "LOADING");
  metrics.SetVersionState("half_plus_two", 124, "LOADING");
  metrics.SetVersionState("half_plus_two", 123, "AVAILABLE");
  auto samples = ParseExposition(metrics.RenderPrometheusText());
  EXPECT_EQ(CountSamples(samples, "savant_model_version_state"), 2);
  EXPECT_EQ(Value(samples, "savant_model_version_state", {{"version", "123"}, {"state", "AVAILABLE"}}), 1);
  EXPECT_EQ(Value(samples, "savant_model_version_state", {{"version", "123"}, {"state", "LOADING"}}), std::nullopt);
  EXPECT_EQ(Value(samples, "savant_model_version_state", {{"version", "124"}, {"state", "LOADING"}}), 1);

  metrics.RemoveVersion("half_plus_two", 124);
  metrics.RemoveVersion("half_plus_two", 999);  // unknown: nothing happens
  samples = ParseExposition(metrics.RenderPrometheusText());
  EXPECT_EQ(CountSamples(samples, "savant_model_version_state"), 1);
}

TEST(MetricsTest, BatchSizeAndQueueTime) {
  Metrics metrics;
  metrics.RecordBatch("half_plus_two", 3, absl::Microseconds(300));
  metrics.RecordBatch("half_plus_two", 8, absl::Microseconds(100));
  const auto samples = ParseExposition(metrics.RenderPrometheusText());
  EXPECT_EQ(Value(samples, "savant_batch_size_sum", {{"model", "half_plus_two"}}), 11);
  EXPECT_EQ(Value(samples, "savant_batch_size_bucket", {{"model", "half_plus_two"}, {"le", "2"}}), 0);
  EXPECT_EQ(Value(samples, "savant_batch_size_bucket", {{"model", "half_plus_two"}, {"le", "4"}}), 1);
  EXPECT_EQ(Value(samples, "savant_batch_size_bucket", {{"model", "half_plus_two"}, {"le", "8"}}), 2);
  EXPECT_DOUBLE_EQ(*Value(samples, "savant_batch_queue_duration_seconds_sum", {{"model", "half_plus_two"}}), 400e-6);
}

TEST(MetricsTest, ProcessMetricsFollowTheProcess) {
  Metrics metrics;
  const auto before = ParseExposition(metrics.RenderPrometheusText());
  const int fd = open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  const auto during = ParseExposition(metrics.RenderPrometheusText());
  close(fd);
  EXPECT_EQ(*Value(during, "process_open_fds", {}), *Value(before, "process_open_fds", {}) + 1);

  const double now = static_cast<double>(std::time(nullptr));
  const double start = *Value(before, "process_start_time_seconds", {});
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // this test binary started within the hour

  // /proc/self/statm's second field is the resident set in pages, as the exporter reads it.
  long pages_total = 0, pages_resident = 0;
  FILE* statm = fopen("/proc/self/statm", "r");
  ASSERT_NE(statm, nullptr);
  ASSERT_EQ(fscanf(statm, "%ld %ld", &pages_total, &pages_resident), 2);
  fclose(statm);
  const double resident = *Value(before, "process_resident_memory_bytes", {});
  EXPECT_GT(resident, 1 << 20);
  EXPECT_NEAR(resident, static_cast<double>(pages_resident) * sysconf(_SC_PAGESIZE), 64 << 20);
  EXPECT_GE(*Value(before, "process_cpu_seconds_total", {}), 0);
  EXPECT_GT(*Value(before, "process_max_fds", {}), 0);
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics metrics;
  metrics.RecordRequest("we\"ird\\name", 1, "sig", "predict", "grpc", absl::StatusCode::kNotFound,
                        absl::Microseconds(1));
  const std::string page = metrics.RenderPrometheusText();
  EXPECT_THAT(page, HasSubstr(R"(model="we\"ird\\name")"));
  EXPECT_THAT(page, Not(HasSubstr("we\"ird")));
}

TEST(MetricsTest, GlobalIsOneInstance) { EXPECT_EQ(&Metrics::Global(), &Metrics::Global()); }

}  // namespace
}  // namespace savant::server
