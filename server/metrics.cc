#include "server/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace savant::server {
namespace {

using prometheus::Histogram;

// TensorFlow's monitoring::Buckets::Exponential(scale, growth, count): limits scale * growth^i for
// i < count (the sampler adds DBL_MAX, exported as +Inf). Each limit is rounded to six significant
// digits, the precision TensorFlow Serving's exporter prints them with, so the `le` labels match
// tensorflow_model_server's page.
Histogram::BucketBoundaries TensorFlowExponentialBuckets(double scale, double growth, int count) {
  Histogram::BucketBoundaries limits;
  double bound = scale;
  for (int i = 0; i < count; ++i) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.6g", bound);
    limits.push_back(std::strtod(text, nullptr));
    bound *= growth;
  }
  return limits;
}

// Request latency in seconds: 25us to ~26s, doubling; serving latencies on CPU start in the tens of
// microseconds.
Histogram::BucketBoundaries RequestSecondsBuckets() {
  Histogram::BucketBoundaries limits;
  for (double bound = 25e-6; bound < 30; bound *= 2) limits.push_back(bound);
  return limits;
}

// Load and warmup times: 10ms to ~20min.
Histogram::BucketBoundaries LifecycleSecondsBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1200};
}

Histogram::BucketBoundaries BatchSizeBuckets() {
  Histogram::BucketBoundaries limits;
  for (double bound = 1; bound <= 1024; bound *= 2) limits.push_back(bound);
  return limits;
}

std::string VersionLabel(int64_t version) { return version > 0 ? absl::StrCat(version) : std::string(); }

// TensorFlow Serving's API label for the methods it records latency for; "" for the others.
absl::string_view TensorFlowApiName(absl::string_view api) {
  if (api == "predict") return "Predict";
  if (api == "classify") return "Classify";
  if (api == "regress") return "Regress";
  return "";
}

std::string TensorFlowEntrypoint(absl::string_view protocol) {
  std::string upper(protocol);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

prometheus::MetricFamily ScalarFamily(const std::string& name, const std::string& help, prometheus::MetricType type,
                                      double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// The standard process_* metrics (the names every Prometheus client library uses), from
// /proc/self/stat (fields after the command name: utime, stime and starttime in clock ticks, vsize
// in bytes, rss in pages), /proc/stat's btime and /proc/self/fd. Families whose source cannot be
// read are left out.
std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));

  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos && ticks > 0) {
    // Field 3 (state) is the first after ") ".
    std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
    auto field = [&](int number) -> double {  // 1-based field numbers as in proc(5)
      double value = 0;
      const int index = number - 3;
      if (index < 0 || index >= static_cast<int>(fields.size())) return 0;
      return absl::SimpleAtod(fields[index], &value) ? value : 0;
    };
    families.push_back(ScalarFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                    MetricType::Counter, (field(14) + field(15)) / ticks));
    families.push_back(ScalarFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
                                    field(23)));
    families.push_back(ScalarFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                                    MetricType::Gauge, field(24) * page_size));
    std::ifstream proc_stat("/proc/stat");
    std::string line;
    while (std::getline(proc_stat, line)) {
      double boot_time = 0;
      if (line.rfind("btime ", 0) == 0 && absl::SimpleAtod(absl::string_view(line).substr(6), &boot_time)) {
        families.push_back(ScalarFamily("process_start_time_seconds",
                                        "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                                        boot_time + field(22) / ticks));
        break;
      }
    }
  }

  if (DIR* dir = opendir("/proc/self/fd")) {
    int count = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    // The directory stream itself holds one descriptor while it is read.
    families.push_back(
        ScalarFamily("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, count - 1));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    families.push_back(ScalarFamily("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                                    static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace

// The series one label set of RecordRequest updates; the TensorFlow Serving cells are null for
// APIs it does not record.
struct Metrics::RequestCells {
  prometheus::Counter* requests = nullptr;
  prometheus::Histogram* duration = nullptr;
  prometheus::Counter* tf_count = nullptr;
  prometheus::Histogram* tf_latency = nullptr;  // only when the code is OK
};

Metrics& Metrics::Global() {
  static Metrics* const metrics = new Metrics();
  return *metrics;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  requests_ = &prometheus::BuildCounter()
                   .Name("savant_requests_total")
                   .Help("Requests finished, by model, version, signature, API, protocol and status code.")
                   .Register(r);
  request_duration_ = &prometheus::BuildHistogram()
                           .Name("savant_request_duration_seconds")
                           .Help("Wall time from a request's arrival to its response, in seconds.")
                           .Register(r);
  tf_request_count_ = &prometheus::BuildCounter()
                           .Name(":tensorflow:serving:request_count")
                           .Help("The total number of requests.")
                           .Register(r);
  tf_request_latency_ = &prometheus::BuildHistogram()
                             .Name(":tensorflow:serving:request_latency")
                             .Help("Distribution of wall time (in microseconds) for Tensorflow Serving request.")
                             .Register(r);
  model_loads_ = &prometheus::BuildCounter()
                      .Name("savant_model_loads_total")
                      .Help("Model version load attempts, by model and status code.")
                      .Register(r);
  model_load_duration_ = &prometheus::BuildHistogram()
                              .Name("savant_model_load_duration_seconds")
                              .Help("Time to read and compile a model version that loaded, in seconds.")
                              .Register(r);
  tf_load_attempt_count_ = &prometheus::BuildCounter()
                                .Name(":tensorflow:cc:saved_model:load_attempt_count")
                                .Help("The number of times a SavedModel was successfully loaded.")
                                .Register(r);
  tf_load_latency_ = &prometheus::BuildCounter()
                          .Name(":tensorflow:cc:saved_model:load_latency")
                          .Help("Latency in microseconds for SavedModels that were successfully loaded.")
                          .Register(r);
  model_warmup_duration_ = &prometheus::BuildHistogram()
                                .Name("savant_model_warmup_duration_seconds")
                                .Help("Time to replay a version's warmup requests, in seconds.")
                                .Register(r);
  tf_warmup_latency_ = &prometheus::BuildHistogram()
                            .Name(":tensorflow:serving:model_warmup_latency")
                            .Help("Distribution of wall time (in microseconds) for warming up the model.")
                            .Register(r);
  version_state_ = &prometheus::BuildGauge()
                        .Name("savant_model_version_state")
                        .Help("1 for the GetModelStatus state each model version is in.")
                        .Register(r);
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("savant_batch_size")
                     .Help("Requests per batch run by the batching queue.")
                     .Register(r);
  batch_queue_duration_ = &prometheus::BuildHistogram()
                               .Name("savant_batch_queue_duration_seconds")
                               .Help("Time the oldest request of a batch waited in the queue, in seconds.")
                               .Register(r);
}

Metrics::~Metrics() = default;

Metrics::RequestCells& Metrics::CellsFor(absl::string_view model, int64_t version, absl::string_view signature,
                                         absl::string_view api, absl::string_view protocol, absl::StatusCode code) {
  // One allocation-free lookup per request once the thread's key buffer has grown.
  thread_local std::string key;
  auto make_key = [&](absl::string_view m, int64_t v, absl::string_view s) {
    const absl::string_view sep("\0", 1);
    key.clear();
    absl::StrAppend(&key, m, sep, v, sep, s, sep, api, sep, protocol, sep, static_cast<int>(code));
  };
  make_key(model, version, signature);
  {
    std::shared_lock lock(mu_);
    auto it = request_cells_.find(key);
    if (it != request_cells_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  if (static_cast<int>(request_cells_.size()) >= kMaxRequestSeries) {
    model = kOverflowModel;
    version = 0;
    signature = "";
    make_key(model, version, signature);
  }
  auto it = request_cells_.find(key);
  if (it != request_cells_.end()) return *it->second;

  const std::string model_label(model);
  const std::string code_label = absl::StatusCodeToString(code);
  auto cells = std::make_unique<RequestCells>();
  const prometheus::Labels labels = {{"model", model_label},
                                     {"version", VersionLabel(version)},
                                     {"signature", std::string(signature)},
                                     {"api", std::string(api)},
                                     {"protocol", std::string(protocol)},
                                     {"code", code_label}};
  cells->requests = &requests_->Add(labels);
  cells->duration = &request_duration_->Add(labels, RequestSecondsBuckets());
  const absl::string_view tf_api = TensorFlowApiName(api);
  if (!tf_api.empty()) {
    cells->tf_count = &tf_request_count_->Add({{"model_name", model_label}, {"status", code_label}});
    if (code == absl::StatusCode::kOk) {
      cells->tf_latency = &tf_request_latency_->Add(
          {{"model_name", model_label}, {"API", std::string(tf_api)}, {"entrypoint", TensorFlowEntrypoint(protocol)}},
          TensorFlowExponentialBuckets(10, 1.8, 33));
    }
  }
  RequestCells& result = *cells;
  request_cells_.emplace(key, std::move(cells));
  return result;
}

void Metrics::RecordRequest(absl::string_view model, int64_t version, absl::string_view signature,
                            absl::string_view api, absl::string_view protocol, absl::StatusCode code,
                            absl::Duration latency) {
  RequestCells& cells = CellsFor(model, version, signature, api, protocol, code);
  cells.requests->Increment();
  cells.duration->Observe(absl::ToDoubleSeconds(latency));
  if (cells.tf_count != nullptr) cells.tf_count->Increment();
  if (cells.tf_latency != nullptr) cells.tf_latency->Observe(absl::ToDoubleMicroseconds(latency));
}

void Metrics::RecordModelLoad(absl::string_view model, int64_t /*version*/, absl::string_view path,
                              const absl::Status& status, absl::Duration latency) {
  const std::string model_label(model);
  const std::string path_label(path);
  model_loads_->Add({{"model", model_label}, {"code", absl::StatusCodeToString(status.code())}}).Increment();
  tf_load_attempt_count_->Add({{"model_path", path_label}, {"status", status.ok() ? "success" : "fail"}})
      .Increment();
  if (status.ok()) {
    model_load_duration_->Add({{"model", model_label}}, LifecycleSecondsBuckets())
        .Observe(absl::ToDoubleSeconds(latency));
    tf_load_latency_->Add({{"model_path", path_label}}).Increment(std::floor(absl::ToDoubleMicroseconds(latency)));
  }
}

void Metrics::RecordWarmup(absl::string_view model, int64_t /*version*/, absl::string_view path,
                           const absl::Status& status, absl::Duration latency) {
  model_warmup_duration_->Add({{"model", std::string(model)}, {"code", absl::StatusCodeToString(status.code())}},
                              LifecycleSecondsBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
  // TensorFlow Serving labels the status with its text ("OK" or the error).
  tf_warmup_latency_->Add({{"model_path", std::string(path)}, {"status", status.ok() ? "OK" : status.ToString()}},
                          TensorFlowExponentialBuckets(10, 1.8, 33))
      .Observe(absl::ToDoubleMicroseconds(latency));
}

void Metrics::SetVersionState(absl::string_view model, int64_t version, absl::string_view state) {
  const std::string key = absl::StrCat(model, absl::string_view("\0", 1), version);
  std::unique_lock lock(mu_);
  prometheus::Gauge& gauge =
      version_state_->Add({{"model", std::string(model)}, {"version", VersionLabel(version)}, {"state", std::string(state)}});
  auto [it, inserted] = version_state_cells_.emplace(key, &gauge);
  if (!inserted && it->second != &gauge) {
    version_state_->Remove(it->second);
    it->second = &gauge;
  }
  gauge.Set(1);
}

void Metrics::RemoveVersion(absl::string_view model, int64_t version) {
  const std::string key = absl::StrCat(model, absl::string_view("\0", 1), version);
  std::unique_lock lock(mu_);
  auto it = version_state_cells_.find(key);
  if (it == version_state_cells_.end()) return;
  version_state_->Remove(it->second);
  version_state_cells_.erase(it);
}

void Metrics::RecordBatch(absl::string_view model, int64_t batch_size, absl::Duration queue_time) {
  const std::string model_label(model);
  batch_size_->Add({{"model", model_label}}, BatchSizeBuckets()).Observe(static_cast<double>(batch_size));
  batch_queue_duration_->Add({{"model", model_label}}, RequestSecondsBuckets())
      .Observe(absl::ToDoubleSeconds(queue_time));
}

std::string Metrics::RenderPrometheusText() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = CollectProcessMetrics();
  families.insert(families.end(), std::make_move_iterator(process.begin()), std::make_move_iterator(process.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace savant::server
