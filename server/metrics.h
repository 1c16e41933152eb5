// Every metric the server exports, and their Prometheus text exposition. The front ends record one
// call per finished request (RecordRequest), the model manager records loads, warmups and version
// states, and the REST front end serves RenderPrometheusText() at the path named in
// --monitoring_config_file (TensorFlow Serving's prometheus_config, default
// "/monitoring/prometheus/metrics").
//
// Two sets of names are exported side by side:
//   * Savant's own (`savant_` prefix, base units, counters ending in `_total`), with the labels
//     model, version, signature, api, protocol and code;
//   * TensorFlow Serving's, with its names, labels and units, so dashboards written for
//     tensorflow_model_server keep working. TensorFlow Serving turns a metric name such as
//     "/tensorflow/serving/request_count" into ":tensorflow:serving:request_count" (every character
//     outside [a-zA-Z0-9_] becomes ':', see its util/prometheus_exporter.cc).
//
// Process metrics (resident memory, CPU seconds, open file descriptors, start time) are read from
// /proc/self when the page is rendered, with the standard `process_` names.
//
// Sits in server/ next to the front ends; uses prometheus-cpp's registry and text serializer, not
// its HTTP exposer (the REST front end owns the port).
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace savant::server {

// Where TensorFlow Serving serves its Prometheus page when prometheus_config names no path.
inline constexpr char kDefaultPrometheusPath[] = "/monitoring/prometheus/metrics";

// Label sets beyond this many per family are folded into one series whose model label is
// kOverflowModel, so a client sending random model names cannot grow memory without bound.
inline constexpr int kMaxRequestSeries = 4096;
inline constexpr char kOverflowModel[] = "__other__";

// Thread-safe. Recording a label set seen before takes a shared lock on a cache, then updates the
// series; a new label set takes the exclusive lock once.
//
//   Metrics::Global().RecordRequest("half_plus_two", 123, "serving_default", "predict", "grpc",
//                                   absl::StatusCode::kOk, absl::Microseconds(80));
//   std::string page = Metrics::Global().RenderPrometheusText();
class Metrics {
 public:
  // The process-wide instance the server records into.
  static Metrics& Global();

  // A fresh, empty set of metrics (tests; the server uses Global()).
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request. `api` is the method in snake case ("predict", "classify", "regress",
  // "multi_inference", "get_model_metadata", "get_model_status", "kserve_model_infer", ...),
  // `protocol` is "grpc" or "rest". `version` <= 0 means not known (the request failed before a
  // version was chosen) and is exported as an empty label. Updates savant_requests_total and
  // savant_request_duration_seconds; for predict, classify and regress also TensorFlow Serving's
  // :tensorflow:serving:request_count (every status) and :tensorflow:serving:request_latency
  // (successful requests only, in microseconds, as TensorFlow Serving records them).
  void RecordRequest(absl::string_view model, int64_t version, absl::string_view signature, absl::string_view api,
                     absl::string_view protocol, absl::StatusCode code, absl::Duration latency);

  // One load attempt of the version directory `path`, successful or not, and how long it took.
  // Updates savant_model_loads_total, savant_model_load_duration_seconds (successful loads) and
  // TensorFlow's :tensorflow:cc:saved_model:load_attempt_count / load_latency.
  void RecordModelLoad(absl::string_view model, int64_t version, absl::string_view path,
                       const absl::Status& status, absl::Duration latency);

  // The warmup replay of one version (savant_model_warmup_duration_seconds and TensorFlow
  // Serving's :tensorflow:serving:model_warmup_latency, labelled by path and status).
  void RecordWarmup(absl::string_view model, int64_t version, absl::string_view path, const absl::Status& status,
                    absl::Duration latency);

  // The GetModelStatus state of one version ("START", "LOADING", "AVAILABLE", "UNLOADING",
  // "END"): savant_model_version_state{model,version,state} is 1 for the current state only.
  void SetVersionState(absl::string_view model, int64_t version, absl::string_view state);
  // Forgets a version the manager no longer reports.
  void RemoveVersion(absl::string_view model, int64_t version);

  // One batch run by the batching queue (--enable_batching): its size and how long its oldest
  // request waited in the queue.
  void RecordBatch(absl::string_view model, int64_t batch_size, absl::Duration queue_time);

  // The whole registry plus process metrics, in Prometheus text exposition format 0.0.4.
  std::string RenderPrometheusText();

 private:
  struct RequestCells;

  RequestCells& CellsFor(absl::string_view model, int64_t version, absl::string_view signature,
                         absl::string_view api, absl::string_view protocol, absl::StatusCode code);

  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* request_duration_;
  prometheus::Family<prometheus::Counter>* tf_request_count_;
  prometheus::Family<prometheus::Histogram>* tf_request_latency_;

  prometheus::Family<prometheus::Counter>* model_loads_;
  prometheus::Family<prometheus::Histogram>* model_load_duration_;
  prometheus::Family<prometheus::Counter>* tf_load_attempt_count_;
  prometheus::Family<prometheus::Counter>* tf_load_latency_;
  prometheus::Family<prometheus::Histogram>* model_warmup_duration_;
  prometheus::Family<prometheus::Histogram>* tf_warmup_latency_;
  prometheus::Family<prometheus::Gauge>* version_state_;

  prometheus::Family<prometheus::Histogram>* batch_size_;
  prometheus::Family<prometheus::Histogram>* batch_queue_duration_;

  // std::shared_mutex rather than absl::Mutex: Debian's abseil is built with deadlock detection,
  // which takes a process-wide lock on every acquisition (visible in request-path profiles).
  std::shared_mutex mu_;
  // Key: the label values joined by '\0'.
  absl::flat_hash_map<std::string, std::unique_ptr<RequestCells>> request_cells_ ABSL_GUARDED_BY(mu_);
  // (model, version) -> the state series currently set to 1.
  absl::flat_hash_map<std::string, prometheus::Gauge*> version_state_cells_ ABSL_GUARDED_BY(mu_);
};

}  // namespace savant::server
