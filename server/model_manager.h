// The model manager: which versions of which models are served, and the transitions between them.
// It sits between the loader (which turns a version directory into an immutable loader::Model)
// and the request path (server/predict_path.h), and follows TensorFlow Serving's
// AspiredVersionsManager with its AvailabilityPreservingPolicy:
//
//   * the configured models (a ModelConfigList) and their base paths are polled; each poll asks
//     loader::VersionWatcher for the "aspired" versions (the version policy applied to the
//     numeric directories);
//   * a new aspired version is loaded and warmed up on a load thread, and only then published;
//   * a version that is no longer aspired is unpublished only once an aspired version is serving
//     (or no aspired version is left at all), so a model never goes dark because a new version
//     is slow or broken; it is destroyed once the last in-flight request using it has finished;
//   * a version that fails to load is retried, then ends in state END with its error, which
//     GetModelStatus reports, and never disturbs the versions already serving.
//
// Requests never lock: they read an immutable ServingMap through an atomic shared_ptr and keep a
// ref-counted handle to one LoadedVersion for the length of the request.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "loader/model.h"
#include "loader/version_watcher.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace savant::server {

// One loaded version of a model. Immutable; shared by the serving map and in-flight requests.
struct LoadedVersion {
  std::string name;
  int64_t version = 0;
  std::filesystem::path dir;
  std::shared_ptr<const loader::Model> model;
};

// What a request holds while it runs. Never stored beyond the request.
using VersionHandle = std::shared_ptr<const LoadedVersion>;

// Which version a request asks for: the latest, a number, or a label (ModelSpec's version_choice).
struct ModelSelector {
  std::string name;
  std::optional<int64_t> version;
  std::optional<std::string> label;
};

// TensorFlow Serving's ServableRequest text, used in its NOT_FOUND messages: "Latest(m)" or
// "Specific(m, 7)".
std::string ServableRequestString(const std::string& name, std::optional<int64_t> version);

// The states of GetModelStatus (tensorflow.serving.ModelVersionStatus.State).
enum class VersionState { kStart, kLoading, kAvailable, kUnloading, kEnd };
const char* VersionStateName(VersionState state);

struct VersionStatus {
  int64_t version = 0;
  VersionState state = VersionState::kStart;
  // OK, or why the version failed to load (then state is kEnd).
  absl::Status status;
};

// The table requests read: for each model, its AVAILABLE versions and its labels. Immutable once
// published.
struct ServingMap {
  struct Model {
    std::map<int64_t, VersionHandle> versions;
    std::map<std::string, int64_t> labels;
  };
  absl::flat_hash_map<std::string, Model> models;
};

struct ModelManagerOptions {
  // Reads and compiles one version directory. Runs on a load thread; may block for long.
  using LoadFn = std::function<absl::StatusOr<std::shared_ptr<const loader::Model>>(
      const std::string& name, int64_t version, const std::filesystem::path& dir)>;
  // Replays warmup requests against a freshly loaded version before it is published. Optional.
  using WarmupFn = std::function<absl::Status(const LoadedVersion&)>;

  LoadFn load;
  WarmupFn warmup;
  // Versions loading at the same time (--num_load_threads; 0 means 1, loads run one by one).
  int num_load_threads = 1;
  // Attempts after the first failure (--max_num_load_retries) and the pause between attempts.
  int max_load_retries = 5;
  absl::Duration load_retry_interval = absl::Minutes(1);
  // Between polls of the base paths (--file_system_poll_wait_seconds). Zero or negative: the
  // base paths are only read by ApplyConfig().
  absl::Duration poll_interval = absl::Seconds(1);
  // --allow_version_labels_for_unavailable_models.
  bool allow_version_labels_for_unavailable_models = false;
};

// Thread-safe. Find() and snapshot() are lock-free and may be called from any thread at any time;
// lifecycle calls (ApplyConfig, Poll, Shutdown) serialize among themselves.
//
//   ModelManager manager({.load = LoadFromDisk});
//   RETURN_IF_ERROR(manager.ApplyConfig(config.model_config_list()));
//   manager.StartPolling();
//   ASSIGN_OR_RETURN(VersionHandle v, manager.Find({.name = "half_plus_two"}));
class ModelManager {
 public:
  explicit ModelManager(ModelManagerOptions options);
  // Shutdown().
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Makes `config` the set of served models: models not in it are unloaded, new ones added, and
  // every base path is scanned once. Returns once the loads this started have finished (loaded
  // or failed), then installs the version labels. Errors:
  //   INVALID_ARGUMENT     a name listed twice, an empty name, a relative base path, or a
  //                        model_platform other than "tensorflow" (nothing changes)
  //   FAILED_PRECONDITION  a label names a version that is not AVAILABLE (the models are applied,
  //                        the previous labels stay)
  //   UNAVAILABLE          the manager is shutting down
  absl::Status ApplyConfig(const tensorflow::serving::ModelConfigList& config);

  // Scans every configured base path once and starts the loads and unloads that follow. The poll
  // thread calls this; tests call it directly.
  void Poll();

  // Starts the poll thread (every poll_interval; nothing when it is not positive).
  void StartPolling();

  // Blocks until no load is queued or running and every unloading version has been destroyed
  // (so never call it while holding a VersionHandle).
  void WaitUntilIdle();

  // Blocks until every configured model has an AVAILABLE version (OK), or some model has none
  // and no load left that could give it one (UNKNOWN naming each such model and its error, as
  // TensorFlow Serving fails its start), or Shutdown() began (UNAVAILABLE). Models whose base
  // path holds no version yet are waited for, as TensorFlow Serving does.
  absl::Status AwaitModelsAvailable();

  // The first half of Shutdown(), safe while requests still run: stops polling, cancels pending
  // loads and retries, and wakes ApplyConfig / AwaitModelsAvailable (they return UNAVAILABLE).
  // Published versions keep serving. Idempotent.
  void BeginShutdown();

  // BeginShutdown(), then waits for running loads, unpublishes every version and destroys each
  // once its in-flight requests have finished. Call it after the front ends stopped accepting.
  // Idempotent.
  void Shutdown();

  // The handle a request uses. NOT_FOUND "Servable not found for request: Latest(m)" /
  // "Specific(m, 7)" for an unknown model or version (TensorFlow Serving's wording);
  // INVALID_ARGUMENT "Unrecognized servable version label: x" for an unknown label. Lock-free.
  absl::StatusOr<VersionHandle> Find(const ModelSelector& selector) const;

  // The current serving map. Lock-free; hold it only for the length of a request.
  std::shared_ptr<const ServingMap> snapshot() const { return serving_map_.load(); }

  // The status of every version of `name` known to the manager (newest first), or of one version.
  // NOT_FOUND "Could not find any versions of model m" / "Could not find version 7 of model m".
  absl::StatusOr<std::vector<VersionStatus>> GetModelStatus(
      const std::string& name, std::optional<int64_t> version = std::nullopt) const;

  // Names of the configured models, sorted.
  std::vector<std::string> ModelNames() const;

  // True when every configured model has at least one AVAILABLE version.
  bool AllModelsAvailable() const;

 private:
  struct VersionEntry {
    VersionState state = VersionState::kStart;
    absl::Status status;
    std::filesystem::path dir;
    bool aspired = false;
    bool cancel = false;    // a queued or retrying load should give up
    VersionHandle handle;   // set while AVAILABLE
    absl::Time state_since = absl::InfinitePast();
  };
  struct ModelEntry {
    tensorflow::serving::ModelConfig config;
    bool configured = false;
    std::map<int64_t, VersionEntry> versions;
    std::map<std::string, int64_t> labels;
    std::string last_scan_problem;  // logged once per change
  };
  struct LoadTask {
    std::string name;
    int64_t version = 0;
    std::filesystem::path dir;
  };
  struct Retired {
    std::string name;
    int64_t version = 0;
    VersionHandle handle;
    absl::Time since;
  };

  // Scans and reconciles; returns the loads it queued. Caller holds reconcile_mu_.
  std::vector<std::pair<std::string, int64_t>> PollLocked();
  // Unpublishes versions that are no longer aspired, keeping one serving while an aspired version
  // is still on its way (TensorFlow Serving's AvailabilityPreservingPolicy).
  void ApplyAvailabilityPolicy(const std::string& name, ModelEntry& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Retire(const std::string& name, int64_t version, VersionEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoadWorker(std::stop_token stop);
  void RunLoad(std::stop_token stop, const LoadTask& task);
  void ReaperLoop(std::stop_token stop);
  bool IsBusy(const std::string& name, int64_t version) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartThreads();

  const ModelManagerOptions options_;

  // Serializes ApplyConfig, Poll and Shutdown (the base-path scans run under it, not under mu_).
  std::mutex reconcile_mu_;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, ModelEntry> models_ ABSL_GUARDED_BY(mu_);
  std::deque<LoadTask> load_queue_ ABSL_GUARDED_BY(mu_);
  int loads_running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Retired> retired_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<std::shared_ptr<const ServingMap>> serving_map_;

  std::vector<std::jthread> load_threads_;
  std::jthread reaper_thread_;
  std::jthread poll_thread_;
};

}  // namespace savant::server
